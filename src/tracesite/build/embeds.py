"""Gathering ```` ```trace ```` blocks: each embed of a note becomes a render task, rendered in
the worker pool and cached like a trace file's pages, so an unchanged embed is not rendered again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from tracesite.build.cachedir import cache_dir_for
from tracesite.build.job import EmbedError, FileResult, Slice, Task
from tracesite.core.config import Config
from tracesite.core.errors import NoteError, TracesiteError
from tracesite.site.links import resolve_embed_src
from tracesite.site.notes import Note, TraceEmbed


@dataclass(frozen=True)
class Embed:
    """One embed of a note: the task that renders it (None when its ``src`` is refused), then
    the cache key of its render once done, or the error its page shows in its place.

    ``files`` are the files it names (``src``, and a compare block's ``b``), resolved once here
    by ``resolve_embed_src`` (the one rule for a block's path); later steps use them and never
    resolve a note's text again. Empty when the block was refused (``error``) or draws gallery
    traces (a figure block selects among the build's traces, never opening a path)."""

    note: Path  # the note's file, as a key of the build's notes
    spec: TraceEmbed  # its placeholder is its place in ``note.embeds``
    task: Task | None = None
    key: str = ""
    error: NoteError | None = None
    files: tuple[Path, ...] = ()


def plan_embeds(notes: dict[Path, Note], config: Config, wanted: set[Path]) -> list[Embed]:
    """The embeds of the notes in ``wanted`` (the pages this build writes), in order."""
    cache_dir = cache_dir_for(config.project).path
    out: list[Embed] = []
    for path, note in notes.items():
        if path not in wanted:
            continue
        for spec in note.embeds:
            try:
                if spec.compare is None:
                    named = [(spec.src, "trace block: src")]
                else:
                    named = [(spec.src, "compare block: a"), (spec.compare, "compare block: b")]
                files = tuple(
                    resolve_embed_src(config.build.content_dir, src, what) for src, what in named
                )
            except NoteError as exc:
                out.append(Embed(path, spec, error=_against(exc, config, path, spec)))
                continue
            target = files[0]
            if spec.compare is not None:  # rendered after the traces (build.compare)
                out.append(Embed(path, spec, files=files))
                continue
            task = Task(
                target,
                config.shown(target),
                config.heatmap,
                cache_dir,
                Slice(spec.index, spec.start, spec.end),
            )
            out.append(Embed(path, spec, task, files=files))
    return out


def settle(embed: Embed, result: FileResult, config: Config) -> Embed:
    """The embed with its render's cache key, or its error addressed to the note's line."""
    if result.error is None:
        return replace(embed, key=result.key)
    exc = result.error
    if isinstance(exc, EmbedError):
        err = NoteError(f"trace block: {exc.message}")
    else:  # the trace file's own error, with its path as the user sees it and its address
        where = ": ".join(x for x in (exc.path, exc.address) if x)
        err = NoteError(f"trace block: {where}: {exc.message}")
    return replace(embed, error=_against(err, config, embed.note, embed.spec))


def _against(exc: TracesiteError, config: Config, note: Path, spec: TraceEmbed) -> NoteError:
    return NoteError(exc.message, path=config.shown(note), address=str(spec.line))
