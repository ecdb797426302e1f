"""The trace heatmap: a Bokeh figure drawn a viewport at a time by ``static/heatmap/heatmap.js``.

This is the only module that imports Bokeh, and it does so inside functions (the import alone
costs ~0.5 s). The embed carries one data source per trace (see :mod:`tracesite.heatmap_data`) and
a handful of empty drawing sources; the browser code fills the drawing sources with the rows near
the viewport whenever the y range moves, builds tooltips with ``textContent`` and draws the
overview strip. Pages must load BokehJS (:func:`bokeh_js_files`) and the heatmap assets
(:func:`heatmap_assets`) before or after the embed script; the browser code queues either way.
"""

from __future__ import annotations

import html
import importlib
import re
import uuid
from dataclasses import dataclass, fields, replace
from functools import cache
from pathlib import Path
from typing import Any

from tracesite.heatmap_data import COLUMN_NAMES, UNIT_PX, layout_for, pack_trace
from tracesite.model import Trace
from tracesite.options import COLOR_MODES, HeatmapOptions

#: Colour-bar titles per mode; the browser code switches them with the mode.
MODE_TITLES = {
    "probability": "Probability",
    "entropy": "Entropy (bits, lower bound)",
    "surprisal": "Surprisal (bits)",
}
_ASSET_DIR = ("default", "static", "heatmap")
_FONT = "Helvetica, Arial, sans-serif"
_RED = "#d0021b"  # the chosen path's outline, as in the seed figure


def _asset_dir() -> Path:
    from tracesite.config import builtin_themes_dir

    return builtin_themes_dir().joinpath(*_ASSET_DIR)


def heatmap_assets() -> list[tuple[str, bytes]]:
    """The heatmap's own CSS and JS (besides BokehJS), as (file name, bytes), CSS first.

    The site build copies them with the theme's static files (``assets/theme/heatmap/``);
    ``tracesite render`` inlines them.
    """
    folder = _asset_dir()
    names = sorted(p.name for p in folder.iterdir() if p.suffix in (".css", ".js"))
    names.sort(key=lambda n: not n.endswith(".css"))
    return [(name, (folder / name).read_bytes()) for name in names]


def bokeh_version() -> str:
    """The installed Bokeh version; the site copies BokehJS into ``assets/bokeh-<version>/``."""
    import bokeh

    return str(bokeh.__version__)


def bokeh_js_files() -> list[tuple[str, bytes]]:
    """The BokehJS files a heatmap embed needs, in load order (no widgets, tables or GL)."""
    from bokeh.resources import INLINE

    js_dir = Path(INLINE.base_dir) if hasattr(INLINE, "base_dir") else None
    if js_dir is None or not (js_dir / "bokeh.min.js").is_file():
        import bokeh

        js_dir = Path(bokeh.__file__).parent / "server" / "static" / "js"
    return [("bokeh.min.js", (js_dir / "bokeh.min.js").read_bytes())]


def _color_bar_ticks(mode: str) -> list[float]:
    return [round(i * 0.2, 1) for i in range(6)] if mode == "probability" else [0.0]


def _figure(data_columns: dict[str, list[Any]], *, columns: int, mode: str, frame_px: int) -> Any:
    """The Bokeh document root for one trace; the browser code does the drawing.

    ``data_columns`` are the trace's data source columns (each a one-item list), or placeholders
    when building the template of :func:`_template`.
    """
    # Bokeh's own annotations are partial (mypy cannot see ColorBar): use the modules untyped.
    bm: Any = importlib.import_module("bokeh.models")
    from bokeh.core.properties import value
    from bokeh.document import Document

    font = value(_FONT)
    data = bm.ColumnDataSource(data_columns)

    def empty(*names: str) -> Any:
        return bm.ColumnDataSource({n: [] for n in names})

    cells = empty("x", "y", "t", "pt", "v", "tc", "la", "fs", "i", "k")
    unknown = empty("x", "y")
    nums = empty("x", "y", "t", "nc", "nf")
    flags = empty("x", "y")
    bands = empty("x", "y", "w", "lx", "t")
    target = empty("x", "y", "h")

    # flipped: y grows downwards, row 0 on top; the browser code sets the span from frame_px
    y_range = bm.Range1d(start=frame_px / UNIT_PX, end=0)
    plot = bm.Plot(
        x_range=bm.Range1d(start=0, end=columns),
        y_range=y_range,
        frame_height=frame_px,
        sizing_mode="stretch_width",
        min_border_left=4,
        min_border_right=8,
        min_border_top=4,
        min_border_bottom=4,
        outline_line_color=None,
        background_fill_color=None,
        border_fill_color=None,
        toolbar_location=None,
        title=None,
    )
    # All text is drawn by LabelSet annotations, not Text glyphs: BokehJS measures every label of
    # a Text glyph six times on each data change (once per selection/hover/... variant), which
    # made a scroll step cost ~400 ms; a LabelSet draws its labels once per paint.
    mapper = bm.LinearColorMapper(
        palette=["#f7fcf5", "#00441b"], low=0, high=1, nan_color="#e4e4e4"
    )
    plot.add_glyph(
        bands,
        bm.Rect(
            x="x",
            y="y",
            width="w",
            height=0.34,
            fill_color="#f7c873",  # opaque: its label stays readable on dark pages too
            line_color=None,
        ),
    )
    plot.add_layout(
        bm.LabelSet(
            source=bands,
            x="lx",
            y="y",
            text="t",
            text_align="left",
            text_baseline="middle",
            text_font_size="10px",
            text_font=font,
            text_color="#5c3b00",
        )
    )
    cell_renderer = plot.add_glyph(
        cells,
        bm.Rect(
            x="x",
            y="y",
            width=0.94,
            height=0.92,
            fill_color={"field": "v", "transform": mapper},
            line_color=_RED,
            line_width=2.2,
            line_alpha="la",
        ),
    )
    # Cells whose p was not given: hatched by a renderer of their own. A per-cell hatch_pattern
    # column makes BokehJS build a pattern canvas per cell on every redraw (seconds per scroll).
    plot.add_glyph(
        unknown,
        bm.Rect(
            x="x",
            y="y",
            width=0.94,
            height=0.92,
            fill_color=None,
            line_color=None,
            hatch_pattern="/",
            hatch_color="#8a8a8a",
            hatch_alpha=0.7,
            hatch_scale=7,
        ),
    )
    plot.add_layout(
        bm.LabelSet(
            source=cells,
            x="x",
            y="y",
            y_offset=6,
            text="t",
            text_align="center",
            text_baseline="middle",
            text_font_size="12px",
            text_font=font,
            text_color="tc",
            text_font_style="fs",
        )
    )
    plot.add_layout(
        bm.LabelSet(
            source=cells,
            x="x",
            y="y",
            y_offset=-8,
            text="pt",
            text_align="center",
            text_baseline="middle",
            text_font_size="10px",
            text_font=font,
            text_color="tc",
            text_alpha=0.9,
        )
    )
    plot.add_layout(
        bm.LabelSet(
            source=nums,
            x="x",
            y="y",
            text="t",
            text_align="center",
            text_baseline="middle",
            text_font_size="10px",
            text_font=font,
            text_color="nc",
            text_font_style="nf",
        )
    )
    plot.add_glyph(
        flags,
        bm.Scatter(
            x="x",
            y="y",
            marker="inverted_triangle",
            size=9,
            fill_color="#f08c00",
            line_color="#ffffff",
            line_width=1,
        ),
    )
    plot.add_glyph(
        target,
        bm.Rect(
            x="x",
            y="y",
            width=1.0,
            height="h",
            fill_color="#1f6feb",
            fill_alpha=0.08,
            line_color="#1f6feb",
            line_width=3,
        ),
    )
    bar = bm.ColorBar(
        color_mapper=mapper,
        title=MODE_TITLES[mode],
        ticker=bm.FixedTicker(ticks=_color_bar_ticks(mode)),
        formatter=bm.PrintfTickFormatter(format="%.1f"),
        width=14,
        padding=6,
        title_text_font_size="11px",
        title_text_font_style="normal",
        title_text_color="#777777",
        major_label_text_font_size="10px",
        major_label_text_color="#777777",
        major_tick_line_color=None,
        bar_line_color=None,
        background_fill_color=None,
    )
    plot.add_layout(bar, "right")
    hover = bm.HoverTool(
        renderers=[cell_renderer],
        tooltips=None,
        callback=bm.CustomJS(code="TracesiteHeatmap.hover(cb_obj,cb_data)"),
    )
    pan = bm.PanTool(dimensions="height")
    plot.toolbar = bm.Toolbar(tools=[pan, hover], active_drag=pan)
    y_range.js_on_change("start", bm.CustomJS(code="TracesiteHeatmap.moved(cb_obj)"))
    doc = Document()
    doc.add_root(plot)
    models = dict(
        plot=plot,
        data=data,
        cells=cells,
        unknown=unknown,
        nums=nums,
        flags=flags,
        bands=bands,
        target=target,
        mapper=mapper,
        bar=bar,
        hover=hover,
        yr=y_range,
    )
    doc.js_on_event(
        "document_ready",
        bm.CustomJS(
            args=models,
            code=(
                "(window.__tsh_q=window.__tsh_q||[]).push({"
                + ",".join(models)
                + "});window.TracesiteHeatmap&&TracesiteHeatmap.drain()"
            ),
        ),
    )
    return plot


def _mode_select(current: str) -> str:
    opts = "".join(
        f'<option value="{m}"{" selected" if m == current else ""}>{m}</option>'
        for m in COLOR_MODES
    )
    return (
        f'<label class="tsh-mode-label">Colour by <select class="tsh-mode">{opts}</select></label>'
    )


_LEGEND = (
    '<span class="tsh-legend" aria-hidden="true">'
    '<span class="tsh-key tsh-key-chosen"></span>chosen token'
    '<span class="tsh-key tsh-key-unknown"></span>p not given'
    '<span class="tsh-key tsh-key-low"></span>low confidence'
    '<span class="tsh-key tsh-key-hl"></span>highlight</span>'
)


def _wrap(div: str, trace: Trace, options: HeatmapOptions, uid: str) -> str:
    """Our container around Bokeh's div: controls, overview strip and tooltip (all escaped)."""
    lay = layout_for(trace, options)
    first = options.position_offset + 1
    last = options.position_offset + trace.n_tokens
    label = html.escape(
        f"Token heatmap, positions {first}–{last}; hover a cell for its alternatives", quote=True
    )
    overview = (
        f'<canvas class="tsh-overview" height="{lay.view_px}" role="scrollbar" '
        f'aria-controls="{uid}" aria-orientation="vertical" aria-valuemin="0" '
        f'aria-valuemax="100" aria-valuenow="0" style="height:{lay.view_px}px;margin-top:4px" '
        f'aria-label="Overview of the whole trace; click to jump"></canvas>'
        if lay.scrolls
        else ""
    )
    return (
        f'<div class="tsh" id="{uid}" tabindex="0" aria-label="{label}" data-n="{trace.n_tokens}">'
        f'<div class="tsh-bar">{_mode_select(options.color_by)}{_LEGEND}'
        '<span class="tsh-where"></span></div>'
        f'<div class="tsh-main"><div class="tsh-plot" style="min-height:{lay.view_px + 8}px">'
        f"{div}</div>"
        f"{overview}</div>"
        '<div class="tsh-tip" role="tooltip" hidden></div></div>'
    )


# Placeholders of the document template: a frame height no trace has (the y range's start is
# derived from it) and one string per data column.
_FRAME_SENTINEL = UNIT_PX * 333331
_FRAME_RE = re.compile(r'"frame_height":9999930\b')
_START_RE = re.compile(r'"start":333331(?:\.0)?\b')
_ID_RE = re.compile(r'"(p\d+)"')
_WAIT_FOR_DOM = '  if (document.readyState != "loading") fn();\n'


def _placeholder(name: str) -> str:
    return f"@@tsh:{name}@@"


@dataclass(frozen=True)
class _Template:
    """``components()`` output of a heatmap with placeholders for everything per trace."""

    script: str
    div: str


def _js_json(obj: Any) -> str:
    """JSON escaped the way ``bokeh.embed`` escapes its document inside the embed script."""
    from bokeh.core.json_encoder import serialize_json

    text = serialize_json(obj)
    return html.escape(text, quote=False).replace("'", "&#x27;").replace("\\", "\\\\")


@cache
def _template(columns: int, mode: str) -> _Template:
    """Build the Bokeh models once per (columns, mode); only data and sizes vary per trace.

    Building ~60 models and serialising them costs ~200 ms, so a 1,000-trace gallery would spend
    minutes here; the template is filled in ~1 ms. ``tests/test_heatmap.py`` checks the result
    equals ``components()`` of the same figure built directly.
    """
    from bokeh.embed import components

    placeholders = {k: [_placeholder(k)] for k in COLUMN_NAMES}
    plot = _figure(placeholders, columns=columns, mode=mode, frame_px=_FRAME_SENTINEL)
    script, div = components(plot)
    docid = re.search(r'"docid":"([^"]+)"', script)
    elementid = re.search(r'<div id="([^"]+)"', div)
    if not (docid and elementid and _FRAME_RE.search(script) and _START_RE.search(script)):
        raise RuntimeError("unexpected bokeh.embed.components() output; cannot build the template")
    # Bokeh's script waits for DOMContentLoaded, i.e. for the whole page to be parsed (50,000
    # text-view spans take ~0.5 s); our div always comes before the script, so start at once
    # when it is there and only otherwise wait.
    if script.count(_WAIT_FOR_DOM) != 1:
        raise RuntimeError("unexpected bokeh.embed.components() script; cannot build the template")
    present = f'document.getElementById("{elementid.group(1)}")'
    script = script.replace(
        _WAIT_FOR_DOM, f'  if (document.readyState != "loading" || {present}) fn();\n'
    )
    out = []
    for text in (script, div):
        text = text.replace(docid.group(1), "@@tsh:docid@@")
        text = text.replace(elementid.group(1), "@@tsh:elementid@@")
        text = _ID_RE.sub(r'"@@tsh:idp@@\1"', text)  # model ids unique per embed
        text = text.replace('data-root-id="p', 'data-root-id="@@tsh:idp@@p')
        out.append(text)
    return _Template(script=out[0], div=out[1])


def _fill(template: _Template, columns: dict[str, Any], frame_px: int, uid: str) -> tuple[str, str]:
    from bokeh.core.serialization import Serializer

    encode = Serializer(deferred=False).encode
    ids = {"idp": uid[4:], "docid": str(uuid.uuid4()), "elementid": str(uuid.uuid4())}
    script, div = template.script, template.div
    for key, new in ids.items():  # ids first: trace text cannot contain a placeholder by then
        script = script.replace(f"@@tsh:{key}@@", new)
        div = div.replace(f"@@tsh:{key}@@", new)
    script = _FRAME_RE.sub(f'"frame_height":{frame_px}', script, count=1)
    script = _START_RE.sub(f'"start":{frame_px / UNIT_PX!r}', script, count=1)
    for name in COLUMN_NAMES:  # in document order; cfg (user text) last
        script = script.replace(f'"{_placeholder(name)}"', _js_json(encode(columns[name])), 1)
    return script, div


def _new_uid() -> str:
    """``tsh-`` and 10 random hex digits: the container id; its tail prefixes Bokeh model ids."""
    return f"tsh-{uuid.uuid4().hex[:10]}"


def render_heatmap(trace: Trace, options: HeatmapOptions) -> tuple[str, str]:
    """The heatmap of one trace as ``(script, div)`` for a page (``bokeh.embed.components``).

    The page must also load BokehJS (:func:`bokeh_js_files`) and :func:`heatmap_assets`.
    """
    uid = _new_uid()
    lay = layout_for(trace, options)
    columns = pack_trace(trace, options, uid)
    script, div = _fill(_template(lay.columns, options.color_by), columns, lay.view_px, uid)
    return script, _wrap(div, trace, options, uid)


def render_heatmap_direct(trace: Trace, options: HeatmapOptions) -> tuple[str, str]:
    """:func:`render_heatmap` without the template: slow; the reference the template is tested
    against."""
    from bokeh.embed import components

    uid = _new_uid()
    lay = layout_for(trace, options)
    data = {k: [v] for k, v in pack_trace(trace, options, uid).items()}
    plot = _figure(data, columns=lay.columns, mode=options.color_by, frame_px=lay.view_px)
    script, div = components(plot)
    return script, _wrap(div, trace, options, uid)


@dataclass(frozen=True)
class HeatmapView:
    """A rendered heatmap for Jupyter: ``_repr_html_`` is a self-contained ``<iframe srcdoc>``."""

    page: str  # the standalone HTML document (BokehJS inlined)
    height: int

    def _repr_html_(self) -> str:
        return (
            f'<iframe srcdoc="{html.escape(self.page, quote=True)}" '
            f'style="width:100%;height:{self.height}px;border:0" '
            'title="tracesite heatmap"></iframe>'
        )

    def save(self, path: str | Path) -> Path:
        """Write the standalone page to ``path`` (opens from file:// with no network)."""
        target = Path(path)
        target.write_text(self.page, encoding="utf-8")
        return target


def show_trace(trace: Trace, **options: Any) -> HeatmapView | None:
    """Display a trace's heatmap in Jupyter; outside IPython, return the view (``.save(path)``).

    ``options`` are :class:`HeatmapOptions` fields (``columns=30``, ``color_by="entropy"``...).
    """
    from tracesite.render import standalone_page

    known = {f.name for f in fields(HeatmapOptions)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise TypeError(
            f"unknown heatmap option(s): {', '.join(unknown)}; expected {sorted(known)}"
        )
    opts = replace(HeatmapOptions(), **options)
    page = standalone_page(trace, opts, title=trace.meta.source or "trace", compact=True)
    view = HeatmapView(page=page, height=layout_for(trace, opts).view_px + 140)
    shell = _ipython_shell()
    if shell is None:
        return view
    importlib.import_module("IPython.display").display(view)
    return None


def _ipython_shell() -> Any:
    """The running IPython shell, or None (plain Python, or IPython not installed)."""
    try:
        ipython: Any = importlib.import_module("IPython")
    except ImportError:
        return None
    return ipython.get_ipython()
