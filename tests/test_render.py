"""``tracesite render FILE``: one trace, one self-contained HTML file made from the theme's trace
page, that opens with no network."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from browser_helpers import new_page
from conftest import native_trace, run_cli
from htmlcheck import parse
from test_heatmap import HOSTILE, data_columns, synthetic_trace
from tracesite.commands.render import render_file
from tracesite.core.errors import TraceReadError
from tracesite.render.assets import bokeh_js_files

REPO = Path(__file__).resolve().parents[1]
FIGURE = REPO / "content" / "figure" / "forty-three-squared.json"
NOTE = (
    "---\ntitle: My <run>\ndescription: A short run.\ntags: [alpha, beta]\n"
    "highlight: [{from: 4, to: 9, label: the bit}]\n---\nSome *words*.\n"
)


def write(path: Path, obj: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj), encoding="utf-8")
    return path


class Outline(HTMLParser):
    """What a reader sees of a page's structure: headings, table and list labels, links."""

    WATCHED = ("title", "h1", "h2", "th", "dt", "a")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: dict[str, list[str]] = {t: [] for t in self.WATCHED}
        self.hrefs: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.WATCHED:
            self.open.append(tag)
            self.found[tag].append("")
        if tag == "a":
            self.hrefs.append(dict(attrs).get("href") or "")

    def handle_endtag(self, tag: str) -> None:
        if self.open and self.open[-1] == tag:
            self.open.pop()

    def handle_data(self, data: str) -> None:
        if self.open:
            self.found[self.open[-1]][-1] += data


def outline(page: Path | str) -> Outline:
    o = Outline()
    o.feed(page.read_text(encoding="utf-8") if isinstance(page, Path) else page)
    return o


def external_refs(html: str) -> list[str]:
    """Every URL the page would fetch or link to outside itself (all but ``#...`` and data:)."""
    page = parse(html)
    refs = [v for e in page.elements for k, v in e.attrs.items() if k in ("src", "href") and v]
    return [r for r in refs if not r.startswith(("#", "data:"))]


# ------------------------------------------------------------------------------------ the file
def test_render_writes_one_file_with_everything_inlined(tmp_path: Path) -> None:
    src = write(tmp_path / "run.json", native_trace(40, model="m-1"))
    out = render_file(src, tmp_path / "out.html")
    page = out.read_text(encoding="utf-8")
    assert out == tmp_path / "out.html"
    assert external_refs(page) == []  # no asset, no gallery link: nothing outside the file
    assert "<link " not in page and "<script src=" not in page
    assert bokeh_js_files()[0][1].decode()[:5000] in page  # BokehJS itself, inlined
    theme = REPO / "themes" / "default" / "static"
    for css in ("style.css", "heatmap/heatmap.css"):  # the theme's CSS, as the site's pages use
        assert (theme / css).read_text(encoding="utf-8")[:300] in page
    assert "TracesiteHeatmap" in page and "theme-toggle" in page
    assert page.count("<span id=tok-") == 40  # the text view
    o = outline(page)
    assert o.found["title"] == ["run.json · tracesite"] and o.found["h1"] == ["run.json"]
    assert "m-1" in page


def test_the_file_is_the_built_trace_page_without_the_gallery(
    make_project: Callable[..., Path],
) -> None:
    proj = make_project(
        {
            "tracesite.toml": '[site]\ntitle = "Evals"\n',
            "content/evals/run.json": native_trace(60, seed=3, model="m-2"),
            "content/evals/run.md": NOTE,
            "content/other.json": native_trace(10),
        }
    )
    assert run_cli("build", str(proj)).returncode == 0
    built = outline(proj / "site" / "traces" / "evals" / "run" / "index.html")
    single = outline(render_file(proj / "content" / "evals" / "run.json", None))
    for part in ("title", "h1", "h2", "th", "dt"):  # the same headings and labels
        assert single.found[part] == built.found[part], part
    assert "Lowest p" in single.found["th"] and "Statistics" in single.found["h2"]
    assert single.found["dt"][-1] == "Source"  # "evals/run.json", as the site names it
    # what is left out: the gallery's navigation, tag pages, previous/next
    assert "Gallery" in built.found["a"] and "Gallery" not in single.found["a"]
    assert any("tags/" in h for h in built.hrefs)
    assert [h for h in single.hrefs if not h.startswith("#")] == []


def test_default_output_is_beside_the_input(tmp_path: Path) -> None:
    src = write(tmp_path / "a" / "run.json", native_trace(5))
    assert render_file(src, None) == tmp_path / "a" / "run.html"


def test_a_note_beside_the_trace_gives_title_tags_and_highlights(tmp_path: Path) -> None:
    src = write(tmp_path / "run.json", native_trace(30))
    (tmp_path / "run.md").write_text(NOTE, encoding="utf-8")
    page = render_file(src, None).read_text(encoding="utf-8")
    o = outline(page)
    assert o.found["h1"] == ["My <run>"] and "<title>My &lt;run&gt; · tracesite</title>" in page
    assert '<a href="#pos-4">the bit</a>' in page  # the highlight, in the marks list
    assert "<em>words</em>" in page and "A short run." in page
    assert '<span class="tag">alpha</span>' in page  # tags, without links to tag pages


def test_marks_list_highlights_and_the_lowest_positions_as_text(tmp_path: Path) -> None:
    src = write(tmp_path / "long.json", native_trace(3000, seed=8))
    (tmp_path / "long.md").write_text(
        f"---\nhighlight: [{{from: 12, to: 12, label: '{HOSTILE}'}}]\n---\n", encoding="utf-8"
    )
    page = render_file(src, None).read_text(encoding="utf-8")
    marks = page[page.index('<section class="marks">') : page.index('<section class="stats">')]
    assert "<img" not in marks and HOSTILE.replace("<", "&lt;").replace(">", "&gt;") in marks
    # each low-confidence link names its position, token and p: 14 " primarily" 0.47
    links = re.findall(r'<a href="#pos-(\d+)">\1 &#34;.*?&#34; 0\.\d\d</a>', marks)
    assert 0 < len(links) <= 50 and links == sorted(links, key=int)
    assert re.search(r"… and \d+ more with p &lt; 0.5", marks)


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


# ------------------------------------------------------------------------------------ theme
def _themed_project(make_project: Callable[..., Path]) -> Path:
    return make_project(
        {
            "tracesite.toml": '[build]\ntheme = "mine"\n[heatmap]\ncolumns = 7\n',
            "themes/mine/templates/trace.html": (
                '{% extends "default:trace.html" %}\n'
                '{% block content %}<p class="mine">MY THEME</p>{{ super() }}{% endblock %}\n'
            ),
            "themes/mine/static/style.css": "/* MY STYLE */ body { background: #fdf6e3; }\n",
            "content/deep/run.json": native_trace(20),
        }
    )


def test_a_theme_override_in_the_project_reaches_the_single_file(
    make_project: Callable[..., Path],
) -> None:
    proj = _themed_project(make_project)
    page = render_file(proj / "content" / "deep" / "run.json", None).read_text(encoding="utf-8")
    assert '<p class="mine">MY THEME</p>' in page  # the project's template (found upwards)
    assert "/* MY STYLE */" in page  # and its static CSS, inlined in place of the built-in one
    assert "--accent:" not in page  # the built-in style.css is not there as well
    assert json.loads(data_columns(page)["cfg"])["C"] == 7  # the project's [heatmap] options
    assert external_refs(page) == []


def test_a_theme_override_reaches_show(
    make_project: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import tracesite

    monkeypatch.chdir(_themed_project(make_project) / "content")
    view: Any = tracesite.show(synthetic_trace(5))
    assert '<p class="mine">MY THEME</p>' in view.page and "/* MY STYLE */" in view.page
    assert '<p class="mine">MY THEME</p>' in view.frame_page


# ------------------------------------------------------------------------------------ browser
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
        # styled by the theme: its layout puts the statistics beside the text
        side = page.locator(".trace-side").bounding_box()
        text = page.locator(".text-view-panel").bounding_box()
        assert side["x"] > text["x"] + text["width"] - 1
        page.click("#theme-toggle")  # the theme's script runs too
        assert page.get_attribute("html", "data-theme") in ("dark", "light")
        assert record.requests == [], record.requests  # nothing was even attempted
        assert record.errors == []
