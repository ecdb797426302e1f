"""The naive way to publish a trace gallery, as a user would write it without tracesite.

One ``bokeh.io.save`` per trace with INLINE resources (so each page works offline, like
tracesite's), a rect + text figure laid out like the seed figure (rows of 20 positions, the
chosen token on top with its alternatives under it), a hover listing the alternatives, a colour
bar, and a hand-written ``index.html`` linking every page. Reads OpenAI chat responses and
tracesite native files. Benchmark baseline only: no escaping care, no caching, one process.

    python bench/naive_baseline.py INPUT_DIR OUTPUT_DIR [--limit N]
"""

from __future__ import annotations

import argparse
import html
import json
import math
import time
from pathlib import Path
from typing import Any

from bokeh.io import save
from bokeh.models import ColorBar, ColumnDataSource, HoverTool, LinearColorMapper
from bokeh.palettes import Greens256
from bokeh.plotting import figure
from bokeh.resources import INLINE

COLUMNS = 20
ALTERNATIVES = 3


def tokens_of(doc: dict[str, Any]) -> list[tuple[str, float, list[tuple[str, float]]]]:
    """(token, logprob, [(alternative, logprob)...]) per position."""
    if "choices" in doc:
        content = doc["choices"][0]["logprobs"]["content"]
        return [
            (e["token"], e["logprob"], [(t["token"], t["logprob"]) for t in e["top_logprobs"]])
            for e in content
        ]
    return [
        (t["text"], t["logprob"], [(a["text"], a["logprob"]) for a in t.get("top", [])])
        for t in doc["tokens"]
    ]


def make_figure(name: str, positions: list[tuple[str, float, list[tuple[str, float]]]]) -> Any:
    cols: dict[str, list[Any]] = {k: [] for k in ("x", "y", "token", "p", "label", "pos", "alts")}
    for i, (tok, lp, alts) in enumerate(positions):
        row, col = divmod(i, COLUMNS)
        listing = ", ".join(f"{a!r} {math.exp(alp):.2f}" for a, alp in alts)
        others = [(a, alp) for a, alp in alts if a != tok][:ALTERNATIVES]
        for k, (t, t_lp) in enumerate([(tok, lp), *others]):
            cols["x"].append(col + 1)
            cols["y"].append(-(row * (ALTERNATIVES + 1.5) + k))
            cols["token"].append(t)
            cols["p"].append(math.exp(t_lp))
            cols["label"].append(f"{t[:8]}\n{math.exp(t_lp):.2f}")
            cols["pos"].append(i + 1)
            cols["alts"].append(listing)
    source = ColumnDataSource(cols)
    rows = -(-len(positions) // COLUMNS)
    fig = figure(
        title=name,
        width=1400,
        height=max(200, int(rows * (ALTERNATIVES + 1.5) * 32)),
        tools="pan,wheel_zoom,reset",
        x_range=(0.5, COLUMNS + 0.5),
    )
    mapper = LinearColorMapper(palette=Greens256[::-1], low=0, high=1)
    cells = fig.rect(
        "x",
        "y",
        0.95,
        0.9,
        source=source,
        fill_color={"field": "p", "transform": mapper},
        line_color="red",
    )
    fig.text(
        "x",
        "y",
        text="label",
        source=source,
        text_align="center",
        text_baseline="middle",
        text_font_size="9px",
    )
    fig.add_tools(
        HoverTool(
            renderers=[cells],
            tooltips=[
                ("position", "@pos"),
                ("token", "@token"),
                ("p", "@p{0.000}"),
                ("alternatives", "@alts"),
            ],
        )
    )
    fig.add_layout(ColorBar(color_mapper=mapper, title="Probability"), "right")
    fig.yaxis.visible = False
    return fig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("input", type=Path)
    ap.add_argument("output", type=Path)
    ap.add_argument("--limit", type=int, default=0, help="only the first N files (0: all)")
    ap.add_argument(
        "--timing",
        action="store_true",
        help="print {files, loop seconds} as JSON at the end (for bench_build.py)",
    )
    args = ap.parse_args()
    args.output.mkdir(parents=True, exist_ok=True)
    files = sorted(args.input.glob("*.json"))
    if args.limit:
        files = files[: args.limit]
    links = []
    started = time.perf_counter()
    for path in files:
        with path.open(encoding="utf-8") as fh:
            doc = json.load(fh)
        fig = make_figure(path.stem, tokens_of(doc))
        save(fig, filename=args.output / f"{path.stem}.html", resources=INLINE, title=path.stem)
        links.append(f'<li><a href="{path.stem}.html">{html.escape(path.stem)}</a></li>')
    (args.output / "index.html").write_text(
        "<!doctype html><meta charset=utf-8><title>Traces</title><h1>Traces</h1><ul>"
        + "".join(links)
        + "</ul>\n",
        encoding="utf-8",
    )
    if args.timing:
        print(json.dumps({"files": len(files), "loop": time.perf_counter() - started}))


if __name__ == "__main__":
    main()
