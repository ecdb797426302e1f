"""The heatmap in a real browser: hover tooltips, stand-ins, modes, marks, #pos-N, long traces.

Pages are ``tracesite render`` single files opened from file:// in Debian's Chromium.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import tracesite
from browser_helpers import new_page
from test_heatmap import HOSTILE, synthetic_trace
from tracesite.commands.render import render_file
from tracesite.formats import load
from tracesite.model.trace import Candidate, Position, Trace, TraceMeta

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
FIGURE = REPO / "content" / "figure" / "forty-three-squared.json"
TIMEOUT = 15_000
H = "TracesiteHeatmap.instances[0]"


def save(trace: Trace, path: Path) -> Path:
    tracesite.save(trace, path)
    return render_file(path, None)


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The rendered pages the tests open (rendered once for the module)."""
    folder = tmp_path_factory.mktemp("heatmap-pages")
    shutil.copy(FIGURE, folder / "figure.json")
    shutil.copy(FIGURE.with_suffix(".md"), folder / "figure.md")
    odd = Trace.from_positions(
        [
            Position(Candidate(HOSTILE, -0.2), [Candidate(HOSTILE, -0.2), Candidate("<b>x", -2.0)]),
            Position(
                Candidate("unseen", -9999.0), [Candidate(" a", -1.2), Candidate(" b", -2.5)]
            ),  # sentinel: p below every listed one
            Position(Candidate(" \\xf0\\x9f", -0.3, b" \xf0\x9f")),  # half an emoji (bytes)
            Position(Candidate("x" * 40, -0.01)),  # far too long for a cell
            Position(Candidate("\u200b", -0.5)),
            Position(Candidate("<|endoftext|>", 0.0), special=True),
        ],
        TraceMeta(model=HOSTILE),
    )
    (folder / "odd.md").write_text(
        f"---\nhighlight: [{{from: 1, to: 2, label: '{HOSTILE}'}}]\n---\n", encoding="utf-8"
    )
    return {
        "figure": render_file(folder / "figure.json", None),
        "odd": save(odd, folder / "odd.json"),
        "long": save(synthetic_trace(20_000, top_k=5, seed=11), folder / "long.json"),
    }


@pytest.fixture
def figure(browser: Any, pages: dict[str, Path]) -> Iterator[tuple[Any, Any]]:
    with new_page(browser, pages["figure"].as_uri(), viewport={"width": 1400, "height": 1000}) as (
        page,
        record,
    ):
        page.wait_for_selector(".tsh[data-ready='1']", timeout=TIMEOUT)
        yield page, record
        assert record.errors == []


def hover(page: Any, index: int, slot: int = 0) -> str:
    """Move the mouse over position ``index``'s cell (slot 0 chosen, 1.. alternatives)."""
    point = page.evaluate(f"{H}.cellPoint({index}, {slot})")
    assert point, f"position {index + 1} is not in view"
    page.mouse.move(point["x"], point["y"])
    page.wait_for_function(
        f"(() => {{ const t = document.querySelector('.tsh-tip'); "
        f"return !t.hidden && t.dataset.cell.startsWith('{index}:'); }})()",
        timeout=TIMEOUT,
    )
    return str(page.inner_text(".tsh-tip"))


def cells(page: Any) -> dict[str, list[Any]]:
    return dict(page.evaluate(f"(() => {{ const d = {H}.m.cells.data; return {{...d}}; }})()"))


def quoted(text: str) -> str:
    """The tooltip's exact form of a token (heatmap.js exact())."""
    out = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{out}"'


# ------------------------------------------------------------------------------ the figure
def test_hover_lists_the_alternatives_of_that_position_from_the_trace_file(figure) -> None:  # type: ignore[no-untyped-def]
    page, _ = figure
    trace = load(FIGURE)[0]
    ps = trace.position_stats
    for index in (0, 35, 13, 95):
        tip = hover(page, index)
        assert f"Position {index + 1} · chosen token" in tip
        assert quoted(trace.tokens[index]) in tip
        alts = trace.alternatives(index)
        assert f"Listed alternatives at position {index + 1}" in tip
        for alt in alts:
            assert f"{quoted(alt.text)}\t{math.exp(alt.logprob):.4f}" in tip
        assert f"rest of vocabulary\n{ps.rest[index]:.4f}" in tip
        assert f"entropy\n≥ {ps.entropy[index]:.3f} bits (lower bound)" in tip
        assert f"p\n{ps.p[index]:.4f}" in tip and f"logprob\n{trace.logprobs[index]:.4f}" in tip
        assert f"surprisal\n{ps.surprisal[index]:.3f} bits" in tip
        assert f"rank\n{ps.rank[index]} of {len(alts)} listed" in tip


def test_hovering_an_alternative_cell_describes_that_alternative(figure) -> None:  # type: ignore[no-untyped-def]
    page, _ = figure
    tip = hover(page, 35, slot=1)  # the "3" under "by 4"
    assert 'Position 36 · alternative\n"3"' in tip
    assert "p\n0.4500" in tip and "rank\n2 of 2 listed" in tip
    page.mouse.move(2, 2)  # off the heatmap: the tooltip goes away
    page.wait_for_selector(".tsh-tip", state="hidden")


def test_cells_are_drawn_as_in_the_figure(figure) -> None:  # type: ignore[no-untyped-def]
    page, _ = figure
    d = cells(page)
    chosen = [k == -1 for k in d["k"]]
    assert d["la"] == [1 if c else 0 for c in chosen]  # the red outline marks the chosen path
    # every chosen cell and every alternative the figure shows (11 + 14 + 1 + 5 + 1 rows' worth)
    assert sum(chosen) == 97 and len(d["k"]) == 97 + 32
    text = {i: t for i, t, c in zip(d["i"], d["t"], chosen, strict=True) if c}
    assert (text[0], text[2], text[24], text[44]) == ("To", "␣", "↵↵", ".↵↵")
    p_text = {i: t for i, t, c in zip(d["i"], d["pt"], chosen, strict=True) if c}
    assert (p_text[0], p_text[35], p_text[3]) == ("0.39", "0.55", "1.00")
    special = [f for f, i, c in zip(d["fs"], d["i"], chosen, strict=True) if c and i == 96]
    assert special == ["bold italic"]  # </think> drawn as a special token
    bar = page.evaluate(f"[{H}.m.bar.title, Array.from({H}.m.bar.ticker.ticks)]")
    assert bar == ["Probability", [0, 0.2, 0.4, 0.6, 0.8, 1]]
    assert page.evaluate(f"[{H}.m.mapper.low, {H}.m.mapper.high]") == [0, 1]


def bokeh_steps(anchors: tuple[str, ...], steps: int = 64) -> list[str]:
    """``anchors`` interpolated to ``steps`` colours, as heatmap.js palette() does it."""
    rgb = [[int(c[i : i + 2], 16) for i in (1, 3, 5)] for c in anchors]
    out = []
    for s in range(steps):
        t = s / (steps - 1) * (len(rgb) - 1)
        k = min(len(rgb) - 2, math.floor(t))
        f = t - k
        mixed = [
            math.floor(rgb[k][ch] + (rgb[k + 1][ch] - rgb[k][ch]) * f + 0.5) for ch in range(3)
        ]
        out.append("#" + "".join(f"{v:02x}" for v in mixed))
    return out


def test_each_mode_is_coloured_with_bokehs_palette(figure) -> None:  # type: ignore[no-untyped-def]
    from bokeh.palettes import Greens9, Purples9, YlOrBr9

    page, _ = figure
    for mode, dark_first in (
        ("entropy", Purples9),
        ("surprisal", YlOrBr9),
        ("probability", Greens9),
    ):
        page.select_option(".tsh-mode", mode)
        page.wait_for_selector(f".tsh[data-mode='{mode}']")
        palette = page.evaluate(f"Array.from({H}.m.mapper.palette)")
        assert palette == bokeh_steps(tuple(reversed(dark_first))), mode


def test_colour_mode_switch_recolours_and_retitles(figure) -> None:  # type: ignore[no-untyped-def]
    page, _ = figure
    trace = load(FIGURE)[0]
    page.select_option(".tsh-mode", "entropy")
    page.wait_for_selector(".tsh[data-mode='entropy']")
    assert page.evaluate(f"{H}.m.bar.title") == "Entropy (bits, lower bound)"
    d = cells(page)
    for i, k, v in zip(d["i"], d["k"], d["v"], strict=True):
        if k == -1:
            assert v == pytest.approx(trace.position_stats.entropy[i], abs=1e-4)
        else:
            assert v is None or (isinstance(v, float) and math.isnan(v))  # alternatives: grey
    page.select_option(".tsh-mode", "surprisal")
    page.wait_for_selector(".tsh[data-mode='surprisal']")
    assert page.evaluate(f"{H}.m.bar.title") == "Surprisal (bits)"
    d = cells(page)
    first = d["k"].index(-1)
    assert d["v"][first] == pytest.approx(trace.position_stats.surprisal[0], abs=1e-4)


def test_low_confidence_and_highlights_are_marked_and_linked(figure) -> None:  # type: ignore[no-untyped-def]
    page, _ = figure
    flags = page.evaluate(f"{H}.m.flags.data.x.length")
    assert flags == 3  # To (0.39), their (0.38), multiply (0.45)
    nums = page.evaluate(f"(() => {{ const d = {H}.m.nums.data; return {{t: d.t, nc: d.nc}}; }})()")
    orange = {t for t, c in zip(nums["t"], nums["nc"], strict=True) if c != "#8c8c8c"}
    assert orange == {"1", "21", "30"}
    bands = page.evaluate(f"Array.from({H}.m.bands.data.t)")
    assert "the fork: 43 by 4, not by 40" in bands
    links = page.locator(".marks a").all_inner_texts()
    assert links[:3] == [
        "the plan: break 43 into place values",
        "the fork: 43 by 4, not by 40",
        "1,462 — certain, and wrong",
    ]
    # each low-confidence link names its position, token (exact, quoted) and p
    trace = load(FIGURE)[0]
    assert links[3:] == [
        f"{i + 1} {quoted(trace.tokens[i])} {trace.position_stats.p[i]:.2f}" for i in (0, 20, 29)
    ]
    assert links[3] == '1 "To" 0.39'
    page.locator(".marks a", has_text="the fork").click()
    page.wait_for_selector(".tsh[data-target='30']")
    assert page.evaluate(f"{H}.m.target.data.x.length") == 1
    assert "tsv-target" in (page.get_attribute("#tok-30", "class") or "")


def test_visible_and_exact_forms_in_the_browser(figure) -> None:  # type: ignore[no-untyped-def]
    page, _ = figure
    cases = {
        " ": "␣",
        "\n\n": "↵↵",
        "\t": "⇥",
        "\u00a0": "⍽",
        "\u200b": "⟨U+200B⟩",
        "\ufeff": "⟨U+FEFF⟩",
        "\u2028": "⟨U+2028⟩",
        " hello": "hello",
        ".\n\n": ".↵↵",
        "a\u200bb": "a⟨U+200B⟩b",
        "a\u00a0b": "a⍽b",
        "New York": "New York",
        "": "∅",
        "👨\u200d👩": "👨\u200d👩",  # the joiner inside an emoji sequence stays
    }
    got = page.evaluate("(cases) => cases.map(TracesiteHeatmap.visible)", list(cases))
    assert got == list(cases.values())
    exact = page.evaluate(
        "(cases) => cases.map(TracesiteHeatmap.exact)", ['a\n"b"\\', "\u00a0\u200b", " x"]
    )
    assert exact == ['"a\\n\\"b\\"\\\\"', '"\\u00a0\\u200b"', '" x"']


# ------------------------------------------------------------------------------ keyboard
def listen_positions(page: Any) -> None:
    """Record every ``tracesite:position`` event the page dispatches in ``window.__pos``."""
    page.evaluate(
        "window.__pos = []; document.addEventListener('tracesite:position', "
        "e => window.__pos.push(e.detail.pos))"
    )


def test_arrow_keys_move_a_focus_cell_with_its_tooltip_and_announce_it(figure) -> None:  # type: ignore[no-untyped-def]
    page, _ = figure
    trace = load(FIGURE)[0]
    p = trace.position_stats.p
    listen_positions(page)
    page.focus(".tsh")
    page.keyboard.press("ArrowRight")  # the first key focuses the first position shown
    page.wait_for_selector(".tsh[data-target='1']")
    assert "Position 1 · chosen token" in page.inner_text(".tsh-tip")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowDown")  # a row down: 20 columns on a desktop
    page.wait_for_selector(".tsh[data-target='22']")
    tip = page.inner_text(".tsh-tip")
    assert "Position 22 · chosen token" in tip and quoted(trace.tokens[21]) in tip
    live = page.inner_text(".tsh-live")
    assert live == f"Position 22 of 97: {quoted(trace.tokens[21])}, p {p[21]:.2f}"
    assert page.get_attribute(".tsh-live", "aria-live") == "polite"
    assert page.evaluate(f"{H}.m.target.data.x.length") == 1  # the focus cell is outlined
    assert "tsv-target" in (page.get_attribute("#tok-22", "class") or "")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowUp")
    page.wait_for_selector(".tsh[data-target='1']")
    page.keyboard.press("ArrowUp")  # at the top: stays
    page.keyboard.press("Escape")
    page.wait_for_selector(".tsh-tip", state="hidden")
    assert page.evaluate("window.__pos") == [1, 2, 22, 21, 1]


def test_clicking_or_entering_a_text_token_moves_the_heatmap_there(figure) -> None:  # type: ignore[no-untyped-def]
    page, _ = figure
    listen_positions(page)
    page.click("#tok-45")
    page.wait_for_selector(".tsh[data-target='45']")
    assert "tsv-target" in (page.get_attribute("#tok-45", "class") or "")
    assert page.evaluate(f"{H}.m.target.data.x") == [45 - 40 - 0.5]  # column 5 of row 3
    assert page.inner_text(".tsh-live").startswith("Position 45 of 97: ")
    # by keyboard: one tab stop in the text, arrows move token by token, Enter follows
    stop = page.locator(".tsv span[tabindex='0']")
    assert stop.count() == 1
    stop.focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    focused = page.evaluate("document.activeElement.id")
    page.keyboard.press("Enter")
    n = int(focused.removeprefix("tok-"))
    page.wait_for_selector(f".tsh[data-target='{n}']")
    assert page.evaluate("window.__pos") == [45, n]
    assert page.locator(".tsv span[tabindex='0']").count() == 1


# ------------------------------------------------------------------------------ odd tokens
def test_hostile_unknown_and_odd_tokens(browser: Any, pages: dict[str, Path]) -> None:
    with new_page(browser, pages["odd"].as_uri(), viewport={"width": 1200, "height": 900}) as (
        page,
        record,
    ):
        page.wait_for_selector(".tsh[data-ready='1']", timeout=TIMEOUT)
        tip = hover(page, 0)
        assert quoted(HOSTILE) in tip and '"<b>x"' in tip
        tip = hover(page, 1)
        low = math.exp(-2.5)
        assert f"p\n< {low:.4f} (not given)" in tip and "logprob\nnot given" in tip
        assert "rank\nnot among the 2 listed" in tip and "← chosen (not listed)" in tip
        d = cells(page)
        unknown = [
            j for j, (i, k) in enumerate(zip(d["i"], d["k"], strict=True)) if i == 1 and k == -1
        ]
        (j,) = unknown
        assert d["pt"][j] == f"<{low:.2f}"  # "< p_min"
        unknown_cells = page.evaluate(
            f"[...{H}.m.unknown.data.x].map((x, k) => [x, {H}.m.unknown.data.y[k]])"
        )
        assert unknown_cells == [[d["x"][j], d["y"][j]]]  # hatched, by the unknown-p renderer
        assert d["v"][j] is None or math.isnan(d["v"][j])  # outside the colour scale
        tip = hover(page, 2)
        assert "bytes (not valid UTF-8): 20 f0 9f" in tip
        tip = hover(page, 3)
        assert quoted("x" * 40) in tip
        long_cell = [
            t for i, k, t in zip(d["i"], d["k"], d["t"], strict=True) if i == 3 and k == -1
        ]
        assert long_cell[0].endswith("…") and len(long_cell[0]) < 20
        assert "special token" in hover(page, 5)
        assert page.evaluate("document.querySelectorAll('img').length") == 0
        assert record.dialogs == [] and record.errors == []
        assert HOSTILE in page.inner_text(".marks")  # the highlight label, as text


# ------------------------------------------------------------------------------ long traces
@pytest.mark.slow
def test_a_long_trace_scrolls_in_a_fixed_viewport(browser: Any, pages: dict[str, Path]) -> None:
    url = pages["long"].as_uri()
    with new_page(browser, url, viewport={"width": 1300, "height": 1000}) as (page, record):
        page.wait_for_selector(".tsh[data-ready='1']", timeout=TIMEOUT)
        rows = page.evaluate(f"{H}.rows")
        assert rows == 1000
        heights = [
            b["height"]
            for b in map(lambda c: c.bounding_box(), page.locator(".tsh-plot canvas").all())
        ]
        assert heights and max(heights) < 1000  # never a canvas as tall as the trace
        assert len(cells(page)["i"]) < 20 * 4 * 10  # only rows near the viewport are drawn
        start = page.get_attribute(".tsh", "data-rows")
        assert start.startswith("0-") and int(start[2:]) < 10
        # the wheel scrolls the viewport, not the page
        box = page.locator(".tsh-plot").bounding_box()
        page.mouse.move(box["x"] + 300, box["y"] + 300)
        page.mouse.wheel(0, 4000)
        page.wait_for_function(f"document.querySelector('.tsh').dataset.rows !== '{start}'")
        r0 = int(page.get_attribute(".tsh", "data-rows").split("-")[0])
        assert r0 > 10 and page.evaluate("window.scrollY") == 0
        # hover still answers down there
        first = r0 * 20 + 40
        assert f"Position {first + 1} · chosen token" in hover(page, first)
        # the overview strip jumps to the end
        strip = page.locator(".tsh-overview").bounding_box()
        page.mouse.click(strip["x"] + strip["width"] / 2, strip["y"] + strip["height"] - 2)
        assert strip["height"] > 700  # the strip spans the viewport's height
        page.wait_for_function(
            "+document.querySelector('.tsh').dataset.rows.split('-')[1] >= " + str(rows - 3)
        )
        assert record.errors == []


@pytest.mark.slow
def test_pos_links_scroll_to_and_mark_a_position(browser: Any, pages: dict[str, Path]) -> None:
    url = pages["long"].as_uri() + "#pos-15000"
    with new_page(browser, url, viewport={"width": 1300, "height": 1000}) as (page, record):
        page.wait_for_selector(".tsh[data-ready='1']", timeout=TIMEOUT)
        assert page.get_attribute(".tsh", "data-target") == "15000"
        r0, r1 = map(int, page.get_attribute(".tsh", "data-rows").split("-"))
        assert r0 <= 14999 // 20 <= r1
        assert "tsv-target" in (page.get_attribute("#tok-15000", "class") or "")
        assert page.evaluate(f"{H}.m.target.data.x.length") == 1
        page.evaluate("location.hash = '#pos-7'")  # and later hash changes too
        page.wait_for_selector(".tsh[data-target='7']")
        assert page.get_attribute(".tsh", "data-rows").startswith("0-")
        assert "Position 7 · chosen token" in hover(page, 6)
        assert record.errors == []


@pytest.mark.slow
def test_keyboard_and_drag_scroll_the_viewport(browser: Any, pages: dict[str, Path]) -> None:
    with new_page(browser, pages["long"].as_uri(), viewport={"width": 1300, "height": 1000}) as (
        page,
        record,
    ):
        page.wait_for_selector(".tsh[data-ready='1']", timeout=TIMEOUT)
        top = f"{H}.top()"
        page.focus(".tsh")
        page.keyboard.press("PageDown")
        assert page.evaluate(top) > 20
        page.keyboard.press("End")
        assert page.evaluate(f"{H}.top() === {H}.total - {H}.view")
        page.keyboard.press("Home")
        assert page.evaluate(top) == 0
        # dragging the plot upwards (the pan tool) moves further down the trace
        box = page.locator(".tsh-plot").bounding_box()
        x, y = box["x"] + 400, box["y"] + 600
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x, y - 300, steps=6)
        page.mouse.up()
        page.wait_for_function(f"{top} > 5")
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x, y + 900, steps=6)  # past the start: the range stays in bounds
        page.mouse.up()
        page.wait_for_function(f"{top} === 0")
        assert record.errors == []


def _corpus_samples() -> list[Path]:
    """One file per folder of the real corpus; a missing corpus gives one failing case."""
    corpus = Path(__file__).parents[2] / "shared" / "corpus" / "real"
    if not corpus.is_dir():
        return [corpus / "missing"]
    return [sorted(d.iterdir())[0] for d in sorted(corpus.iterdir()) if d.is_dir()]


@pytest.mark.slow
@pytest.mark.parametrize("source", _corpus_samples(), ids=lambda p: p.parent.name)
def test_real_traces_draw_without_errors(browser: Any, source: Path, tmp_path: Path) -> None:
    assert source.is_file(), f"the real-API corpus is missing: {source.parent}"
    traces = load(source)  # a reader failing on a corpus file fails the test
    target = tmp_path / source.name
    shutil.copy(source, target)
    out = render_file(target, tmp_path / "page.html")
    with new_page(browser, out.as_uri(), viewport={"width": 1300, "height": 1000}) as (
        page,
        record,
    ):
        page.wait_for_selector(".tsh[data-ready='1']", timeout=TIMEOUT)
        tip = hover(page, 0)
        listed = len(traces[0].alternatives(0))
        assert "Position 1 · chosen token" in tip
        # the lower bound is an alternatives' statistic: absent when the trace lists none
        assert ("(lower bound)" in tip) == bool(len(traces[0].alt_tokens)), tip
        assert page.locator(".tsh-tip-alts tbody tr").count() >= listed
        assert record.errors == []


# ------------------------------------------------------------------------------ notebooks
def _notebook_outputs(n: int) -> list[str]:
    """The text/html of ``n`` ``tracesite.show()`` cells run in an IPython shell."""
    from test_heatmap import _notebook, _run

    shell = _notebook()
    try:
        return [_run(shell, "tracesite.show(t)", f"cell-{k}")[0]["text/html"] for k in range(n)]
    finally:
        shell.clear_instance()


def _frames_ready(page: Any, n: int) -> list[Any]:
    page.wait_for_function(f"document.querySelectorAll('iframe').length === {n}")
    frames = [f for f in page.frames if f != page.main_frame]
    assert len(frames) == n
    for frame in frames:
        frame.wait_for_selector(".tsh[data-ready='1']", timeout=TIMEOUT)
    return frames


def test_a_saved_notebook_of_heatmaps_draws_every_one_from_one_bokehjs(
    browser: Any, tmp_path: Path
) -> None:
    """The outputs as nbconvert's HTML export (or a reopened notebook) lays them out, in order."""
    outputs = _notebook_outputs(3)
    cells = "".join(f'<div class="output_html">{o}</div>' for o in outputs)
    doc = tmp_path / "notebook.html"
    doc.write_text(f"<!doctype html><html><body>{cells}</body></html>", encoding="utf-8")
    with new_page(browser, doc.as_uri(), block_network=True) as (page, record):
        frames = _frames_ready(page, 3)
        for frame in frames:
            assert frame.evaluate(f"{H}.n") == 30
            assert "<h2>Statistics</h2>" in frame.content()  # the theme's trace page
        # each frame is as tall as its page: no scroll bar inside the notebook
        heights = page.evaluate("[...document.querySelectorAll('iframe')].map(f => f.offsetHeight)")
        inner = [
            f.evaluate("document.documentElement.getBoundingClientRect().height") for f in frames
        ]
        assert all(abs(h - i) <= 1 for h, i in zip(heights, inner, strict=True)), (heights, inner)
        assert record.requests == [] and record.errors == []


def test_a_frame_drawn_before_the_notebooks_copy_waits_for_it(browser: Any, tmp_path: Path) -> None:
    """A frontend may draw a later output first: that frame starts again once the copy is there."""
    holder, later = _notebook_outputs(2)
    doc = tmp_path / "notebook.html"
    doc.write_text(
        "<!doctype html><html><body><div id=first></div>"
        f"<div>{later}</div>"
        f"<template id=t>{holder}</template>"
        "<script>setTimeout(function () {"  # the first output arrives a second later
        " var t = document.getElementById('t').content.cloneNode(true);"
        " var box = document.getElementById('first');"
        " t.querySelectorAll('script').forEach(function (s) {"
        "  var r = document.createElement('script'); r.textContent = s.textContent;"
        "  s.replaceWith(r); });"  # as JupyterLab runs an output's scripts
        " box.appendChild(t); }, 1000);</script></body></html>",
        encoding="utf-8",
    )
    with new_page(browser, doc.as_uri(), block_network=True) as (page, record):
        _frames_ready(page, 2)
        assert record.requests == []
        # the later frame did load first (its embed found no Bokeh), then started again
        assert record.errors == ["Bokeh is not defined"], record.errors
