"""The write stage: trace pages, standalone pages, tag pages, the index, the search index.

Pages are assembled from what the render stage cached (heatmap fragments, embeds) and written
atomically; nothing here reads a trace or renders one. A page whose inputs did not change since
the last build (its key in the site record) is kept as it is, not rendered again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import jinja2
from markupsafe import Markup

from tracesite.build.cache import load_entry
from tracesite.build.cachedir import cache_dir_for
from tracesite.build.embeds import Embed
from tracesite.build.emit import PageEmitter, digest_of
from tracesite.build.gallerywrite import (
    ShardsWritten,
    first_sections,
    search_docs,
    write_shards,
)
from tracesite.build.groups import GroupTask, group_fragment
from tracesite.build.indexwrite import META_JS, VIEWER_URL, GalleryIndex
from tracesite.build.sharefiles import ShareFiles
from tracesite.build.spool import PAGE_SIZE
from tracesite.build.static import copy_static
from tracesite.build.writer import SiteWriter
from tracesite.core.config import Config
from tracesite.core.errors import BuildError, Diagnostics, NoteError
from tracesite.core.version import __version__
from tracesite.model.summary import TraceSummary
from tracesite.site.discover import Content
from tracesite.site.gallery import (
    TraceEntry,
    make_trace_page,
    search_index_js,
    sections,
    sitemap_xml,
    tag_counts,
)
from tracesite.site.links import embed_error, embed_figure, fill_embeds, rewrite_links
from tracesite.site.notes import Note
from tracesite.site.pages import (
    ErrorPage,
    GroupPage,
    IndexPage,
    Renderer,
    SiteContext,
    StandalonePage,
    TagPage,
    TagsPage,
)
from tracesite.site.sections import section_problems
from tracesite.site.tagnames import one_spelling_per_tag
from tracesite.site.urls import (
    TAGS_URL,
    relative,
    root_for,
    slugify,
    standalone_url,
    tag_url,
    url_path,
)


@dataclass(frozen=True)
class Written:
    """What the write stage did."""

    n_pages: int
    changed: list[str]  # site paths written (not kept as they were)
    n_traces: int = 0  # traces in the gallery's shards (with pages or not)


class NoteFiller:
    """A note's HTML for the page it lands on: links rewritten, embeds filled from the cache."""

    def __init__(
        self, config: Config, diag: Diagnostics, urls: dict[str, str], embeds: list[Embed]
    ) -> None:
        self.config, self.diag, self.urls = config, diag, urls
        self.cache_dir = cache_dir_for(config.project).path
        self.trace_urls: dict[tuple[str, int], str] = {}  # (file under content/, index): page
        self.embeds: dict[Path, list[Embed]] = {}
        self.figure_blocks: dict[Path, list[Embed]] = {}  # ```figure``` blocks (figblocks.py)
        for e in embeds:
            into = self.embeds if e.spec.figure is None else self.figure_blocks
            into.setdefault(e.note, []).append(e)

    def key(self, note_file: Path) -> str:
        """What the note's embeds add to its page's key: their renders (or errors)."""
        both = self.embeds.get(note_file, []) + self.figure_blocks.get(note_file, [])
        return digest_of([(e.key, str(e.error)) for e in both])

    def fill(self, note: Note, note_file: Path, page_url: str) -> Markup:
        from tracesite.build.figblocks import fill_figure_blocks

        label = self.config.shown(note_file)
        html = rewrite_links(note, page_url, self.urls, self.diag, label)
        figures = [self._figure(e, page_url) for e in self.embeds.get(note_file, [])]
        blocks = self.figure_blocks.get(note_file, [])
        filled = fill_embeds(html, figures)
        return fill_figure_blocks(filled, blocks, page_url, self.cache_dir, self.diag)

    def _figure(self, embed: Embed, page_url: str) -> str:
        if embed.error is not None:
            return embed_error(embed.error)
        try:
            _, fragments = load_entry(self.cache_dir, embed.key)
        except (OSError, ValueError) as exc:  # the cache folder was deleted mid-build
            err = BuildError(
                f"the rendered embed left the cache: {exc}", path=self.config.shown(embed.note)
            )
            self.diag.error(err)
            return embed_error(err)
        target = self.trace_urls.get((embed.spec.src, embed.spec.index))
        return embed_figure(embed.spec, fragments[0], page_url, target)


def _theme_fingerprint(config: Config, site: SiteContext) -> str:
    """Changes when the templates, the site context or the heatmap options change."""
    parts: list[object] = [__version__, site, config.heatmap, config.site]
    for folder in config.build.theme_dirs:
        for f in sorted((folder / "templates").rglob("*")):
            if f.is_file():
                parts.append((f.as_posix(), f.read_bytes()))
    return digest_of(*parts)


def write_site(
    config: Config,
    content: Content,
    notes: dict[Path, Note],
    entries: list[TraceEntry],
    embeds: list[Embed],
    output: Path,
    diag: Diagnostics,
    *,
    clean: bool = False,
    dev: bool = False,
    env: jinja2.Environment | None = None,
    groups: Sequence[GroupTask] = (),
    index: GalleryIndex | None = None,
) -> Written:
    """Write every page of the site into ``output``. ``env``: a Jinja environment of this
    theme kept from an earlier build (the dev server's), so templates are not compiled again."""
    writer = SiteWriter(output, clean=clean, label=config.shown(output))
    _report_content(config, content, diag)
    entries = _one_spelling_per_tag(config, entries, diag)
    assets = copy_static(
        writer,
        config,
        content,
        diag,
        need_bokeh=bool(entries) or bool(embeds) or bool(index and index.tasks),
    )
    site = SiteContext.of(config, assets)
    theme_key = _theme_fingerprint(config, site)
    out = PageEmitter(Renderer(config, site, env), writer, diag, theme_key)
    urls = _source_urls(config, content, entries)
    filler = NoteFiller(config, diag, urls, embeds)
    filler.trace_urls = {(e.source.rel, e.index): e.card.url for e in entries}
    _write_trace_pages(config, entries, out, filler, digest_of(theme_key, sorted(urls.items())))
    _write_standalone(config, content, notes, out, filler, dev)
    n_traces = _write_gallery_pages(config, content, notes, entries, out, filler, index, urls, dev)
    _write_group_pages(groups, entries, out, diag)
    _write_file(out, ".nojekyll", "")
    if config.site.absolute:
        _write_file(
            out,
            "sitemap.xml",
            sitemap_xml(config.site.base_url, [url_path(u) for u in out.pages if u != "404.html"]),
        )
    try:
        writer.finish()
    except BuildError as exc:
        diag.error(exc)
    return Written(n_pages=len(out.pages), changed=list(writer.changed), n_traces=n_traces)


def _write_file(out: PageEmitter, rel: str, data: str) -> None:
    """A file of the site that is not a page; a failed write is an error, the build goes on."""
    try:
        out.writer.write(rel, data)
    except BuildError as exc:
        out.diag.error(exc)


def _report_content(config: Config, content: Content, diag: Diagnostics) -> None:
    """What discovery left out: symlinks under content/ that lead outside it.

    (Reported here, where a build has its sink; :func:`~tracesite.site.discover.discover`
    only collects them.)"""
    for link, target in content.refused:
        diag.warn(
            BuildError(
                f"a symlink to {target}, outside the content folder; left out of the site",
                path=config.shown(link),
            )
        )


def _one_spelling_per_tag(
    config: Config, entries: list[TraceEntry], diag: Diagnostics
) -> list[TraceEntry]:
    entries, respelled = one_spelling_per_tag(entries)
    for r in respelled:
        diag.warn(
            NoteError(
                f"tag {r.tag!r} is shown as {r.kept!r}: tags that differ only in case or "
                f"punctuation share one page (tags/{slugify(r.kept)}/)",
                path=config.shown(r.note) if r.note is not None else "",
            )
        )
    return entries


def _write_gallery_pages(
    config: Config,
    content: Content,
    notes: dict[Path, Note],
    entries: list[TraceEntry],
    out: PageEmitter,
    filler: NoteFiller,
    index: GalleryIndex | None,
    urls: dict[str, str],
    dev: bool,
) -> int:
    """The pages about the whole gallery: the shards (docs/scale.md), tag pages, the tag list,
    the index (with the gallery's introduction, ``content/index.md``, and the first page of
    cards) and the 404 page. Returns the number of traces."""
    by_tag = tag_counts(entries)
    shards = _write_shards(config, content, notes, entries, out, index, urls, dev)
    n_traces = shards.n_traces
    capped = n_traces > config.build.max_pages
    for tag, cards in by_tag.items():
        url = tag_url(tag)
        shown = cards[:PAGE_SIZE] if capped else cards
        out.emit(
            TagPage(
                title=f"Tag: {tag}",
                root=root_for(url),
                url=url,
                kind="tag",
                tag=tag,
                cards=tuple(shown),
                n_total=len(cards),
                more_url=_filtered_index(url, tag) if len(shown) < len(cards) else "",
            ),
            f"tag {tag}",
        )
    tags_rows = tuple((t, relative(TAGS_URL, tag_url(t)), len(c)) for t, c in by_tag.items())
    out.emit(
        TagsPage(title="Tags", root="../", url=TAGS_URL, kind="tags", tags=tags_rows),
        "tags",
    )
    _write_file(out, "assets/search-index.js", search_index_js(entries))
    intro_file = config.build.content_dir / "index.md"
    intro = notes.get(intro_file)
    # the introduction is a note like any other: links rewritten, script URLs removed
    intro_html = filler.fill(intro, intro_file, "index.html") if intro else Markup("")
    out.emit(
        IndexPage(
            title=config.site.title,
            root="",
            url="index.html",
            kind="index",
            description=config.site.description,
            sections=first_sections(shards, sections(shards.first)),
            tags=tuple((t, len(c)) for t, c in by_tag.items()),
            intro_html=intro_html,
            n_traces=n_traces,
            first_cards=tuple(e.card for e in shards.first),
            page_size=PAGE_SIZE,
            meta_js=META_JS,
        ),
        "index",
    )
    out.emit(
        ErrorPage(
            title="Page not found",
            root="",
            url="404.html",
            kind="404",
            base_path=config.site.base_path,
        ),
        "404",
    )
    return n_traces


def _filtered_index(page_url: str, tag: str) -> str:
    """The index filtered by ``tag`` (gallery.js reads ``#tag=``), relative to ``page_url``."""
    return relative(page_url, "index.html") + "#tag=" + quote(tag, safe="")


def _write_shards(
    config: Config,
    content: Content,
    notes: dict[Path, Note],
    entries: list[TraceEntry],
    out: PageEmitter,
    index: GalleryIndex | None,
    urls: dict[str, str],
    dev: bool,
) -> ShardsWritten:
    """The gallery's shards (docs/scale.md) and, when a card leads to it, the viewer page."""
    if index is None:  # no render stage (a caller writing pages only): no shards
        counts: dict[str, int] = {}
        for e in entries:
            counts[e.card.section] = counts.get(e.card.section, 0) + 1
        return ShardsWritten(list(entries[:PAGE_SIZE]), len(entries), counts, False, [])
    docs = search_docs(config, content, notes, urls, dev)
    shards = write_shards(index, entries, docs, lambda rel, data: _write_file(out, rel, data))
    for problem in shards.problems:
        out.diag.error(BuildError(problem))
    if shards.viewer:
        _write_viewer(out, config)
    return shards


def _write_viewer(out: PageEmitter, config: Config) -> None:
    """``view/index.html``, which draws the traces without a page (render.viewer)."""
    from tracesite.render.viewer import render_viewer

    try:
        out.writer.write(VIEWER_URL, render_viewer(out.renderer, config.heatmap))
    except BuildError as exc:
        out.diag.error(exc)


def _source_urls(config: Config, content: Content, entries: list[TraceEntry]) -> dict[str, str]:
    """Where each content file ended up, for rewriting links between notes."""
    urls: dict[str, str] = {rel: rel for _, rel in content.static}
    for _, rel in content.pages:
        urls[rel] = standalone_url(rel)
    for e in entries:
        urls.setdefault(e.source.rel, e.card.url)  # the first trace of a file
        if e.source.note is not None:
            urls.setdefault(
                e.source.note.relative_to(config.build.content_dir).as_posix(), e.card.url
            )
    return urls


def _write_trace_pages(
    config: Config,
    entries: list[TraceEntry],
    out: PageEmitter,
    filler: NoteFiller,
    links_key: str,
) -> None:
    cache_dir = cache_dir_for(config.project).path
    fragments: list[dict[str, str]] = []
    summaries: list[TraceSummary] = []
    loaded_key = ""
    shares = ShareFiles(config, out)  # each page's source copy and preview image (H5)
    for i, e in enumerate(entries):
        prev_e = entries[i - 1] if i > 0 else None
        next_e = entries[i + 1] if i + 1 < len(entries) else None
        # Everything the page is made from, the renders of its note's embeds included.
        key = digest_of(
            links_key,
            e.cache_key,
            e.index,
            e.card,
            e.note,
            filler.key(e.source.note) if e.source.note else "",
            prev_e.card if prev_e else None,
            next_e.card if next_e else None,
        )
        source = config.shown(e.source.path)  # what messages name: "content/x.json"
        key = shares.page_key(e, key)  # with its source's copy (or none)
        if shares.kept(e, key) and out.unchanged(e.card.url, key, source):
            continue
        if e.cache_key != loaded_key:
            try:
                summaries, fragments = load_entry(cache_dir, e.cache_key)
            except (OSError, ValueError) as exc:  # the cache folder was deleted mid-build
                out.diag.error(
                    BuildError(f"the rendered heatmap left the cache: {exc}", path=source)
                )
                continue
            loaded_key = e.cache_key
        frag, summary = fragments[e.index], summaries[e.index]
        url = e.card.url
        note_html = (
            filler.fill(e.note, e.source.note, url) if e.note and e.source.note else Markup("")
        )
        page = make_trace_page(
            e,
            summary,
            frag,
            note_html=note_html,
            low_confidence=config.heatmap.low_confidence,
            previous=prev_e.card if prev_e else None,
            next=next_e.card if next_e else None,
        )
        out.emit(shares.page(page, e, summary, frag, key), source, key)


def _write_standalone(
    config: Config,
    content: Content,
    notes: dict[Path, Note],
    out: PageEmitter,
    filler: NoteFiller,
    dev: bool,
) -> None:
    for path, problem, fatal in section_problems(content.section_files):  # not pages: here
        if problem.path in ("", str(path)):
            problem.path = config.shown(path)
        (out.diag.error if fatal else out.diag.warn)(problem)
    for path, rel in content.pages:
        note = notes.get(path)
        if note is None or (note.draft and not dev):
            continue
        if rel == "index.md":
            continue  # the gallery's introduction
        url = standalone_url(rel)
        out.emit(
            StandalonePage(
                title=note.title or Path(rel).stem,
                root=root_for(url),
                url=url,
                kind="page",
                description=note.description,
                body_html=filler.fill(note, path, url),
                toc_html=Markup(note.toc_html),
                has_heatmap=bool(note.embeds or note.figures),  # figure blocks draw too
            ),
            config.shown(path),
        )


def _write_group_pages(
    groups: Sequence[GroupTask], entries: list[TraceEntry], out: PageEmitter, diag: Diagnostics
) -> None:
    """Each group's page, from the pieces its render task stored (SPEC §16)."""
    cards = {(e.source.rel, e.index): e.card for e in entries}
    for task in groups:
        members = tuple(c for m in task.members if (c := cards.get((m.rel, m.index))))
        # the render (members' keys, URLs, titles, rewards), the cards shown and the theme
        key = digest_of(out.theme_key, task.key, members)
        if out.unchanged(task.url, key, f"group {task.group}"):
            continue  # kept as written, without reading its render or the template
        try:
            frag = group_fragment(task)
        except (OSError, ValueError) as exc:  # the cache folder was deleted mid-build
            diag.error(BuildError(f"the rendered group left the cache: {exc}", path=task.group))
            continue
        fd = frag.get("first_divergence", "None")
        n_total = int(frag.get("n_total") or task.n_total)
        cut = "" if n_total == len(task.members) else f" (the first {len(task.members)} drawn)"
        out.emit(
            GroupPage(
                title=f"Group {task.group}",
                root=root_for(task.url),
                url=task.url,
                kind="group",
                description=f"{n_total} sibling traces{cut}",
                group=task.group,
                n_traces=n_total,
                n_unique=int(frag.get("n_unique") or 0),
                first_divergence=None if fd in ("None", "") else int(fd),
                n_forks=int(frag.get("n_forks") or 0),
                siblings_html=Markup(frag.get("siblings_html", "")),
                tree_html=Markup(frag.get("tree_html", "")),
                forks_html=Markup(frag.get("forks_html", "")),
                figures_html=Markup(frag.get("figures_html", "")),
                cards=members,
            ),
            f"group {task.group}",
            key=key,
        )
