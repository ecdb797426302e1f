"""Fill a note's ```` ```trace ```` blocks with heatmaps (a whole trace or a slice of one)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from markupsafe import Markup, escape

from tracesite.config import Config
from tracesite.discover import trace_slug
from tracesite.errors import NoteError, TracesiteError
from tracesite.formats import load
from tracesite.model import Trace
from tracesite.notes import Note, TraceEmbed, split_embeds
from tracesite.pages import relative

if TYPE_CHECKING:
    from tracesite.build import BuildResult


class EmbedRenderer:
    """Renders embeds for notes; traces read once per build, Bokeh imported only if used."""

    def __init__(self, config: Config, result: BuildResult) -> None:
        self.config = config
        self.result = result
        self.loaded: dict[str, list[Trace]] = {}

    def fill(self, note: Note, page_url: str) -> Markup:
        if not note.embeds:
            return Markup(note.html)
        out: list[str] = []
        for part in split_embeds(note.html):
            if isinstance(part, str):
                out.append(part)
                continue
            embed = note.embeds[part]
            try:
                out.append(self._render(embed, page_url))
            except TracesiteError as exc:
                err = NoteError(
                    exc.message if isinstance(exc, NoteError) else str(exc),
                    path=f"content/{note.path.as_posix()}",
                    address=str(embed.line),
                )
                self.result.errors.append(err)
                out.append(f'<p class="embed-error">{escape(str(err))}</p>')
        return Markup("".join(out))

    def _traces(self, embed: TraceEmbed) -> list[Trace]:
        content = self.config.build.content_dir
        target = (content / embed.src).resolve()
        if not target.is_relative_to(content):
            raise NoteError(f"trace block: src {embed.src!r} is outside the content folder")
        if not target.is_file():
            raise NoteError(f"trace block: src {embed.src!r} not found under content/")
        key = target.as_posix()
        if key not in self.loaded:
            self.loaded[key] = load(target)
        return self.loaded[key]

    def _render(self, embed: TraceEmbed, page_url: str) -> str:
        from tracesite.tracejob import render_fragments

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
