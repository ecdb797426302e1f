"""``tracesite render FILE``: one trace, one self-contained HTML file that works offline."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from browser_helpers import new_page
from conftest import native_trace, run_cli
from tracesite.core.errors import TraceReadError
from tracesite.render.page import render_file

REPO = Path(__file__).resolve().parents[1]
FIGURE = REPO / "content" / "figure" / "forty-three-squared.json"


def write(path: Path, obj: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj), encoding="utf-8")
    return path


def test_render_writes_one_file_with_everything_inlined(tmp_path: Path) -> None:
    src = write(tmp_path / "run.json", native_trace(40, model="m-1"))
    out = render_file(src, tmp_path / "out.html")
    page = out.read_text(encoding="utf-8")
    assert out == tmp_path / "out.html"
    assert "<script src=" not in page and "<link " not in page  # nothing to fetch
    assert "Bokeh" in page and "TracesiteHeatmap" in page and ".tsh-tip" in page
    assert page.count("<span id=tok-") == 40  # the text view
    assert "<title>run</title>" in page and "m-1" in page


def test_default_output_is_beside_the_input(tmp_path: Path) -> None:
    src = write(tmp_path / "a" / "run.json", native_trace(5))
    assert render_file(src, None) == tmp_path / "a" / "run.html"


def test_a_note_beside_the_trace_gives_title_and_highlights(tmp_path: Path) -> None:
    src = write(tmp_path / "run.json", native_trace(30))
    (tmp_path / "run.md").write_text(
        "---\ntitle: My <run>\nhighlight: [{from: 4, to: 9, label: the bit}]\n---\nSome *words*.\n",
        encoding="utf-8",
    )
    page = render_file(src, None).read_text(encoding="utf-8")
    assert "<title>My &lt;run&gt;</title>" in page
    assert '<a href="#pos-4">4–9</a> the bit' in page
    assert "<em>words</em>" in page


def test_a_missing_index_is_an_addressed_error(tmp_path: Path) -> None:
    src = write(tmp_path / "run.json", native_trace(5))
    with pytest.raises(TraceReadError, match=r"no trace at index 3: the file holds 1") as exc:
        render_file(src, None, index=3)
    assert exc.value.path == str(src)


def test_cli_render_and_its_errors(tmp_path: Path) -> None:
    src = write(tmp_path / "run.json", native_trace(8))
    ok = run_cli("render", str(src), "-o", str(tmp_path / "x.html"))
    assert ok.returncode == 0 and "wrote" in ok.stdout and (tmp_path / "x.html").is_file()
    (tmp_path / "bad.json").write_text('{"tracesite": 1, "tokens": [{"text": 3}]}')
    bad = run_cli("render", str(tmp_path / "bad.json"))
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert re.search(r"bad\.json: \$\.tokens\[0\]\.text: expected a string", bad.stderr)
    missing = run_cli("render", str(src), "--index", "2")
    assert missing.returncode == 1 and "no trace at index 2" in missing.stderr


@pytest.mark.browser
def test_the_file_opens_from_file_url_with_the_network_blocked(tmp_path: Path, browser) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "figure.json"
    shutil.copy(FIGURE, src)
    shutil.copy(FIGURE.with_suffix(".md"), src.with_suffix(".md"))
    out = render_file(src, None)
    with new_page(browser, out.as_uri(), block_network=True) as (page, record):
        page.wait_for_selector(".tsh[data-ready='1']", timeout=15_000)
        assert page.evaluate("TracesiteHeatmap.instances[0].n") == 97
        point = page.evaluate("TracesiteHeatmap.instances[0].cellPoint(35, 0)")
        page.mouse.move(point["x"], point["y"])
        page.wait_for_selector(".tsh-tip:not([hidden])")
        assert "Position 36" in page.inner_text(".tsh-tip")
        assert record.requests == [], record.requests  # nothing was even attempted
        assert record.errors == []
