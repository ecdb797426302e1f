"""Channels in a real browser (SPEC §15, issue 12 point 3): switching the colour mode to a channel
recolours the cells (read back from the canvas) and the text view, and retitles the colour bar;
masked positions are dimmed; the hover on a masked cell says so and lists every channel.

The page is ``tracesite render``'s single file of a rollout-shaped trace (train_logprob, entropy,
advantage, mask; no alternatives), opened from file:// in Debian's Chromium; one test opens the
same trace's page in a built site (channels.js and heatmap.js as separate assets).
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tracesite
from browser_helpers import new_page
from test_heatmap_browser import TIMEOUT, bokeh_steps, cells, hover
from tracesite.commands.render import render_file
from tracesite.formats import load
from tracesite.model.trace import Trace, TraceMeta
from tracesite.render.channels import pack_channels
from tracesite.render.modes import modes_config

pytestmark = pytest.mark.browser

H = "TracesiteHeatmap.instances[0]"
N = 60
MASKED = range(0, 5)  # positions (0-based) the loss mask hides
WORDS = ["a", "b", "c", "d", "e", "f", "g", "h"]


def channel_trace() -> Trace:
    rng = np.random.default_rng(7)
    lp = -rng.exponential(0.5, N)
    train = lp + rng.normal(0, 0.08, N)
    train[20] -= 2.0  # a trainer/sampler mismatch
    entropy = rng.exponential(0.6, N)
    entropy[33] = 3.5  # an entropy spike
    mask = np.ones(N)
    mask[list(MASKED)] = 0
    return Trace(
        tokens=[f" {WORDS[i % len(WORDS)]}" for i in range(N)],
        logprobs=lp,
        channels={
            "train_logprob": train,
            "entropy": entropy,
            "advantage": np.linspace(-1.0, 1.5, N),
            "mask": mask,
        },
        meta=TraceMeta(model="rollout"),
    )


@pytest.fixture(scope="module")
def page_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("channel-pages")
    tracesite.save(channel_trace(), folder / "rollout.json")
    return render_file(folder / "rollout.json", None)


@pytest.fixture(scope="module")
def trace(page_file: Path) -> Trace:
    """The trace as the page's reader read it back (what the page shows)."""
    return load(page_file.with_suffix(".json"))[0]


@pytest.fixture
def rollout(browser: Any, page_file: Path) -> Iterator[Any]:
    with new_page(browser, page_file.as_uri(), viewport={"width": 1280, "height": 1000}) as (
        page,
        record,
    ):
        page.wait_for_selector(".tsh[data-ready='1']", timeout=TIMEOUT)
        yield page
        assert record.errors == []


# ----------------------------------------------------------------------------- helpers
def looks(trace: Trace) -> dict[str, dict[str, Any]]:
    """Every mode's look as the page's config has it (palettes resolved)."""
    pack = pack_channels(trace)
    assert pack is not None
    modes: dict[str, dict[str, Any]] = {**modes_config(), **pack.modes}
    modes["probability"] = {**modes["probability"], "range": [0.0, 1.0]}
    return {
        k: {**v, "colors": v.get("colors") or modes[v["as"]]["colors"]} for k, v in modes.items()
    }


def expected_colour(look: dict[str, Any], v: float) -> str:
    """The palette colour Bokeh's LinearColorMapper gives value ``v`` (64 interpolated steps)."""
    steps = bokeh_steps(tuple(look["colors"]))
    lo, hi = look["range"]
    k = max(0, min(len(steps) - 1, math.floor((v - lo) / (hi - lo) * len(steps))))
    return steps[k]


def rgb(hex_colour: str) -> tuple[int, int, int]:
    return (int(hex_colour[1:3], 16), int(hex_colour[3:5], 16), int(hex_colour[5:7], 16))


def settle(page: Any) -> None:
    """Wait until BokehJS has painted (two animation frames)."""
    page.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def pixel(page: Any, index: int) -> tuple[int, int, int]:
    """The canvas colour inside position ``index``'s chosen cell, left of its labels."""
    from PIL import Image

    at = page.evaluate(
        f"(() => {{ const h = {H}, p = h.cellPoint({index}, 0), w = h.frameBox().width / h.cfg.C;"
        " return {x: Math.round(p.x - 0.3 * w), y: Math.round(p.y)}; })()"
    )
    png = page.screenshot(clip={"x": at["x"], "y": at["y"], "width": 1, "height": 1})
    r, g, b = Image.open(io.BytesIO(png)).convert("RGB").getpixel((0, 0))
    return (r, g, b)


def close(a: tuple[int, ...], b: tuple[int, ...], tol: int = 3) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


def select(page: Any, mode: str) -> None:
    page.select_option(".tsh-mode", mode)
    page.wait_for_selector(f".tsh[data-mode='{mode}']")
    settle(page)


def colour_value(trace: Trace, name: str, i: int) -> float:
    """A position's value in a channel's mode, as the page computes it (float32 data)."""
    v = float(np.float32(trace.channel(name)[i]))
    if name in ("delta_logprob", "ratio"):
        d = float(np.float32(trace.channel("train_logprob")[i])) - float(
            np.float32(trace.logprobs[i])
        )
        v = math.exp(d) if name == "ratio" else d
    return math.exp(v) if name == "train_logprob" else v


def js_number(v: float) -> str:
    """channels.js number()."""
    if math.isnan(v):
        return "not given"
    a = abs(v)
    if v == int(v) and a < 1e9:
        return str(int(v))
    if a >= 1e5 or a < 1e-3:
        mantissa, exp = f"{v:.2e}".split("e")
        return f"{mantissa}e{'+' if int(exp) >= 0 else '-'}{abs(int(exp))}"
    return f"{v:.{1 if a >= 100 else 4}f}"


# ----------------------------------------------------------------------------- tests
def test_the_mode_switch_offers_each_channel(rollout: Any) -> None:
    values = rollout.eval_on_selector_all(".tsh-mode option", "os => os.map(o => o.value)")
    assert values == [
        "probability",
        "entropy",
        "surprisal",
        "ch:train_logprob",
        "ch:entropy",
        "ch:advantage",
        "ch:delta_logprob",
        "ch:ratio",
    ]


def test_switching_to_a_channel_recolours_the_cells_and_retitles_the_bar(
    rollout: Any, trace: Trace
) -> None:
    page = rollout
    modes = looks(trace)
    probe = [10, 20, 33, 45, 59]  # unmasked positions
    before = [pixel(page, i) for i in probe]
    seen = {"probability": before}
    for name in ("train_logprob", "entropy", "advantage", "delta_logprob", "ratio"):
        mode = "ch:" + name
        select(page, mode)
        look = modes[mode]
        assert page.evaluate(f"{H}.m.bar.title") == look["title"]
        assert page.evaluate(f"[{H}.m.mapper.low, {H}.m.mapper.high]") == pytest.approx(
            look["range"]
        )
        assert page.evaluate(f"Array.from({H}.m.bar.ticker.ticks)") == pytest.approx(look["ticks"])
        d = cells(page)
        for i, k, v in zip(d["i"], d["k"], d["v"], strict=True):
            assert k == -1  # no alternatives: one cell per position
            assert v == pytest.approx(colour_value(trace, name, i), rel=1e-5, abs=1e-6), (name, i)
        got = [pixel(page, i) for i in probe]
        for i, colour in zip(probe, got, strict=True):
            want = rgb(expected_colour(look, colour_value(trace, name, i)))
            assert close(colour, want), (name, i, colour, want)
        seen[mode] = got
        note = page.inner_text(".tsh-scale")
        assert note == look["note"]
    assert len({tuple(v) for v in seen.values()}) == len(seen)  # every mode looks different
    # advantage runs from -1 to 1.5 across the trace: red at the start, blue at the end
    select(page, "ch:advantage")
    first, last = pixel(page, 10), pixel(page, 59)
    assert first[0] > first[2] and last[2] > last[0]
    select(page, "probability")
    assert page.evaluate(f"{H}.m.bar.title") == "Probability"
    assert [pixel(page, i) for i in probe] == before


def test_masked_positions_are_dimmed_in_every_mode(rollout: Any, trace: Trace) -> None:
    page = rollout
    for mode in ("probability", "ch:entropy", "ch:advantage"):
        select(page, mode)
        masked = page.evaluate(
            f"[...{H}.m.masked.data.x].map((x, k) => [x, {H}.m.masked.data.y[k]])"
        )
        d = cells(page)
        where = {i: [x, y] for i, x, y in zip(d["i"], d["x"], d["y"], strict=True)}
        assert masked == [where[i] for i in MASKED]
        # a white veil over the cell: its colour is paler than the mode gives an unmasked cell
        look = looks(trace)[mode]
        for i in MASKED:
            v = d["v"][d["i"].index(i)]
            full = rgb(expected_colour(look, v)) if v is not None else (228, 228, 228)
            shown = pixel(page, i)
            veiled = tuple(round(0.62 * 255 + 0.38 * c) for c in full)
            assert close(shown, veiled, tol=4), (mode, i, shown, veiled)


def test_hover_on_a_masked_cell_says_so_and_lists_every_channel(rollout: Any, trace: Trace) -> None:
    page = rollout
    tip = hover(page, 2)
    assert "Position 3 · chosen token" in tip and "masked (not in the loss)" in tip
    f32 = {name: float(np.float32(trace.channel(name)[2])) for name in trace.channels}
    train, lp = f32["train_logprob"], float(np.float32(trace.logprobs[2]))
    lines = {
        "train_logprob": f"{js_number(train)} nats (p {math.exp(train):.4f})",
        "entropy": js_number(f32["entropy"]),
        "advantage": js_number(f32["advantage"]),
        "mask": "0 (masked)",
        "delta_logprob": f"{js_number(train - lp)} nats",
        "ratio": js_number(math.exp(train - lp)),
    }
    assert list(lines) == [n for n in trace.channel_names if n != "logprob"]
    for name, text in lines.items():
        assert f"{name}\n{text}" in tip, (name, text, tip)
    assert f"logprob\n{lp:.4f}" in tip  # the sampler's, as before
    # no alternatives anywhere: nothing about them (SPEC §15 "simply absent")
    for absent in ("rank", "alternatives", "lower bound", "rest of vocabulary"):
        assert absent not in tip
    tip = hover(page, 30)
    assert "masked" not in tip and "mask\n1" in tip


def test_the_text_view_follows_the_colour_mode(rollout: Any, trace: Trace) -> None:
    page = rollout

    def backgrounds() -> list[str]:
        return list(
            page.eval_on_selector_all(
                ".tsv span[id^='tok-']", "ss => ss.map(s => getComputedStyle(s).backgroundColor)"
            )
        )

    def inline() -> list[str]:
        return list(
            page.eval_on_selector_all(".tsv span[id^='tok-']", "ss => ss.map(s => s.style.cssText)")
        )

    by_class = backgrounds()
    assert all(s == "" for s in inline())  # the probability mode: the page's own classes
    modes = looks(trace)
    for name in ("entropy", "advantage", "delta_logprob"):
        mode = "ch:" + name
        select(page, mode)
        assert page.get_attribute(".tsh", "data-text-mode") == mode
        got = backgrounds()
        for i in (10, 20, 33, 59):
            r, g, b = rgb(expected_colour(modes[mode], colour_value(trace, name, i)))
            assert got[i] == f"rgb({r}, {g}, {b})", (mode, i)
    select(page, "surprisal")  # the built-in modes too
    assert backgrounds() != by_class
    select(page, "probability")
    assert backgrounds() == by_class and all(s == "" for s in inline())
    classes = page.eval_on_selector_all(".tsv span[id^='tok-']", "ss => ss.map(s => s.className)")
    assert [("mk" in c.split()) for c in classes] == [i in MASKED for i in range(N)]
    assert page.evaluate("getComputedStyle(document.getElementById('tok-1')).opacity") == "0.45"


def test_a_built_site_page_loads_the_channel_code(tmp_path: Path, browser: Any) -> None:
    from conftest import run_cli

    (tmp_path / "content").mkdir()
    tracesite.save(channel_trace(), tmp_path / "content" / "rollout.json")
    r = run_cli("build", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    url = (tmp_path / "site" / "traces" / "rollout" / "index.html").as_uri()
    with new_page(browser, url, viewport={"width": 1280, "height": 1000}) as (page, record):
        page.wait_for_selector(".tsh[data-ready='1']", timeout=TIMEOUT)
        assert page.evaluate(f"{H}.ch !== null && {H}.masked.length") == N
        select(page, "ch:entropy")
        assert page.evaluate(f"{H}.m.bar.title") == "entropy"
        assert "masked (not in the loss)" in hover(page, 0)
        assert record.errors == []
