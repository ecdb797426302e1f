"""``tracesite render FILE``: one trace as one self-contained HTML file.

BokehJS and the heatmap's JS/CSS are inlined, so the file opens from ``file://`` (mail, chat, a
USB stick) with no network at all. A note beside the trace (``foo.md`` for ``foo.json``) gives the
title, the description, the highlights and the text below the heatmap.
"""

from __future__ import annotations

import math
from dataclasses import replace
from html import escape
from pathlib import Path

from tracesite.core.errors import BuildError, NoteError, TraceReadError
from tracesite.core.options import HeatmapOptions
from tracesite.model.trace import Trace
from tracesite.render.textview import render_marks, render_text_view

_PAGE_CSS = """
:root { color-scheme: light dark; }
body { margin: 0; color: #1f2328; background: #fff;
  font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; }
@media (prefers-color-scheme: dark) {
  body { color: #e6edf3; background: #0d1117; } a { color: #58a6ff; } }
main { max-width: 1500px; margin: 0 auto; padding: 16px 24px 40px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 1.6em 0 0.5em; }
.ts-meta { color: #6e7781; margin: 0 0 14px; }
.ts-meta span + span::before { content: " · "; }
.ts-layout { display: grid; grid-template-columns: minmax(0, 1fr) 230px; gap: 20px;
  align-items: start; }
@media (max-width: 900px) { .ts-layout { grid-template-columns: minmax(0, 1fr); } }
.ts-stats { border-collapse: collapse; font-size: 13px; }
.ts-stats th { text-align: left; font-weight: normal; color: #6e7781; padding: 1px 10px 1px 0; }
.ts-stats td { text-align: right; font-variant-numeric: tabular-nums; }
.ts-note { max-width: 48em; }
footer { margin-top: 32px; color: #6e7781; font-size: 12px; }
"""


def _inline_script(code: bytes) -> str:
    """JS for an inline ``<script>``: ``</script`` must not appear (it ends the element)."""
    text = code.decode("utf-8")
    return text.replace("</script", "<\\/script").replace("<!--", "<\\!--")


def _stats_table(trace: Trace) -> str:
    s = trace.stats

    def num(x: float | None, fmt: str) -> str:
        return "–" if x is None or not math.isfinite(x) else format(x, fmt)

    rows = [
        ("tokens", f"{s.n_tokens:,}"),
        ("top-k", str(s.top_k)),
        ("mean p", num(s.mean_prob, ".3f")),
        ("perplexity", num(s.perplexity, ".3f")),
        ("min p", num(s.min_prob, ".3g")),
        ("p not given", f"{s.n_unknown:,}"),
        ("outside top-k", f"{s.n_outside_top_k:,}"),
    ]
    body = "".join(f'<tr><th scope="row">{k}</th><td>{v}</td></tr>' for k, v in rows)
    return f'<table class="ts-stats">{body}</table>'


def standalone_page(
    trace: Trace,
    options: HeatmapOptions,
    *,
    title: str,
    description: str = "",
    note_html: str = "",
    compact: bool = False,
) -> str:
    """A complete HTML document for one trace with everything inlined (no network needed).

    ``compact`` leaves out the text view, the note and the footer (for notebook output).
    """
    from tracesite.build.static import bokeh_js_files, bokeh_version
    from tracesite.render.heatmap import heatmap_assets, render_heatmap

    script, div = render_heatmap(trace, options)
    assets = heatmap_assets()
    css = "".join(data.decode("utf-8") for name, data in assets if name.endswith(".css"))
    scripts = [data for _, data in bokeh_js_files()] + [d for n, d in assets if n.endswith(".js")]
    head_js = "".join(f"<script>{_inline_script(code)}</script>\n" for code in scripts)
    meta = [trace.meta.model, trace.meta.created, f"{trace.n_tokens:,} tokens", trace.meta.format]
    meta_html = "".join(f"<span>{escape(m)}</span>" for m in meta if m)
    marks, stats = render_marks(trace, options), _stats_table(trace)
    side = f'<aside class="ts-side">{marks}<h3>Statistics</h3>{stats}</aside>'
    parts = [
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title>",
        '<meta name="generator" content="tracesite">',
        f"<style>{_PAGE_CSS}{css}</style>\n{head_js}</head><body><main>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="ts-meta">{meta_html}</p>',
    ]
    if description:
        parts.append(f"<p>{escape(description)}</p>")
    parts.append(
        f'<div class="ts-layout"><section class="ts-heatmap">{div}{script}</section>{side}</div>'
    )
    if not compact:
        parts.append(f"<h2>Generated text</h2>{render_text_view(trace, options)}")
        if note_html:
            parts.append(f'<h2>Note</h2><div class="ts-note">{note_html}</div>')
        parts.append(
            f"<footer>Rendered by tracesite with Bokeh {escape(bokeh_version())}; "
            "works offline: everything is in this one file.</footer>"
        )
    parts.append("</main></body></html>\n")
    return "".join(parts)


def render_file(path: Path, output: Path | None, index: int = 0) -> Path:
    """Render trace ``index`` of ``path`` to ``output`` (default: beside it, ``.html``)."""
    from tracesite.build.writer import atomic_write
    from tracesite.formats import load

    traces = load(path)
    if not 0 <= index < len(traces):
        raise TraceReadError(
            f"no trace at index {index}: the file holds {len(traces)} trace(s)", path=str(path)
        )
    trace = traces[index]
    options = HeatmapOptions()
    title = path.stem if len(traces) == 1 else f"{path.stem} #{index + 1}"
    description = note_html = ""
    note_path = path.with_suffix(".md")
    if note_path.is_file():
        from tracesite.site.notes import read_note

        try:
            note = read_note(note_path)
        except NoteError as exc:
            raise exc.located(str(note_path)) from None
        title = note.title or title
        description = note.description
        from tracesite.site.links import neutralise_script_links

        note_html, _ = neutralise_script_links(note.html)  # javascript: links become "#"
        options = replace(options, highlights=note.highlights)
    if output is None:
        suffix = "" if len(traces) == 1 else f"-{index + 1}"
        output = path.with_name(f"{path.stem}{suffix}.html")
    page = standalone_page(
        trace, options, title=title, description=description, note_html=note_html
    )
    try:
        atomic_write(output, page.encode("utf-8"))
    except OSError as exc:
        raise BuildError(f"cannot write: {exc.strerror or exc}", path=str(output)) from None
    return output
