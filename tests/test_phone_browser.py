"""The trace page on a phone (390 × 844, touch) and by keyboard, in a real browser.

The page is ``tracesite render`` of the seed figure (97 tokens, 20 columns on a desktop), opened
from file:// in Debian's Chromium with a mobile, touch viewport.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from browser_helpers import new_page
from tracesite import Trace, save
from tracesite.commands.render import render_file
from tracesite.formats import load

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
FIGURE = REPO / "content" / "figure" / "forty-three-squared.json"
TIMEOUT = 15_000
H = "TracesiteHeatmap.instances[0]"
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "has_touch": True,
    "is_mobile": True,
    "device_scale_factor": 2,
}


@pytest.fixture(scope="module")
def figure_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("phone-pages")
    shutil.copy(FIGURE, folder / "figure.json")
    shutil.copy(FIGURE.with_suffix(".md"), folder / "figure.md")
    return render_file(folder / "figure.json", None)


@pytest.fixture
def phone(browser: Any, figure_page: Path) -> Iterator[Any]:
    with new_page(browser, figure_page.as_uri(), **PHONE) as (page, record):
        page.wait_for_selector(".tsh[data-ready='1']", timeout=TIMEOUT)
        yield page
        assert record.errors == []


def tip_text(page: Any) -> str:
    return str(page.inner_text(".tsh-tip"))


def tap_cell(page: Any, index: int, slot: int = 0) -> None:
    """Tap position ``index``'s cell (slot 0 the chosen token, 1.. alternatives)."""
    point = page.evaluate(f"{H}.cellPoint({index}, {slot})")
    assert point, f"position {index + 1} is not in view"
    page.touchscreen.tap(point["x"], point["y"])


def test_a_phone_gets_fewer_wider_columns_and_no_horizontal_scroll(phone: Any) -> None:
    columns = phone.evaluate(f"{H}.C")
    assert 4 <= columns < 20  # re-flowed from the embed's 20
    assert phone.get_attribute(".tsh", "data-columns") == str(columns)
    width = phone.evaluate(f"{H}.frameWidth() / {H}.C")
    assert width >= 36  # a readable cell: token text and p legible
    assert phone.evaluate("document.scrollingElement.scrollWidth") <= 390
    # the rows follow the new columns: position columns+1 starts the second row, under the first
    first, second = (phone.evaluate(f"{H}.cellPoint({i}, 0)") for i in (0, columns))
    assert abs(first["x"] - second["x"]) < 1 and second["y"] > first["y"]
    drawn = phone.evaluate(
        f"(() => {{ const d = {H}.m.cells.data; return [...d.t].filter((t, k) => d.k[k] === -1); }})()"
    )
    cut = [t for t in drawn if t.endswith("…")]
    assert len(cut) < len(drawn) / 4  # most tokens readable whole (20 columns cut nearly all)


def test_tapping_a_cell_opens_its_tooltip_and_tapping_elsewhere_closes_it(phone: Any) -> None:
    trace = load(FIGURE)[0]
    tap_cell(phone, 1)
    phone.wait_for_selector(".tsh-tip:not([hidden])", timeout=TIMEOUT)
    tip = tip_text(phone)
    assert "Position 2 · chosen token" in tip and f'"{trace.tokens[1]}"' in tip
    assert f"p\n{math.exp(trace.logprobs[1]):.4f}" in tip
    box = phone.locator(".tsh-tip").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390  # on screen
    assert phone.get_attribute(".tsh", "data-target") == "2"
    tap_cell(phone, 0, slot=1)  # an alternative: "First" under "To"
    phone.wait_for_function(
        "document.querySelector('.tsh-tip').dataset.cell === '0:1'", timeout=TIMEOUT
    )
    assert 'Position 1 · alternative\n"First"' in tip_text(phone)
    phone.touchscreen.tap(195, 60)  # the page header, outside the heatmap
    phone.wait_for_selector(".tsh-tip", state="hidden", timeout=TIMEOUT)
    assert phone.evaluate("document.scrollingElement.scrollWidth") <= 390


def test_the_reflowed_heatmap_follows_pos_links(browser: Any, figure_page: Path) -> None:
    with new_page(browser, figure_page.as_uri() + "#pos-60", **PHONE) as (page, record):
        page.wait_for_selector(".tsh[data-ready='1']", timeout=TIMEOUT)
        assert page.get_attribute(".tsh", "data-target") == "60"
        assert page.evaluate(f"{H}.cellPoint(59, 0)") is not None  # scrolled into the viewport
        tap_cell(page, 59)
        page.wait_for_selector(".tsh-tip:not([hidden])", timeout=TIMEOUT)
        assert "Position 60 · chosen token" in tip_text(page)
        assert record.errors == []


def test_desktop_keeps_the_embeds_twenty_columns(browser: Any, figure_page: Path) -> None:
    with new_page(browser, figure_page.as_uri(), viewport={"width": 1400, "height": 1000}) as (
        page,
        record,
    ):
        page.wait_for_selector(".tsh[data-ready='1']", timeout=TIMEOUT)
        assert page.evaluate(f"[{H}.C, {H}.rows]") == [20, 5]
        assert page.locator(".tsh-overview").count() == 0  # 5 rows fit: nothing scrolls
        assert record.errors == []


@pytest.fixture(scope="module")
def rollout_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A rollout with eight channels: its tooltip is taller than half a phone screen."""
    folder = tmp_path_factory.mktemp("phone-rollout")
    n = 120
    rng = [((k * 37) % 100) / 100 for k in range(n)]
    trace = Trace(
        tokens=[f" w{k}" for k in range(n)],
        logprobs=[-0.05 - r for r in rng],
        channels={
            "train_logprob": [-0.06 - r for r in rng],
            "ref_logprob": [-0.1 - r for r in rng],
            "entropy": [0.2 + r for r in rng],
            "advantage": [0.5] * n,
            "mask": [1.0] * n,
        },
    )
    save(trace, folder / "rollout.json")
    return render_file(folder / "rollout.json", None)


def test_a_tall_tooltip_is_a_sheet_wholly_on_screen_and_off_the_tapped_cell(
    browser: Any, rollout_page: Path
) -> None:
    with new_page(browser, rollout_page.as_uri(), **PHONE) as (page, record):
        page.wait_for_selector(".tsh[data-ready='1']", timeout=TIMEOUT)
        columns = page.evaluate(f"{H}.C")
        page.evaluate("document.querySelector('.tsh-plot').scrollIntoView()")
        page.evaluate("window.scrollBy(0, -120)")  # the plot's top 120 px down the screen
        halves = set()
        for row in (0, 7):  # a cell high on the screen, then one low down
            index = row * columns + 1
            point = page.evaluate(f"{H}.cellPoint({index}, 0)")
            assert point, f"row {row} is not on screen"
            halves.add(point["y"] > 422)
            tap_cell(page, index)
            page.wait_for_function(
                f"document.querySelector('.tsh-tip').dataset.cell === '{index}:-1'",
                timeout=TIMEOUT,
            )
            assert "ref_log_ratio" in tip_text(page)  # the whole channel list is there
            box = page.locator(".tsh-tip").bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= 390
            assert box["y"] >= 0 and box["y"] + box["height"] <= 844  # nothing cut off
            assert not (box["y"] <= point["y"] <= box["y"] + box["height"])  # the cell shows
            # the top of the tooltip is the tooltip, not clipped away by the heatmap's panel
            top = page.evaluate(
                f"document.elementFromPoint({box['x'] + 20}, {box['y'] + 12})"
                ".closest('.tsh-tip') !== null"
            )
            assert top, f"row {row}: the tooltip's first line is hidden"
            page.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + 12)  # a tap on it
            page.wait_for_selector(".tsh-tip", state="hidden", timeout=TIMEOUT)  # closes it
        assert halves == {False, True}  # both placements were tried
        assert record.errors == []
