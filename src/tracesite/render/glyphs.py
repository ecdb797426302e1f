"""The Bokeh models of a heatmap: one plot whose drawing sources the browser code fills.

Only :func:`tracesite.render.heatmap._template` (once per columns and colour mode) and the reference
path :func:`tracesite.render.heatmap.render_heatmap_direct` build them; Bokeh is imported inside.
"""

from __future__ import annotations

import importlib
from typing import Any

from tracesite.core.options import ColorBy
from tracesite.render.cells import UNIT_PX
from tracesite.render.modes import MODE_TITLES, mode_palette

_FONT = "Helvetica, Arial, sans-serif"
_RED = "#d0021b"  # the chosen path's outline, as in the seed figure


def _color_bar_ticks(mode: ColorBy) -> list[float]:
    return [round(i * 0.2, 1) for i in range(6)] if mode == "probability" else [0.0]


def build_figure(
    data_columns: dict[str, list[Any]],
    *,
    columns: int,
    mode: ColorBy,
    frame_px: int,
    channels: bool = False,
) -> Any:
    """The Bokeh document root for one trace; the browser code does the drawing.

    ``data_columns`` are the trace's data source columns (each a one-item list), or placeholders
    when building the template of :func:`tracesite.render.heatmap._template`. A trace with
    ``channels`` gets the masked positions' drawing source; a trace without gets exactly the
    figure it had before channels existed.
    """
    # Bokeh's own annotations are partial (mypy cannot see ColorBar): use the modules untyped.
    bm: Any = importlib.import_module("bokeh.models")
    from bokeh.core.properties import value

    font = value(_FONT)
    data = bm.ColumnDataSource(data_columns)
    src = _drawing_sources(bm, channels)
    # flipped: y grows downwards, row 0 on top; the browser code sets the span from frame_px
    y_range = bm.Range1d(start=frame_px / UNIT_PX, end=0)
    plot = _plot(bm, columns, frame_px, y_range)
    # the browser code sets the palette (interpolated from these anchors) and range per mode
    mapper = bm.LinearColorMapper(
        palette=list(mode_palette(mode)), low=0, high=1, nan_color="#e4e4e4"
    )
    # All text is drawn by LabelSet annotations, not Text glyphs: BokehJS measures every label of
    # a Text glyph six times on each data change (once per selection/hover/... variant), which
    # made a scroll step cost ~400 ms; a LabelSet draws its labels once per paint.
    _draw_bands(bm, plot, src, font)
    cell_renderer = _draw_cells(bm, plot, src, mapper, font)
    if channels:
        _draw_masked(bm, plot, src["masked"])
    _draw_marks(bm, plot, src, font)
    bar = _color_bar(bm, mapper, mode)
    plot.add_layout(bar, "right")
    hover = _add_tools(bm, plot, cell_renderer, y_range)
    drawn = {k: v for k, v in src.items() if k != "masked"}
    models = dict(plot=plot, data=data, **drawn, mapper=mapper, bar=bar, hover=hover, yr=y_range)
    if channels:
        models["masked"] = src["masked"]
    _queue_when_ready(bm, plot, models)
    return plot


def _drawing_sources(bm: Any, channels: bool) -> dict[str, Any]:
    """The empty data sources the browser code fills, by the name the page's models know."""

    def empty(*names: str) -> Any:
        return bm.ColumnDataSource({n: [] for n in names})

    src = {
        "cells": empty("x", "y", "t", "pt", "v", "tc", "la", "fs", "i", "k"),
        "unknown": empty("x", "y"),
        "nums": empty("x", "y", "t", "nc", "nf"),
        "flags": empty("x", "y"),
        "bands": empty("x", "y", "w", "lx", "t"),
        "target": empty("x", "y", "h"),
    }
    if channels:
        src["masked"] = empty("x", "y")
    return src


def _plot(bm: Any, columns: int, frame_px: int, y_range: Any) -> Any:
    return bm.Plot(
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


def _add_tools(bm: Any, plot: Any, cell_renderer: Any, y_range: Any) -> Any:
    """The hover over the cells and the vertical pan, both handled by the browser code."""
    hover = bm.HoverTool(
        renderers=[cell_renderer],
        tooltips=None,
        callback=bm.CustomJS(code="TracesiteHeatmap.hover(cb_obj,cb_data)"),
    )
    pan = bm.PanTool(dimensions="height")
    plot.toolbar = bm.Toolbar(tools=[pan, hover], active_drag=pan)
    y_range.js_on_change("start", bm.CustomJS(code="TracesiteHeatmap.moved(cb_obj)"))
    return hover


def _draw_bands(bm: Any, plot: Any, src: dict[str, Any], font: Any) -> None:
    """Highlight bands above the rows, with their labels."""
    plot.add_glyph(
        src["bands"],
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
            source=src["bands"],
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


def _draw_cells(bm: Any, plot: Any, src: dict[str, Any], mapper: Any, font: Any) -> Any:
    """The cells (coloured by ``mapper``), the unknown-p hatching and the cells' two labels;
    the cell renderer, for the hover tool."""
    renderer = plot.add_glyph(
        src["cells"],
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
        src["unknown"],
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
            source=src["cells"],
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
            source=src["cells"],
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
    return renderer


def _draw_masked(bm: Any, plot: Any, source: Any) -> None:
    """Masked positions (loss mask 0) washed out in every mode: a white veil over the cell (the
    labels, annotations, stay above it; pale on a dark page too) framed by a grey dashed line
    just inside the chosen path's red outline."""
    plot.add_glyph(
        source,
        bm.Rect(
            x="x",
            y="y",
            width=0.91,
            height=0.87,
            fill_color="#ffffff",
            fill_alpha=0.62,
            line_color="#6e7781",
            line_width=1.2,
            line_dash=[3, 2],
        ),
    )


def _draw_marks(bm: Any, plot: Any, src: dict[str, Any], font: Any) -> None:
    """Position numbers, low-confidence flags and the ``#pos-N`` target outline."""
    plot.add_layout(
        bm.LabelSet(
            source=src["nums"],
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
        src["flags"],
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
        src["target"],
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


def _color_bar(bm: Any, mapper: Any, mode: ColorBy) -> Any:
    """The colour bar beside the plot, titled for ``mode`` (the browser code retitles it)."""
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
    return bar


def _queue_when_ready(bm: Any, plot: Any, models: dict[str, Any]) -> None:
    """Put ``plot`` in a document that, once BokehJS has drawn it, hands ``models`` to the
    browser code (queued in ``window.__tsh_q`` when heatmap.js is not loaded yet)."""
    from bokeh.document import Document

    doc = Document()
    doc.add_root(plot)
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
