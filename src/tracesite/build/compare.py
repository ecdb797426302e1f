"""```` ```compare ```` blocks (SPEC §16): two gallery traces aligned token by token in a note.

Planned after the trace tasks (both sides must be traces of this build), rendered in the pool,
cached under both sides' cache keys; the note's page fills the block from the cache like a
```` ```trace ```` embed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from tracesite.build.cache import RENDER_KEY, has_entry, store
from tracesite.build.embeds import Embed
from tracesite.core.config import Config
from tracesite.core.errors import NoteError, TracesiteError
from tracesite.core.options import HeatmapOptions, ReadOptions

if TYPE_CHECKING:
    from tracesite.site.gallery import TraceEntry


@dataclass(frozen=True)
class CompareTask:
    a: tuple[Path, str, int]  # path, as shown, index
    b: tuple[Path, str, int]
    options: HeatmapOptions
    read: ReadOptions
    cache_dir: Path
    key: str


def _trace(side: tuple[Path, str, int], read: ReadOptions) -> object:
    from tracesite.formats import read_bytes

    path, rel, index = side
    traces = read_bytes(path.read_bytes(), rel, read)
    if index >= len(traces):
        raise NoteError(f"compare block: index {index} but {rel} holds {len(traces)} trace(s)")
    return traces[index]


def render_compare_task(task: CompareTask) -> str | None:
    """Render one comparison into the cache; the error's text, or None."""
    try:
        from tracesite.model.align import compared
        from tracesite.render.fragments import render_fragments

        c = compared(_trace(task.a, task.read), _trace(task.b, task.read))
        frag = render_fragments(c, task.options)
        fragment = {"div": frag["div"], "script": frag["script"], "positions": "", "n_in_file": "1"}
        store(task.cache_dir, task.key, [], [fragment])
    except TracesiteError as exc:
        return exc.message
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}"
    except Exception as exc:  # a bug: this block fails, the build goes on
        return f"internal error comparing ({type(exc).__name__}: {exc}); please report it"
    return None


def settle_compares(
    embeds: list[Embed],
    entries: Sequence[TraceEntry],
    config: Config,
    cache_dir: Path,
    jobs: int | None,
) -> list[Embed]:
    """The embeds with each compare block's cache key, or its error at the note's line."""
    from tracesite.build.executor import map_in_pool

    keys = {(e.source.path.resolve(), e.index): e.cache_key for e in entries}
    out = list(embeds)
    todo: list[tuple[int, CompareTask]] = []
    for k, e in enumerate(embeds):
        spec = e.spec
        if spec.compare is None or e.error is not None:
            continue
        sides = []
        # its two files as build.embeds resolved them (the one place a block's src is resolved)
        for path, index in zip(e.files, (spec.index, spec.compare_index), strict=True):
            sides.append((path, config.shown(path), index, keys.get((path, index))))
        missing = next((s for s in sides if s[3] is None), None)
        if missing is not None:
            err = NoteError(
                f"compare block: {missing[1]} has no trace {missing[2]} in this build",
                path=config.shown(e.note),
                address=str(spec.line),
            )
            out[k] = replace(e, error=err)
            continue
        h = hashlib.sha256(f"{RENDER_KEY}\0compare\0{config.heatmap!r}".encode())
        for s in sides:
            h.update(f"\0{s[3]}\0{s[2]}".encode())
        a, b = ((s[0], s[1], s[2]) for s in sides)
        task = CompareTask(a, b, config.heatmap, config.read, cache_dir, h.hexdigest())
        out[k] = replace(e, key=task.key)
        if not has_entry(cache_dir, task.key):
            todo.append((k, task))
    for (k, _task), error in zip(
        todo, map_in_pool(render_compare_task, [t for _, t in todo], jobs), strict=True
    ):
        if error is not None:
            e = out[k]
            out[k] = replace(
                e,
                key="",
                error=NoteError(error, path=config.shown(e.note), address=str(e.spec.line)),
            )
    return out
