"""Paper figures as Bokeh plots (SPEC §16): the numbers come from :mod:`tracesite.model.figures`.

Each figure is a standalone Bokeh plot (``bokeh.embed.components``) in a ``.ts-figure`` wrapper
whose PNG and SVG buttons ``figures.js`` wires to BokehJS's own export; a click (tap) on a mark
opens the trace it came from at its position (``traces/<slug>/index.html#pos-N``).
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

from tracesite.model.figures import FigureData

_TITLES = {
    "entropy-histogram": "Entropy of every token",
    "entropy-by-position": "Mean entropy by position",
    "p-by-position": "Mean p by position",
    "sampler-vs-trainer": "Sampler p against trainer p",
    "dp-by-p": "Mean |Δp| (trainer − sampler) by sampler p",
    "confidence-by-label": "Mean p of each trace, by label",
}

# A note's figure is rendered once and shown on whichever page the note lands on, so its URLs
# are site-relative and the page's root prefix comes from the wrapper's data-root (a group
# page's figures have page-relative URLs and no data-root).
_TAP_JS = """
const i = source.selected.indices[0];
if (i === undefined) return;
const url = source.data.url[i];
source.selected.indices = [];
const box = document.querySelector('.ts-figure[data-plot="' + plot_id + '"]');
const root = (box && box.getAttribute("data-root")) || "";
if (url) window.location.href = root + url;
"""


def _urls(fig: FigureData, targets: Sequence[str]) -> list[str]:
    return [
        f"{targets[k]}#pos-{pos}" if 0 <= k < len(targets) and targets[k] else ""
        for k, pos in fig.origin
    ]


def build_plot(fig: FigureData, targets: Sequence[str], title: str | None = None) -> Any:
    """The Bokeh plot of ``fig``; ``targets[k]`` is the URL of trace ``k``'s page."""
    from bokeh.models import ColumnDataSource, CustomJS, HoverTool, TapTool
    from bokeh.plotting import figure

    data: dict[str, list[Any]] = {k: list(v) for k, v in fig.columns.items()}
    data["url"] = _urls(fig, targets)
    if fig.series:
        data["series"] = list(fig.series)
    source = ColumnDataSource(data)
    plot = figure(
        title=title or _TITLES.get(fig.name, fig.name),
        x_axis_label=fig.x_label,
        y_axis_label=fig.y_label,
        height=320,
        sizing_mode="stretch_width",
        tools="pan,wheel_zoom,box_zoom,reset,save",
        toolbar_location="above",
        name=f"figure-{fig.name}",
    )
    plot.toolbar.logo = None
    if fig.name in ("entropy-histogram", "dp-by-p", "confidence-by-label"):
        r, tips = _bars(plot, source, fig)
    elif fig.name in ("entropy-by-position", "p-by-position"):
        plot.line("x", "y", source=source, line_color="#3b7dd8", line_width=1.5)
        r = plot.scatter("x", "y", source=source, size=5, color="#3b7dd8", alpha=0.8)
        tips = [("position", "@x"), (fig.y_label, "@y{0.000}"), ("traces", "@n")]
    else:  # sampler-vs-trainer
        r, tips = _heat_cells(plot, source)
    plot.add_tools(HoverTool(renderers=[r], tooltips=[*tips, ("click", "open the trace there")]))
    tap = CustomJS(args={"source": source, "plot_id": plot.id}, code=_TAP_JS)
    plot.add_tools(TapTool(renderers=[r], callback=tap))
    return plot


def _bars(plot: Any, source: Any, fig: FigureData) -> tuple[Any, list[tuple[str, str]]]:
    """A histogram's bars (one colour per series when split by a label) and its tooltips; the
    80th-percentile line when the figure has one."""
    from bokeh.palettes import Category10

    top = "mean" if fig.name == "dp-by-p" else "count"
    tips: list[tuple[str, str]] = []
    style: dict[str, Any] = {"fill_color": "#3b7dd8", "fill_alpha": 0.7, "line_color": "white"}
    if fig.series:
        labels = list(dict.fromkeys(fig.series))
        source.data["colour"] = [Category10[10][labels.index(s) % 10] for s in fig.series]
        style = {
            "fill_color": "colour",
            "fill_alpha": 0.45,
            "line_color": "colour",
            "legend_field": "series",
        }
        tips = [("label", "@series")]
    r = plot.quad(left="left", right="right", bottom=0, top=top, source=source, **style)
    tips += [("bin", "@left{0.000} – @right{0.000}"), (top, f"@{top}{{0.[000]}}")]
    if fig.name == "dp-by-p":
        tips.append(("tokens", "@count"))
    p80 = fig.notes.get("p80")
    if p80 is not None and math.isfinite(p80):
        _percentile_line(plot, p80)
    return r, tips


def _percentile_line(plot: Any, p80: float) -> None:
    from bokeh.models import Label, Span  # type: ignore[attr-defined]

    red = "#c0392b"
    plot.add_layout(
        Span(location=p80, dimension="height", line_color=red, line_dash="dashed", line_width=2)
    )
    plot.add_layout(
        Label(
            x=p80,
            y=0,
            y_units="screen",
            y_offset=4,
            x_offset=4,
            text=f"80th percentile {p80:.3g}",
            text_color=red,
            text_font_size="11px",
        )
    )


def _heat_cells(plot: Any, source: Any) -> tuple[Any, list[tuple[str, str]]]:
    """The 2-D histogram's cells coloured by log10 count, the diagonal, a colour bar."""
    from bokeh.models import ColorBar, LinearColorMapper  # type: ignore[attr-defined]
    from bokeh.palettes import Viridis256

    counts = list(source.data["count"]) or [1.0]
    source.data["log_count"] = [math.log10(c) for c in source.data["count"]]
    mapper = LinearColorMapper(palette=Viridis256, low=0, high=max(math.log10(max(counts)), 1e-9))
    r = plot.rect(
        "x",
        "y",
        width="w",
        height="w",
        source=source,
        line_color=None,
        fill_color={"field": "log_count", "transform": mapper},
    )
    plot.line([0, 1], [0, 1], line_color="#888", line_dash="dotted")
    plot.add_layout(ColorBar(color_mapper=mapper, title="log10 tokens", width=10), "right")
    return r, [("sampler p", "@x{0.00}"), ("trainer p", "@y{0.00}"), ("tokens", "@count")]


def render_figure(
    fig: FigureData, targets: Sequence[str], title: str | None = None, caption: str = ""
) -> str:
    """The figure's HTML: the Bokeh div and script in a ``.ts-figure`` with export buttons."""
    from bokeh.embed import components

    plot = build_plot(fig, targets, title)
    script, div = components(plot)
    name = html.escape(fig.name)
    cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    return (
        f'<figure class="ts-figure" data-figure="{name}" data-plot="{plot.id}">'
        '<div class="ts-figure-tools" role="group" aria-label="export the figure">'
        '<button type="button" data-export="png">PNG</button>'
        '<button type="button" data-export="svg">SVG</button></div>'
        f"{div}{cap}</figure>\n{script}"
    )
