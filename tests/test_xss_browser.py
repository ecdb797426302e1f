"""Hostile model output and front matter in a real browser (SPEC §13): shown as text, never run.

One project carries the payloads everywhere a user's data reaches a page: token texts and
alternatives, the model name, prompt and finish reason of a trace, a note's title, description,
tags and highlight labels, a file and a section name, the site title, a note link, and a trace
embed. Every page of the built site, and ``tracesite render``'s single file, is opened in
Chromium; on each: no dialog opened, no injected element or script URL exists, and the payloads
are visible as text (cards, titles, tag pages, the text view, hover tooltips, the search box).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tracesite.site.links import script_scheme

TIMEOUT = 20_000

ALERT_SCRIPT = "</script><script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
SVG_DQ = '"><svg onload=alert(1)>'
SVG_SQ = "'><svg onload=alert(1)>"
JINJA_EXPR = "{{ 7*7 }}"
JINJA_RAW = "{% raw %}"
JS_URL = "javascript:alert(1)"
RTL = "\u202eevil"  # RIGHT-TO-LEFT OVERRIDE, then text
NUL = "nul\u0000byte"
LSEP = "line\u2028sep"  # LINE SEPARATOR: a line break for JavaScript string literals of old
PAYLOADS = [ALERT_SCRIPT, IMG, SVG_DQ, SVG_SQ, JINJA_EXPR, JINJA_RAW, JS_URL, RTL, NUL, LSEP]
# What must be readable on the page, as text, for each payload (the markup ones verbatim)
VISIBLE = [ALERT_SCRIPT, IMG, SVG_DQ, SVG_SQ, JINJA_EXPR, JINJA_RAW, JS_URL]


def _trace(tokens: list[str], **meta: object) -> dict[str, object]:
    out = []
    for i, text in enumerate(tokens):
        alts = [tokens[(i + k) % len(tokens)] for k in range(1, 4)]
        top = [{"text": text, "logprob": math.log(0.4)}]
        top += [{"text": a, "logprob": math.log(0.3 - 0.1 * k)} for k, a in enumerate(alts)]
        out.append({"text": text, "logprob": math.log(0.4), "top": top})
    return {"tracesite": 1, **meta, "tokens": out}


def _yaml(value: object) -> str:
    """A YAML scalar or list from JSON (JSON's escapes, including \\u0000, are YAML's too)."""
    return json.dumps(value)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hostile project, built once with the real CLI; returns the project folder."""
    root = tmp_path_factory.mktemp("hostile")
    content = root / "content"
    content.mkdir()
    (root / "tracesite.toml").write_text(
        f'[site]\ntitle = "{IMG} gallery"\ndescription = "{JINJA_EXPR} </script>"\n',
        encoding="utf-8",
    )
    trace = _trace(PAYLOADS, model=IMG + ALERT_SCRIPT + NUL, prompt=SVG_DQ, finish_reason=SVG_SQ)
    (content / "hostile.json").write_text(json.dumps(trace), encoding="utf-8")
    front = {
        "title": f"{IMG} {JINJA_EXPR}",
        "description": f"{SVG_DQ} {JINJA_RAW} {JS_URL} {NUL}",
        "tags": [IMG, ALERT_SCRIPT, JINJA_EXPR, JS_URL, RTL],
        "highlight": [{"from": 1, "to": 2, "label": IMG}],
    }
    note = "---\n" + "".join(f"{k}: {_yaml(v)}\n" for k, v in front.items()) + "---\n"
    note += (
        "A [plain link](javascript:alert(1)), an [encoded one](&#106;avascript:alert(1)), "
        "a [tabbed one](java&#9;script:alert(1)) and [data](data:text/html,<script>alert(1)</script>); "
        "`{{ 7*7 }}` and {% raw %} are text.\n\n```trace\nsrc: hostile.json\npositions: 1-5\n```\n"
    )
    (content / "hostile.md").write_text(note, encoding="utf-8")
    section = content / SVG_DQ  # a folder name is a section title
    section.mkdir()
    (section / f"{IMG}.json").write_text(json.dumps(_trace(PAYLOADS[:3], model="m")), "utf-8")
    (content / "page.md").write_text(
        f"---\ntitle: {_yaml(ALERT_SCRIPT + SVG_SQ)}\ndescription: {_yaml(NUL)}\n---\n"
        "See [the trace](hostile.json) and [this](JaVaScRiPt:alert(1)).\n",
        encoding="utf-8",
    )
    r = subprocess.run(
        [sys.executable, "-m", "tracesite", "build"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    assert r.stderr.count("javascript: URL removed") == 4 and "data: URL removed" in r.stderr
    return root


def _pages(root: Path) -> list[str]:
    return sorted(p.relative_to(root / "site").as_posix() for p in (root / "site").rglob("*.html"))


INERT_JS = """() => {
  const all = [...document.querySelectorAll('*')];
  const handlers = all.filter(e => [...e.attributes].some(a => /^on(error|load)$/i.test(a.name)));
  const urls = all.flatMap(e => ['href', 'src', 'action', 'formaction', 'xlink:href']
      .map(n => e.getAttribute(n)).filter(v => v !== null))
    .filter(v => /^((javascript|vbscript):|data:text)/i.test(v.replace(/[\\x00-\\x20]/g, '')));
  const scripts = [...document.scripts].filter(s => !s.src && /alert\\(1\\)/.test(s.text)
      && !/^application\\/json$/i.test(s.type))
    .map(s => s.text.slice(0, 200));
  return {
    img: document.querySelectorAll('img[src="x"]').length,
    svg: [...document.querySelectorAll('svg')].filter(s => !s.classList.contains('spark')).length,
    handlers: handlers.map(e => e.outerHTML.slice(0, 120)),
    urls: urls,
    scripts: scripts,
    title: document.title,
  };
}"""


def assert_inert(page: Any) -> dict[str, Any]:
    """No dialog, no injected element, handler, script URL or script on the page."""
    found = page.evaluate(INERT_JS)
    assert page.dialogs == []
    assert page.errors == []
    assert found["img"] == 0, found
    assert found["handlers"] == [], found
    assert found["urls"] == [], found
    assert found["svg"] == 0, found
    return dict(found)


def _text(page: Any) -> str:
    return str(page.evaluate("document.body.innerText"))


def _open(page: Any, path: Path, wait_heatmap: bool = False) -> None:
    page.goto(path.as_uri())
    if wait_heatmap:
        page.wait_for_selector(".tsh[data-ready='1']", timeout=TIMEOUT)


@pytest.mark.browser
def test_every_page_of_the_site_is_inert(site: Path, page: Any) -> None:
    pages = _pages(site)
    assert len(pages) >= 10
    for rel in pages:
        _open(page, site / "site" / rel)
        page.wait_for_load_state("load")
        assert_inert(page)


@pytest.mark.browser
def test_the_index_shows_every_payload_as_text(site: Path, page: Any) -> None:
    _open(page, site / "site/index.html")
    found = assert_inert(page)
    assert found["title"] == f"{IMG} gallery"
    text = _text(page)
    for payload in (IMG, f"{IMG} {JINJA_EXPR}", SVG_DQ, JINJA_RAW, JS_URL, ALERT_SCRIPT):
        assert payload in text, payload
    assert "49" not in text  # {{ 7*7 }} was never evaluated
    assert f"{IMG}.json" in text  # the file name is the second card's title
    options = page.locator("#tag-filter option").all_inner_texts()
    assert f"{IMG} (1)" in options and f"{ALERT_SCRIPT} (1)" in options


@pytest.mark.browser
def test_typing_payloads_in_the_search_box_finds_the_card_and_runs_nothing(
    site: Path, page: Any
) -> None:
    _open(page, site / "site/index.html")
    card = page.locator("article.card", has_text=f"{IMG} {JINJA_EXPR}")
    for query in (IMG, SVG_DQ, JINJA_RAW, JS_URL, ALERT_SCRIPT, JINJA_EXPR):
        page.fill("#q", query)
        assert card.is_visible(), query
        assert_inert(page)
    page.fill("#q", IMG + " no-such-words")
    page.wait_for_selector("#no-match:not([hidden])")
    assert_inert(page)
    # the search state from a crafted link (#q=...) is a value, not markup
    url = (site / "site/index.html").as_uri() + "#q=" + "%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E"
    page.goto("about:blank")
    page.goto(url)
    assert page.input_value("#q") == IMG
    assert card.is_visible()
    assert_inert(page)


@pytest.mark.browser
def test_the_trace_page_shows_payloads_as_text(site: Path, page: Any) -> None:
    _open(page, site / "site/traces/hostile/index.html", wait_heatmap=True)
    found = assert_inert(page)
    assert found["title"].startswith(f"{IMG} {JINJA_EXPR}")
    text = _text(page)
    for payload in VISIBLE:
        assert payload in text, payload
    assert "49" not in text.replace("0.49", "")
    meta = page.inner_text(".metadata")
    assert SVG_DQ in meta and SVG_SQ in meta and IMG + ALERT_SCRIPT in meta
    # a NUL in metadata and front matter is not silently dropped ("nulbyte")
    assert "nul" in meta and "nulbyte" not in meta
    assert "nulbyte" not in page.inner_text(".trace-header")
    tags = page.locator(".trace-header .tag").all_inner_texts()
    assert tags[:4] == [IMG, ALERT_SCRIPT, JINJA_EXPR, JS_URL]
    # the highlight label is shown once escaped, not as "&lt;img"
    assert IMG in page.inner_text(".marks") and "&lt;" not in page.inner_text(".marks")
    bands = page.evaluate("Array.from(TracesiteHeatmap.instances[0].m.bands.data.t)")
    assert all("&lt;" not in b for b in bands), bands
    # the note's script links are neutralised; the embed drew its own heatmap
    hrefs = page.eval_on_selector_all(".note a", "els => els.map(e => e.getAttribute('href'))")
    assert hrefs.count("#") == 4, hrefs
    assert page.locator(".note .trace-embed .tsh").count() == 1


@pytest.mark.browser
def test_the_text_view_shows_each_token_as_text(site: Path, page: Any) -> None:
    _open(page, site / "site/traces/hostile/index.html", wait_heatmap=True)
    for n, payload in enumerate(PAYLOADS, start=1):
        if payload in VISIBLE:
            assert page.inner_text(f"#tok-{n}") == payload
    # a NUL is not dropped: "nul" and "byte" are not silently merged into "nulbyte"
    assert page.inner_text("#tok-9") not in ("nulbyte", "")


@pytest.mark.browser
def test_an_rtl_override_token_does_not_reorder_the_text_after_it(site: Path, page: Any) -> None:
    _open(page, site / "site/traces/hostile/index.html", wait_heatmap=True)
    boxes = [page.locator(f"#tok-{n}").bounding_box() for n in (7, 8, 9, 10)]
    assert all(b is not None for b in boxes)
    same_line = len({round(b["y"]) for b in boxes}) == 1
    if same_line:  # tokens after U+202E still run left to right, as the model wrote them
        xs = [b["x"] for b in boxes]
        assert xs == sorted(xs), boxes
    else:
        assert boxes[2]["y"] >= boxes[1]["y"], boxes


def _hover(page: Any, index: int, slot: int = 0) -> str:
    point = page.evaluate(f"TracesiteHeatmap.instances[0].cellPoint({index}, {slot})")
    assert point, f"position {index + 1} is not in view"
    page.mouse.move(point["x"], point["y"])
    page.wait_for_function(
        "(i) => { const t = document.querySelector('.tsh-tip');"
        " return t && !t.hidden && t.dataset.cell.startsWith(i + ':'); }",
        arg=index,
        timeout=TIMEOUT,
    )
    return str(page.inner_text(".tsh-tip"))


def _check_tooltips(page: Any) -> None:
    for index, payload in enumerate(PAYLOADS):
        if payload not in VISIBLE:
            continue
        tip = _hover(page, index)
        exact = json.dumps(payload, ensure_ascii=False)  # the tooltip quotes the exact token
        assert exact in tip, (payload, tip)
        assert_inert(page)
    tip = _hover(page, 0, slot=1)  # an alternative's cell
    assert "alternative" in tip and "svg onload=alert(1)" in tip
    for index in (7, 8, 9):  # RTL override, NUL, U+2028: shown by a visible code
        tip = _hover(page, index).lower()
        code = {7: "202e", 8: "0000", 9: "2028"}[index]
        assert f"u+{code}" in tip or f"\\u{code}" in tip, (index, tip)
    assert_inert(page)


@pytest.mark.browser
def test_hover_tooltips_show_payloads_as_text(site: Path, page: Any) -> None:
    page.set_viewport_size({"width": 1400, "height": 1000})
    _open(page, site / "site/traces/hostile/index.html", wait_heatmap=True)
    _check_tooltips(page)


@pytest.mark.browser
def test_tag_pages_and_the_standalone_page(site: Path, page: Any) -> None:
    for tag_dir in sorted((site / "site/tags").iterdir()):
        if not tag_dir.is_dir():
            continue
        _open(page, tag_dir / "index.html")
        assert_inert(page)
        heading = page.inner_text("h1")
        assert heading.startswith("Tag: ") and len(heading) > len("Tag: ")
    _open(page, site / "site/tags/img-src-x-onerror-alert-1/index.html")
    assert IMG in page.inner_text("h1") and f"{IMG} {JINJA_EXPR}" in _text(page)
    _open(page, site / "site/tags/index.html")
    assert IMG in _text(page) and ALERT_SCRIPT in _text(page)
    _open(page, site / "site/page/index.html")
    found = assert_inert(page)
    assert found["title"].startswith(ALERT_SCRIPT + SVG_SQ)  # the page shows it in its <title>
    assert page.get_attribute("main a[href='#']", "href") == "#"  # the JaVaScRiPt: link


@pytest.mark.browser
def test_hostile_file_and_section_names(site: Path, page: Any) -> None:
    pages = [p for p in _pages(site) if p.startswith("traces/") and "hostile" not in p]
    assert len(pages) == 1 and "<" not in pages[0] and '"' not in pages[0]
    _open(page, site / "site" / pages[0], wait_heatmap=True)
    assert_inert(page)
    assert page.inner_text("h1") == f"{IMG}.json"
    _open(page, site / "site/index.html")
    assert SVG_DQ in page.inner_text(".section h2 >> nth=1")


@pytest.fixture(scope="module")
def rendered(site: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("render") / "hostile.html"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "tracesite",
            "render",
            str(site / "content/hostile.json"),
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    return out


@pytest.mark.browser
def test_the_single_file_render_is_inert_and_shows_payloads(rendered: Path, page: Any) -> None:
    page.set_viewport_size({"width": 1400, "height": 1000})
    _open(page, rendered, wait_heatmap=True)
    found = assert_inert(page)
    assert found["title"].startswith(IMG)  # the note beside the trace gives the title
    text = _text(page)
    for payload in VISIBLE:
        assert payload in text, payload
    _check_tooltips(page)


@pytest.mark.parametrize(
    ("url", "attr", "scheme"),
    [
        ("javascript:alert(1)", "href", "javascript"),
        ("JaVaScRiPt:alert(1)", "href", "javascript"),
        ("&#106;avascript:alert(1)", "href", "javascript"),
        ("java&#9;script:alert(1)", "href", "javascript"),
        ("java\nscript:alert(1)", "href", "javascript"),
        ("  javascript:alert(1)", "href", "javascript"),
        ("&#x6A;&#x61;&#x76;&#x61;script&colon;alert(1)", "href", "javascript"),
        ("vbscript:msgbox(1)", "href", "vbscript"),
        ("data:text/html,<script>alert(1)</script>", "href", "data"),
        ("data:image/png;base64,AAAA", "href", "data"),
        ("data:image/svg+xml,<svg/>", "src", None),
        ("https://example.com/javascript:x", "href", None),
        ("notes/javascript.md", "href", None),
        ("#javascript:", "href", None),
        ("mailto:a@b.c", "href", None),
    ],
)
def test_script_urls_are_recognised_as_a_browser_reads_them(
    url: str, attr: str, scheme: str | None
) -> None:
    assert script_scheme(url, attr) == scheme


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page recording dialogs (``page.dialogs``) and page errors (``page.errors``)."""
    context = browser.new_context()
    pg = context.new_page()
    pg.dialogs = []
    pg.errors = []

    def on_dialog(dialog: Any) -> None:
        pg.dialogs.append(dialog.message)
        dialog.dismiss()

    pg.on("dialog", on_dialog)
    pg.on("pageerror", lambda exc: pg.errors.append(str(exc)))
    yield pg
    context.close()
