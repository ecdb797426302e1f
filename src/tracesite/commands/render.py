"""``tracesite render FILE``: one trace as one self-contained HTML file (opens with no network).

The file's project (the nearest ``tracesite.toml`` at or above its folder) gives the theme, the
site title and the ``[heatmap]`` options; a note beside the trace (``foo.md`` for ``foo.json``,
paired as the site pairs them) gives the title, description, tags, highlights and the text below
the heatmap. The page itself is :mod:`tracesite.render.page`'s.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from tracesite.build.writer import atomic_write
from tracesite.core.config import Config, project_config
from tracesite.core.errors import BuildError, NoteError, TraceReadError
from tracesite.formats import load
from tracesite.model.align import compared
from tracesite.model.trace import Trace
from tracesite.render.page import single_file_html, trace_page
from tracesite.site.discover import TraceSource, notes_beside, trace_source
from tracesite.site.links import neutralise_script_links
from tracesite.site.notes import Note, read_note


def _source_of(path: Path, config: Config) -> TraceSource:
    """``path`` as the site sees it: inside the project's content folder, exactly what discovery
    makes of it (its URL slug, section and note); elsewhere, a top-level file with its note."""
    resolved = path.resolve()
    content = config.build.content_dir.resolve()
    notes = notes_beside(resolved.parent)  # the site's pairing rule, in both cases
    if config.path is not None and resolved.is_relative_to(content):
        return trace_source(resolved, content, notes)
    return trace_source(resolved, resolved.parent, notes)


def _read_note(path: Path | None) -> Note | None:
    if path is None:
        return None
    try:
        return read_note(path)
    except NoteError as exc:
        raise exc.located(str(path)) from None


def _pick(path: Path, index: int, config: Config) -> tuple[list[Trace], Trace]:
    traces = load(path, config.read)  # a rollout table read as its project's [rollouts] says
    if not 0 <= index < len(traces):
        raise TraceReadError(
            f"no trace at index {index}: the file holds {len(traces)} trace(s)", path=str(path)
        )
    return traces, traces[index]


def render_file(
    path: Path,
    output: Path | None,
    index: int = 0,
    compare: Path | None = None,
    compare_index: int = 0,
) -> Path:
    """Render trace ``index`` of ``path`` to ``output`` (default: beside it, ``.html``); with
    ``compare``, the comparison of that trace (A) with trace ``compare_index`` of ``compare``
    (B)."""
    config = project_config(path.parent)
    traces, trace = _pick(path, index, config)
    if compare is not None:
        _, other = _pick(compare, compare_index, project_config(compare.parent))
        trace = compared(trace, other)
    source = _source_of(path, config)
    note = _read_note(source.note)
    options = config.heatmap
    note_html = ""
    if note is not None:
        options = replace(options, highlights=note.highlights)
        note_html, _ = neutralise_script_links(note.html)  # javascript: links become "#"
    if output is None:
        suffix = "" if len(traces) == 1 else f"-{index + 1}"
        if compare is not None:
            suffix += f"-vs-{compare.stem}"
        output = path.with_name(f"{path.stem}{suffix}.html")
    if compare is not None:
        note, note_html = None, ""  # A's note describes A, not the comparison
        options = replace(options, highlights=())
    page = trace_page(
        trace,
        options,
        source=source,
        n_in_file=len(traces),
        note=note,
        note_html=note_html,
        url=output.name,
    )
    if compare is not None:
        title = f"{path.name} vs {compare.name}"
        page = replace(page, title=title, description=f"A = {path.name}, B = {compare.name}")
    html = single_file_html(page, config)
    try:
        atomic_write(output, html.encode("utf-8"))
    except OSError as exc:
        raise BuildError(f"cannot write: {exc.strerror or exc}", path=str(output)) from None
    return output
