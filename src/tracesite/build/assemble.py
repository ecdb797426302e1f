"""Writing the site: trace pages, standalone pages, tag pages, the index, the search index.

Pages are rendered from the cached heatmap fragments; a page whose inputs did not change since
the last build (its key in the site record) is kept as it is, not rendered again.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from markupsafe import Markup

from tracesite.core.version import __version__
from tracesite.core.config import Config
from tracesite.site.discover import Content, slugify
from tracesite.site.links import EmbedRenderer
from tracesite.core.errors import BuildError, TracesiteError
from tracesite.site.notes import Note
from tracesite.site.pages import (
    BasePage,
    Card,
    ErrorPage,
    IndexPage,
    Renderer,
    SiteContext,
    StandalonePage,
    TagPage,
    TagsPage,
    TracePage,
    relative,
    root_for,
    url_path,
)
from tracesite.site.gallery import (
    TraceEntry,
    metadata_rows,
    search_index_js,
    sections,
    sitemap_xml,
    stat_rows,
    tag_counts,
    tag_url,
)
from tracesite.build.static import copy_static
from tracesite.build.cache import CACHE_DIR, load_entry
from tracesite.model.summary import TraceSummary
from tracesite.build.writer import SiteWriter

if TYPE_CHECKING:
    from tracesite.build.pipeline import BuildOptions, BuildResult

Emit = Callable[[BasePage, str], None]


class PageEmitter:
    """Renders pages and writes them; template failures become errors against the source."""

    def __init__(
        self, renderer: Renderer, writer: SiteWriter, result: BuildResult, theme_key: str = ""
    ) -> None:
        self.renderer, self.writer, self.result = renderer, writer, result
        self.theme_key = theme_key
        self.pages: list[str] = []

    def unchanged(self, url: str, key: str, source: str) -> bool:
        """True when the page at ``url`` was built from the same inputs and is kept as is."""
        try:
            kept = self.writer.unchanged(url, key, source)
        except BuildError as exc:
            self.result.errors.append(exc)
            return True
        if kept:
            self.pages.append(url)
        return kept

    def emit(self, page: BasePage, source: str, key: str = "") -> None:
        """Render ``page`` and write it. Without a ``key``, the page's own fields (a frozen
        dataclass holding everything it shows) and the theme make one, so a page whose inputs
        did not change since the last build is kept without rendering it again."""
        if not key:
            key = _page_key(self.theme_key, page)
            if self.unchanged(page.url, key, source):
                return
        try:
            html = self.renderer.render(page)
        except TracesiteError as exc:
            self.result.errors.append(exc)
            return
        except Exception as exc:  # a template bug: report it against the template, keep going
            self.result.errors.append(
                BuildError(f"template error: {type(exc).__name__}: {exc}", path=source)
            )
            return
        try:
            self.writer.write(page.url, html, source=source, key=key)
        except BuildError as exc:
            self.result.errors.append(exc)
            return
        self.pages.append(page.url)


def _key(*parts: object) -> str:
    """A digest of small ``parts`` (a card, a note, a path list): their ``repr``."""
    h = hashlib.sha1(usedforsecurity=False)
    for part in parts:
        h.update(repr(part).encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()


def _page_key(theme_key: str, page: BasePage) -> str:
    """A digest of a page, fed field by field: ``repr`` of an index page's 2,000 cards made a
    24 MB peak of intermediate strings, growing with the gallery."""
    h = hashlib.sha1(usedforsecurity=False)
    _feed(h, theme_key)
    _feed(h, page)
    return h.hexdigest()


def _feed(h: Any, value: object) -> None:
    if type(value) is Card:  # small and bounded: one repr is ~10x faster than field by field
        h.update(repr(value).encode("utf-8", "surrogatepass"))
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        h.update(type(value).__name__.encode() + b"{")
        for f in dataclasses.fields(value):
            _feed(h, getattr(value, f.name))
        h.update(b"}")
    elif isinstance(value, tuple | list):
        h.update(b"[")
        for item in value:
            _feed(h, item)
        h.update(b"]")
    elif isinstance(value, dict):
        h.update(b"{")
        for k, v in value.items():
            _feed(h, k)
            _feed(h, v)
        h.update(b"}")
    else:
        h.update(repr(value).encode("utf-8", "surrogatepass"))
        h.update(b"\0")


def _theme_fingerprint(config: Config, site: SiteContext) -> str:
    """Changes when the templates, the site context or the heatmap options change."""
    parts: list[object] = [__version__, site, config.heatmap, config.site]
    for folder in config.build.theme_dirs:
        for f in sorted((folder / "templates").rglob("*")):
            if f.is_file():
                parts.append((f.as_posix(), f.read_bytes()))
    return _key(*parts)


def write_site(
    config: Config,
    content: Content,
    notes: dict[Path, Note],
    entries: list[TraceEntry],
    output: Path,
    opts: BuildOptions,
    result: BuildResult,
    env: jinja2.Environment | None = None,
) -> None:
    """Write every page of the site into ``output``. ``env``: a Jinja environment of this
    theme kept from an earlier build (the dev server's), so templates are not compiled again."""
    writer = SiteWriter(output, clean=opts.clean)
    assets = copy_static(writer, config, content, need_bokeh=bool(entries) or _has_embeds(notes))
    site = SiteContext(
        title=config.site.title,
        description=config.site.description,
        base_url=config.site.base_url,
        version=__version__,
        bokeh_js=assets.bokeh_js,
        heatmap_css=assets.heatmap_css,
        heatmap_js=assets.heatmap_js,
    )
    theme_key = _theme_fingerprint(config, site)
    out = PageEmitter(Renderer(config, site, env), writer, result, theme_key)
    emit = out.emit
    urls = _source_urls(config, content, entries)
    embedder = EmbedRenderer(config, result, urls)
    _write_trace_pages(config, entries, out, embedder, _key(theme_key, sorted(urls.items())))
    _write_standalone(config, content, notes, emit, embedder, opts)
    by_tag = tag_counts(entries)
    for tag, cards in by_tag.items():
        url = tag_url(tag)
        emit(
            TagPage(
                title=f"Tag: {tag}",
                root=root_for(url),
                url=url,
                kind="tag",
                tag=tag,
                cards=tuple(cards),
            ),
            f"tag {tag}",
        )
    tags_rows = tuple(
        (t, relative("tags/index.html", tag_url(t)), len(c)) for t, c in by_tag.items()
    )
    emit(
        TagsPage(title="Tags", root="../", url="tags/index.html", kind="tags", tags=tags_rows),
        "tags",
    )
    writer.write("assets/search-index.js", search_index_js(entries))
    intro = notes.get(config.build.content_dir / "index.md")
    emit(
        IndexPage(
            title=config.site.title,
            root="",
            url="index.html",
            kind="index",
            description=config.site.description,
            sections=sections(entries),
            tags=tuple((t, len(c)) for t, c in by_tag.items()),
            intro_html=Markup(intro.html) if intro else Markup(""),
            n_traces=len(entries),
        ),
        "index",
    )
    emit(
        ErrorPage(
            title="Page not found",
            root="",
            url="404.html",
            kind="404",
            base_path=config.site.base_path,
        ),
        "404",
    )
    writer.write(".nojekyll", "")
    if config.site.absolute:
        writer.write(
            "sitemap.xml",
            sitemap_xml(config.site.base_url, [url_path(u) for u in out.pages if u != "404.html"]),
        )
    writer.finish()
    result.n_pages = len(out.pages)
    result.changed = list(writer.changed)


def _standalone_url(rel: str) -> str:
    """``about.md`` -> ``about/index.html``; ``guides/Setup.md`` -> ``guides/setup/index.html``."""
    return "/".join(slugify(p) for p in Path(rel[:-3]).parts) + "/index.html"


def _source_urls(config: Config, content: Content, entries: list[TraceEntry]) -> dict[str, str]:
    """Where each content file ended up, for rewriting links between notes."""
    urls: dict[str, str] = {rel: rel for _, rel in content.static}
    for _, rel in content.pages:
        urls[rel] = "index.html" if rel == "index.md" else _standalone_url(rel)
    for e in entries:
        urls.setdefault(e.source.rel, e.card.url)  # the first trace of a file
        if e.source.note is not None:
            urls.setdefault(
                e.source.note.relative_to(config.build.content_dir).as_posix(), e.card.url
            )
    return urls


def _has_embeds(notes: dict[Path, Note]) -> bool:
    return any(n.embeds for n in notes.values())


def _write_trace_pages(
    config: Config,
    entries: list[TraceEntry],
    out: PageEmitter,
    embedder: EmbedRenderer,
    links_key: str,
) -> None:
    cache_dir = config.project / CACHE_DIR
    fragments: list[dict[str, str]] = []
    summaries: list[TraceSummary] = []
    loaded_key = ""
    for i, e in enumerate(entries):
        prev_e = entries[i - 1] if i > 0 else None
        next_e = entries[i + 1] if i + 1 < len(entries) else None
        # Everything the page is made from; embeds depend on other files, so never skipped.
        key = _key(
            links_key,
            e.cache_key,
            e.index,
            e.card,
            e.note,
            prev_e.card if prev_e else None,
            next_e.card if next_e else None,
        )
        if not (e.note and e.note.embeds) and out.unchanged(e.card.url, key, e.source.rel):
            continue
        if e.cache_key != loaded_key:
            try:
                summaries, fragments = load_entry(cache_dir, e.cache_key)
            except (OSError, ValueError) as exc:  # the cache folder was deleted mid-build
                out.result.errors.append(
                    BuildError(f"the rendered heatmap left the cache: {exc}", path=e.source.rel)
                )
                continue
            loaded_key = e.cache_key
        frag, summary = fragments[e.index], summaries[e.index]
        url = e.card.url
        marks = [
            (h.label or f"positions {h.start}–{h.end}", f"#pos-{h.start}")
            for h in (e.note.highlights if e.note else ())
        ]
        marks += [
            (f"p < {config.heatmap.low_confidence:g} at {p}", f"#pos-{p}")
            for p in summary.low_confidence
        ]
        hidden = summary.n_low_confidence - len(summary.low_confidence)
        if hidden > 0:  # the heatmap marks them all; the list names the lowest
            marks.append((f"… and {hidden} more with p < {config.heatmap.low_confidence:g}", "#"))
        note_html = embedder.fill(e.note, url) if e.note else Markup("")
        out.emit(
            TracePage(
                title=e.card.title,
                root=root_for(url),
                url=url,
                kind="trace",
                description=e.card.description,
                card=e.card,
                heatmap_script=Markup(frag["script"]),
                heatmap_div=Markup(frag["div"]),
                text_view=Markup(frag["text_view"]),
                stats=stat_rows(summary, config.heatmap.low_confidence),
                metadata=metadata_rows(e, summary),
                note_html=note_html,
                toc_html=Markup(e.note.toc_html) if e.note else Markup(""),
                previous=prev_e.card if prev_e else None,
                next=next_e.card if next_e else None,
                marks=tuple(marks),
                index_in_file=e.index,
            ),
            e.source.rel,
            key,
        )


def _write_standalone(
    config: Config,
    content: Content,
    notes: dict[Path, Note],
    emit: Emit,
    embedder: EmbedRenderer,
    opts: BuildOptions,
) -> None:
    for path, rel in content.pages:
        note = notes.get(path)
        if note is None or (note.draft and not opts.dev):
            continue
        if rel == "index.md":
            continue  # the gallery's introduction
        url = _standalone_url(rel)
        emit(
            StandalonePage(
                title=note.title or Path(rel).stem,
                root=root_for(url),
                url=url,
                kind="page",
                description=note.description,
                body_html=embedder.fill(note, url),
                toc_html=Markup(note.toc_html),
                has_heatmap=bool(note.embeds),
            ),
            rel,
        )
