"""Note HTML for a page: ```` ```trace ```` blocks filled with heatmaps, links to content rewritten.

Links in notes are written as paths between source files, as in MkDocs (``[see](../about.md)``,
``![fig](img/plot.png)``, ``[run](evals/run1.json)``); they are rewritten to the page-relative URL
of what that source became, so they work wherever the page lands. Links whose URL would run script
(``javascript:``, ``vbscript:``, ``data:`` other than images) are replaced by ``#`` with a warning,
as Hugo's Markdown renderer does: notes often quote model output, and a click must not run it.
"""

from __future__ import annotations

import html
import posixpath
import re
from dataclasses import replace
from typing import TYPE_CHECKING

from markupsafe import Markup, escape

from tracesite.core.config import Config
from tracesite.site.discover import trace_slug
from tracesite.core.errors import NoteError, TraceReadError, TracesiteError
from tracesite.site.notes import Note, TraceEmbed, split_embeds
from tracesite.site.pages import relative

if TYPE_CHECKING:
    from tracesite.build.pipeline import BuildResult
    from tracesite.model.trace import Trace


_LINK = re.compile(r'\b(href|src)="([^"]*)"')
_EXTERNAL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
#: Browsers drop ASCII whitespace and control characters inside a URL's scheme.
_URL_NOISE = re.compile(r"[\x00-\x20\x7f]+")


def script_scheme(url: str, attr: str) -> str | None:
    """The scheme of a URL that would run script when followed (``javascript``...), else None.

    The URL is read as a browser reads the attribute: entities decoded (``&#106;avascript:``),
    whitespace and control characters dropped (``java\tscript:``), case ignored.
    """
    plain = _URL_NOISE.sub("", html.unescape(url)).lower()
    scheme = plain.partition(":")[0] if ":" in plain else ""
    if scheme in ("javascript", "vbscript"):
        return scheme
    if scheme == "data" and not (attr == "src" and plain.startswith("data:image/")):
        return scheme
    return None


def neutralise_script_links(html_text: str) -> tuple[str, list[str]]:
    """Note HTML with every script URL in an ``href``/``src`` replaced by ``#``, and the schemes
    removed (for warnings). For renderers that show a note without :class:`EmbedRenderer`."""
    removed: list[str] = []

    def fix(m: re.Match[str]) -> str:
        scheme = script_scheme(m.group(2), m.group(1))
        if scheme is None:
            return m.group(0)
        removed.append(scheme)
        return f'{m.group(1)}="#"'

    return _LINK.sub(fix, html_text), removed


class EmbedRenderer:
    """Renders embeds for notes; traces read once per build, Bokeh imported only if used."""

    def __init__(self, config: Config, result: BuildResult, urls: dict[str, str]) -> None:
        self.config = config
        self.result = result
        self.urls = urls  # content-relative source path -> site URL it became
        self.loaded: dict[str, list[Trace]] = {}
        try:
            self.content_label = config.build.content_dir.relative_to(config.project).as_posix()
        except ValueError:
            self.content_label = str(config.build.content_dir)

    def fill(self, note: Note, page_url: str) -> Markup:
        html = self._rewrite_links(note, page_url)
        if not note.embeds:
            return Markup(html)
        out: list[str] = []
        for part in split_embeds(html):
            if isinstance(part, str):
                out.append(part)
                continue
            embed = note.embeds[part]
            try:
                out.append(self._render(embed, page_url))
            except TracesiteError as exc:
                err = NoteError(
                    exc.message if isinstance(exc, NoteError) else str(exc),
                    path=f"{self.content_label}/{note.path.as_posix()}",
                    address=str(embed.line),
                )
                self.result.errors.append(err)
                out.append(f'<p class="embed-error">{escape(str(err))}</p>')
        return Markup("".join(out))

    def _rewrite_links(self, note: Note, page_url: str) -> str:
        folder = posixpath.dirname(note.path.as_posix())

        def fix(m: re.Match[str]) -> str:
            attr, target = m.group(1), m.group(2)
            scheme = script_scheme(target, attr)
            if scheme is not None:
                self.result.warnings.append(
                    NoteError(
                        f"link to a {scheme}: URL removed (it would run script when followed)",
                        path=f"{self.content_label}/{note.path.as_posix()}",
                    )
                )
                return f'{attr}="#"'
            path, sep, frag = target.partition("#")
            if not path or _EXTERNAL.match(path) or path.startswith("/") or "?" in path:
                return m.group(0)
            source = posixpath.normpath(posixpath.join(folder, path.replace("&amp;", "&")))
            url = self.urls.get(source)
            if url is None:
                if path.endswith(".md"):
                    self.result.warnings.append(
                        NoteError(
                            f"link to {path!r}: no such page under content/",
                            path=f"{self.content_label}/{note.path.as_posix()}",
                        )
                    )
                return m.group(0)
            return f'{attr}="{escape(relative(page_url, url))}{sep}{escape(frag)}"'

        return _LINK.sub(fix, note.html)

    def _traces(self, embed: TraceEmbed) -> list[Trace]:
        content = self.config.build.content_dir.resolve()
        missing = NoteError(f"trace block: src {embed.src!r} not found under content/")
        if "\x00" in embed.src:  # no file name holds NUL; the OS would refuse to look it up
            raise missing
        try:
            target = (content / embed.src).resolve()
        except (OSError, RuntimeError):  # RuntimeError: a symlink loop (Python 3.11)
            raise missing from None
        if not target.is_relative_to(content):
            raise NoteError(f"trace block: src {embed.src!r} is outside the content folder")
        if not target.is_file():
            raise missing
        key = target.as_posix()
        if key not in self.loaded:
            try:
                from tracesite.formats import load  # here: most builds embed nothing

                self.loaded[key] = load(target)
            except TraceReadError as exc:
                # the trace's own address, with its path as the user sees it (not absolute)
                shown = f"{self.content_label}/{target.relative_to(content).as_posix()}"
                where = ": ".join(x for x in (shown, exc.address) if x)
                raise NoteError(f"trace block: {where}: {exc.message}") from None
        return self.loaded[key]

    def _render(self, embed: TraceEmbed, page_url: str) -> str:
        from tracesite.render.fragments import render_fragments

        traces = self._traces(embed)
        if embed.index >= len(traces):
            raise NoteError(
                f"trace block: index {embed.index} but the file holds {len(traces)} trace(s)"
            )
        trace = traces[embed.index]
        opts = self.config.heatmap
        label = embed.src
        if embed.start is not None and embed.end is not None:
            if embed.start > trace.n_tokens:
                raise NoteError(
                    f"trace block: positions start at {embed.start} "
                    f"but the trace has {trace.n_tokens}"
                )
            trace = trace.slice(embed.start - 1, embed.end)
            opts = replace(opts, position_offset=embed.start - 1)
            label += f", positions {embed.start}–{min(embed.end, embed.start - 1 + trace.n_tokens)}"
        frag = render_fragments(trace, opts)
        slug = trace_slug(embed.src)
        if len(traces) > 1:
            slug = f"{slug}-{embed.index + 1}"
        href = relative(page_url, f"traces/{slug}/index.html")
        return (
            f'<figure class="trace-embed">{frag["div"]}{frag["script"]}'
            f'<figcaption><a href="{escape(href)}">{escape(label)}</a></figcaption></figure>'
        )
