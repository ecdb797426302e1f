"""The viewer (``view/index.html?t=<shard>.<k>#pos-N``) in a real browser.

A gallery past ``[build] max_pages`` gives traces without a note no page; their cards link to the
viewer, which draws the trace from its token shard. It must show what the trace's own page would:
here the same trace rendered by ``tracesite render`` is the reference, position by position.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

import tracesite
from browser_helpers import new_page
from conftest import run_cli
from tracesite.commands.render import render_file
from tracesite.model.trace import Candidate, Position, Trace, TraceMeta

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

from synth_rollouts import demo_table, step_table  # noqa: E402

FIGURE = REPO / "content" / "figure" / "forty-three-squared.json"
TIMEOUT = 15_000
H = "TracesiteHeatmap.instances[0]"
DESKTOP = {"viewport": {"width": 1300, "height": 1000}}


def channel_trace(n: int = 80) -> Trace:
    rng = np.random.default_rng(3)
    lp = -rng.exponential(0.5, n)
    mask = np.ones(n)
    mask[:4] = 0
    return Trace(
        tokens=[f" w{i % 7}" for i in range(n)],
        logprobs=lp,
        channels={
            "train_logprob": lp + rng.normal(0, 0.05, n),
            "advantage": np.linspace(-1.0, 1.0, n),
            "mask": mask,
        },
        meta=TraceMeta(model="rollout-model"),
    )


def byte_trace() -> Trace:
    """A trace whose em dash is split over two tokens (raw bytes, not valid UTF-8 alone): its
    token shard entry keeps its own string table, beside traces sharing the shard's."""
    return Trace.from_positions(
        [
            Position(Candidate(" A", -0.1)),
            Position(
                Candidate("\u2014", -0.4, b"\xe2\x80"),
                [Candidate("\u2014", -0.4, b"\xe2\x80"), Candidate(" B", -2.0)],
            ),
            Position(Candidate("?", -0.2, b"\x94")),
            Position(Candidate(" done", -0.3)),
            Position(Candidate(" \u202eevil", -0.5)),  # a bidi override: shown as its code
        ],
        TraceMeta(model="byte-model"),
    )


def shard_payload(path: Path) -> Any:
    """The payload of a shard file: ``window.TRACESITE_SHARD("name", payload);``."""
    text = path.read_text(encoding="utf-8")
    return json.loads(text[text.index(",") + 1 : text.rindex(")")])


@pytest.fixture(scope="module")
def gallery(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A built gallery where every trace is in the viewer, and each trace's own render."""
    root = tmp_path_factory.mktemp("viewer") / "proj"
    runs = root / "content" / "runs"
    runs.mkdir(parents=True)
    (root / "tracesite.toml").write_text("[build]\nmax_pages = 1\n", encoding="utf-8")
    shutil.copy(FIGURE, runs / "figure.json")
    tracesite.save(channel_trace(), runs / "rollout.json")
    tracesite.save(byte_trace(), runs / "bytes.json")
    result = run_cli("build", cwd=root)
    assert result.returncode == 0, result.stderr
    site = root / "site"
    cards = shard_payload(site / "assets" / "index" / "cards-0.js")
    urls = {Path(c["t"]).stem: c["u"] for c in cards}
    refs = root / "refs"
    refs.mkdir()
    pages = {}
    for name in ("figure", "rollout", "bytes"):
        shutil.copy(runs / f"{name}.json", refs / f"{name}.json")
        pages[name] = render_file(refs / f"{name}.json", None)
    return {"site": site, "urls": urls, "pages": pages, "cards": cards}


@pytest.fixture(scope="module")
def rollouts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A built gallery of two rollout tables (a GRPO group with a mask and advantages; long
    rollouts with sampler, trainer and entropy channels), every row drawn by the viewer."""
    root = tmp_path_factory.mktemp("viewer-rollouts") / "proj"
    tables = root / "content" / "rollouts"
    tables.mkdir(parents=True)
    (root / "tracesite.toml").write_text("[build]\nmax_pages = 1\n", encoding="utf-8")
    pq.write_table(demo_table(), tables / "grpo.parquet")
    pq.write_table(step_table(2, 900, seed=5, group=2), tables / "step.parquet")
    result = run_cli("build", cwd=root)
    assert result.returncode == 0, result.stderr
    site = root / "site"
    cards = shard_payload(site / "assets" / "index" / "cards-0.js")
    return {"site": site, "urls": {c["t"]: c["u"] for c in cards}}


def viewer_url(gallery: dict[str, Any], name: str, hash_: str = "") -> str:
    url = gallery["urls"][name]
    assert url.startswith("view/index.html?t="), url  # past max_pages: no page of its own
    return (
        (gallery["site"] / "view" / "index.html").as_uri() + url[len("view/index.html") :] + hash_
    )


@pytest.fixture
def open_page(browser: Any) -> Iterator[Any]:
    records = []

    def opener(url: str, **options: Any) -> Any:
        cm = new_page(browser, url, **(options or DESKTOP))
        page, record = cm.__enter__()
        records.append((cm, record))
        page.wait_for_selector(".tsh[data-ready='1']", timeout=TIMEOUT)
        return page

    yield opener
    for cm, record in records:
        cm.__exit__(None, None, None)
        assert record.errors == [] and record.dialogs == []


def hover_tip(page: Any, index: int, slot: int = 0) -> str:
    point = page.evaluate(f"{H}.cellPoint({index}, {slot})")
    assert point, f"position {index + 1} is not in view"
    page.mouse.move(point["x"], point["y"])
    page.wait_for_function(
        "(c) => { const t = document.querySelector('.tsh-tip'); "
        "return !t.hidden && t.dataset.cell.startsWith(c); }",
        arg=f"{index}:",
        timeout=TIMEOUT,
    )
    return str(page.inner_text(".tsh-tip"))


NUMBER = re.compile(r"-?\d+\.\d+")


def assert_same_tip(viewer_tip: str, page_tip: str) -> None:
    """The same tooltip, but for channel values: a token shard may store a channel as float16
    when it reads back within 5e-4 relative (build/shards.py honest_f16), so a value's fourth
    decimal may differ."""
    assert NUMBER.split(viewer_tip) == NUMBER.split(page_tip)
    got = [float(x) for x in NUMBER.findall(viewer_tip)]
    want = [float(x) for x in NUMBER.findall(page_tip)]
    assert got == pytest.approx(want, rel=1e-3, abs=2e-4)


def test_the_viewer_opens_a_trace_at_a_position_as_its_page_would(
    gallery: dict[str, Any], open_page: Any
) -> None:
    viewer = open_page(viewer_url(gallery, "figure", "#pos-30"))
    page = open_page(gallery["pages"]["figure"].as_uri() + "#pos-30")
    assert viewer.get_attribute(".tsh", "data-target") == "30"
    assert "tsv-target" in (viewer.get_attribute("#tok-30", "class") or "")
    assert viewer.evaluate(f"[{H}.n, {H}.C]") == [97, 20]
    for index, slot in ((29, 0), (29, 1), (0, 0), (35, 1), (96, 0)):
        assert hover_tip(viewer, index, slot) == hover_tip(page, index, slot)
    drawn = f"(() => {{ const d = {H}.m.cells.data; return [[...d.t], [...d.pt], [...d.la]]; }})()"
    assert viewer.evaluate(drawn) == page.evaluate(drawn)  # every cell drawn the same
    # the text view: the same tokens, coloured the same
    spans = (
        "[...document.querySelectorAll('.tsv span')].map(s => [s.id, s.textContent, s.className])"
    )
    assert viewer.evaluate(spans) == page.evaluate(spans)
    # title and statistics from the trace's card
    card = next(c for c in gallery["cards"] if c["u"] == gallery["urls"]["figure"])
    assert viewer.inner_text("h1") == card["t"]
    assert "97 tokens" in viewer.inner_text(".viewer-meta")
    assert f"{card['p']:.3f}" in viewer.inner_text(".viewer-stats")


def test_a_shard_shared_by_traces_with_and_without_raw_bytes_draws_each_as_its_page(
    gallery: dict[str, Any], open_page: Any
) -> None:
    """The figure and the rollout read the shard's string table; the byte trace its own, with
    the raw bytes the tooltip shows in hex."""
    shards = {gallery["urls"][n].split("=")[1].split(".")[0] for n in ("figure", "bytes")}
    assert len(shards) == 1  # one shard holds them both
    payload = shard_payload(gallery["site"] / "assets" / "tokens" / f"{shards.pop()}.js")
    assert "strings" in payload and sorted("st" in t for t in payload["traces"]) == [
        False,
        True,
        True,
    ]
    viewer = open_page(viewer_url(gallery, "bytes"))
    page = open_page(gallery["pages"]["bytes"].as_uri())
    for index, slot in ((0, 0), (1, 0), (1, 1), (2, 0), (3, 0), (4, 0)):
        assert hover_tip(viewer, index, slot) == hover_tip(page, index, slot)
    assert "e2 80" in hover_tip(viewer, 1).lower()
    spans = "[...document.querySelectorAll('.tsv span')].map(s => [s.textContent, s.className])"
    assert viewer.evaluate(spans) == page.evaluate(spans)
    assert viewer.inner_text("#tok-5") == " \u27e8U+202E\u27e9evil"


def test_the_viewer_draws_channels_and_the_masked_positions(
    gallery: dict[str, Any], open_page: Any
) -> None:
    viewer = open_page(viewer_url(gallery, "rollout", "#pos-2"))
    page = open_page(gallery["pages"]["rollout"].as_uri())
    tip = hover_tip(viewer, 1)
    assert_same_tip(tip, hover_tip(page, 1))
    assert_same_tip(hover_tip(viewer, 40), hover_tip(page, 40))
    assert "Channels at position 2" in tip and "masked (not in the loss)" in tip
    assert "advantage" in tip
    modes = "[...document.querySelectorAll('.tsh-mode option')].map(o => o.value)"
    assert set(page.evaluate(modes)) <= set(viewer.evaluate(modes))
    viewer.select_option(".tsh-mode", "ch:advantage")
    viewer.wait_for_selector(".tsh[data-mode='ch:advantage']")
    page.select_option(".tsh-mode", "ch:advantage")
    page.wait_for_selector(".tsh[data-mode='ch:advantage']")
    colours = f"Array.from({H}.m.cells.data.v)"
    assert viewer.evaluate(colours) == pytest.approx(page.evaluate(colours), abs=1e-3)
    assert viewer.evaluate(f"{H}.m.masked.data.x.length") == 4


def test_the_viewer_on_a_phone_reflows_and_follows_hash_changes(
    gallery: dict[str, Any], open_page: Any
) -> None:
    phone = {
        "viewport": {"width": 390, "height": 844},
        "has_touch": True,
        "is_mobile": True,
    }
    viewer = open_page(viewer_url(gallery, "figure", "#pos-90"), **phone)
    assert viewer.evaluate(f"{H}.C") < 20
    assert viewer.evaluate(f"{H}.cellPoint(89, 0)") is not None
    assert viewer.evaluate("document.scrollingElement.scrollWidth") <= 390
    viewer.evaluate("location.hash = '#pos-3'")
    viewer.wait_for_selector(".tsh[data-target='3']")


@pytest.mark.parametrize("name", ["grpo.parquet #2", "step.parquet #1"])
def test_a_rollout_opens_in_the_viewer_in_every_colour_mode_without_errors(
    rollouts: dict[str, Any], browser: Any, name: str
) -> None:
    """Token shards leave out the built-in colour modes (the viewer page carries them once): a
    rollout with channels still draws, scrolls (its overview strip) and switches to every mode,
    channel or built-in, with no console error."""
    url = viewer_url(rollouts, name, "#pos-5")
    with new_page(browser, url, **DESKTOP) as (page, record):
        page.wait_for_selector(".tsh[data-ready='1']", timeout=TIMEOUT)
        page.wait_for_selector(".viewer-status", state="hidden", timeout=TIMEOUT)
        assert page.get_attribute(".tsh", "data-target") == "5"
        long = name.startswith("step")
        assert page.locator(".tsh-overview").count() == (1 if long else 0)
        modes = page.eval_on_selector_all(".tsh-mode option", "os => os.map(o => o.value)")
        assert {"probability", "entropy", "surprisal"} <= set(modes)
        assert any(m.startswith("ch:") for m in modes)
        for mode in modes:
            page.select_option(".tsh-mode", mode)
            page.wait_for_selector(f".tsh[data-mode='{mode}']", timeout=TIMEOUT)
            look = page.evaluate(f"[{H}.m.bar.title, {H}.cfg.modes[{json.dumps(mode)}].title]")
            assert look[0] == look[1], mode
        assert record.errors == [] and record.dialogs == []


def test_a_viewer_url_of_no_trace_says_so(gallery: dict[str, Any], browser: Any) -> None:
    url = (gallery["site"] / "view" / "index.html").as_uri() + "?t=nosuch.0"
    with new_page(browser, url) as (page, record):
        page.wait_for_function(
            "document.querySelector('.viewer-status').textContent.includes('could not be loaded')",
            timeout=TIMEOUT,
        )
        assert page.evaluate("TracesiteHeatmap.instances.length") == 0
        assert record.dialogs == []
