"""Sharing a trace page (issue 16.3): the raw source to download, canonical and OpenGraph/Twitter
tags with absolute URLs only when base_url is absolute, a preview PNG of the heatmap, a favicon
(no failed request or console error on any kind of page), and "copy link" with the position."""

from __future__ import annotations

import html
import re
import struct
import sys
import zlib
from pathlib import Path
from urllib.parse import unquote, urljoin

import numpy as np
import pyarrow.parquet as pq
import pytest
from markupsafe import escape

from conftest import SubpathServer, native_trace
from tracesite.build import BuildOptions, build_project
from tracesite.render.preview import HEIGHT, WIDTH, palette_bytes, render_preview
from tracesite.site.share import absolute_url, href

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from synth_rollouts import demo_table

BASE = "https://alice.github.io/notes/"
ODD_NAME = 'run #1 100% "<b>".json'  # a file name to quote in hrefs and escape in HTML


def _project(root: Path) -> Path:
    (root / "content" / "evals").mkdir(parents=True)
    (root / "content" / "evals" / ODD_NAME).write_text(
        __import__("json").dumps(native_trace(60, seed=3)), encoding="utf-8"
    )
    (root / "content" / "evals" / ODD_NAME.replace(".json", ".md")).write_text(
        '---\ntitle: Run <one> & "two"\ntags: [demo]\n---\nA note.\n', encoding="utf-8"
    )
    pq.write_table(demo_table(), root / "content" / "step.parquet")
    return root


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = {}
    for name, base in (("absolute", BASE), ("relative", "/")):
        project = _project(tmp_path_factory.mktemp(name))
        result = build_project(project, BuildOptions(quiet=True, jobs=1, base_url=base))
        assert result.ok, [str(e) for e in result.errors]
        out[name] = result.output
    return out


def _page(site: Path) -> tuple[Path, str]:
    [page] = (site / "traces" / "evals").glob("*/index.html")
    return page, page.read_text(encoding="utf-8")


def _meta(text: str) -> dict[str, str]:
    found = re.findall(r'<meta (?:property|name)="([^"]+)" content="([^"]*)"', text)
    return {k: html.unescape(v) for k, v in found}


def _decode_png(data: bytes) -> tuple[int, int, np.ndarray]:
    """Width, height and RGB pixels of an 8-bit indexed PNG (what render/preview writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + n]
        (crc,) = struct.unpack(">I", data[pos + 8 + n : pos + 12 + n])
        assert crc == zlib.crc32(kind + body)
        chunks[kind] = chunks.get(kind, b"") + body
        pos += 12 + n
    w, h, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, colour) == (8, 3)
    rows = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), np.uint8).reshape(h, w + 1)
    assert (rows[:, 0] == 0).all()
    pal = np.frombuffer(chunks[b"PLTE"], np.uint8).reshape(-1, 3)
    return w, h, pal[rows[:, 1:]]


def test_download_link_serves_the_exact_bytes_of_the_source(built: dict[str, Path]) -> None:
    for site in built.values():
        page, text = _page(site)
        [link] = re.findall(
            r'<a class="download" href="([^"]+)" download>download the response', text
        )
        assert "%23" in link and "%25" in link and "%22%3Cb%3E" in link and " " not in link
        assert "<b>" not in text  # the name shown is escaped
        target = (page.parent / unquote(link)).resolve()
        project = site.parent
        assert target.read_bytes() == (project / "content" / "evals" / ODD_NAME).read_bytes()
        # the Metadata "Source" row is the same link, showing the path
        shown = str(escape(f"evals/{ODD_NAME}"))  # as Jinja escapes it
        assert f'<dt>Source</dt><dd><a href="{link}" download>{shown}</a></dd>' in text


def test_a_table_is_copied_once_for_all_its_pages(built: dict[str, Path]) -> None:
    site = built["relative"]
    pages = sorted((site / "traces" / "step").glob("*/index.html"))
    assert len(pages) == 4
    links = {re.search(r'class="download" href="([^"]+)"', p.read_text()).group(1) for p in pages}  # type: ignore[union-attr]
    assert links == {"../../../sources/step.parquet"}
    assert sorted(p.name for p in (site / "sources").iterdir()) == ["evals", "step.parquet"]


def test_canonical_and_open_graph_only_with_an_absolute_base_url(built: dict[str, Path]) -> None:
    page, text = _page(built["absolute"])
    slug = page.parent.name
    url = f"{BASE}traces/evals/{slug}/"
    assert f'<link rel="canonical" href="{url}">' in text
    meta = _meta(text)
    assert meta["og:url"] == url and meta["og:title"] == 'Run <one> & "two"'
    assert meta["og:image"] == f"{BASE}previews/evals/{slug}.png"
    assert meta["twitter:card"] == "summary_large_image"
    assert meta["og:description"].endswith("perplexity " + meta["og:description"].split()[-1])
    assert "60 tokens" in meta["og:description"]
    for key in ("og:url", "og:image", "twitter:image"):
        assert meta[key].startswith("https://")
    # the index has a canonical URL too; the 404 page (served at any address) has none
    index = (built["absolute"] / "index.html").read_text()
    assert f'<link rel="canonical" href="{BASE}">' in index
    assert "canonical" not in (built["absolute"] / "404.html").read_text()
    # relative base_url: no canonical, no OpenGraph, no preview images
    _, rel_text = _page(built["relative"])
    assert "canonical" not in rel_text and "og:" not in rel_text and "twitter:" not in rel_text
    assert not (built["relative"] / "previews").exists()


def test_the_preview_png_decodes_at_the_stated_size_coloured_by_p(built: dict[str, Path]) -> None:
    site = built["absolute"]
    _, text = _page(site)
    image = _meta(text)["og:image"].removeprefix(BASE)
    w, h, rgb = _decode_png((site / unquote(image)).read_bytes())
    assert (w, h) == (WIDTH, HEIGHT) == (1200, 630)
    assert _meta(text)["og:image:width"] == "1200" and _meta(text)["og:image:height"] == "630"
    colours = {tuple(c) for c in rgb.reshape(-1, 3)}
    greens = {tuple(c) for c in np.frombuffer(palette_bytes(), np.uint8).reshape(-1, 3)[1:12]}
    assert len(colours & greens) >= 2  # cells in the heatmap's palette, more than one p


def test_preview_cells_follow_the_tokens_p() -> None:
    low = "".join(f"<span id=tok-{i} class=q0>a</span>" for i in range(1, 11))
    high = "".join(f"<span id=tok-{i} class=q10>a</span>" for i in range(1, 11))
    pal = np.frombuffer(palette_bytes(), np.uint8).reshape(-1, 3)
    _, _, a = _decode_png(render_preview(low))
    _, _, b = _decode_png(render_preview(high))
    centre = (HEIGHT // 2, WIDTH // 2)
    assert tuple(a[centre]) == tuple(pal[1]) and tuple(b[centre]) == tuple(pal[11])
    many = "".join(f'<span id=tok-{i} class="q3 lc">a</span>' for i in range(1, 20001))
    _, _, c = _decode_png(render_preview(many))  # averaged runs: still p 0.3
    assert tuple(c[centre]) == tuple(pal[4])


def test_absolute_urls_are_quoted_and_need_a_host() -> None:
    assert absolute_url("traces/a b/index.html", "https://x.io/r") == "https://x.io/r/traces/a%20b/"
    assert absolute_url("index.html", "/") == "" and absolute_url("index.html", "/r/") == ""
    assert href("sources/a#b?c.json") == "sources/a%23b%3Fc.json"


def _problems_on(browser, url: str) -> list[str]:  # type: ignore[no-untyped-def]
    """Console errors, page errors and failed or refused requests while ``url`` loads."""
    context = browser.new_context()
    pg = context.new_page()
    problems: list[str] = []
    pg.on("console", lambda m: m.type == "error" and problems.append(m.text))
    pg.on("pageerror", lambda e: problems.append(str(e)))
    pg.on("requestfailed", lambda r: problems.append(f"failed {r.url}"))
    pg.on("response", lambda r: r.status >= 400 and problems.append(f"{r.status} {r.url}"))
    pg.goto(url, wait_until="networkidle")
    icon = pg.evaluate("document.querySelector('link[rel=icon]').href")
    if pg.request.get(icon).status != 200:
        problems.append(f"no favicon at {icon}")
    context.close()
    return problems


@pytest.mark.slow
def test_no_failed_request_or_console_error_on_any_page(built: dict[str, Path], browser) -> None:  # type: ignore[no-untyped-def]
    site = built["absolute"]
    server = SubpathServer(site, "/notes/")
    try:
        trace, _ = _page(site)
        group = next((site / "groups").glob("*/index.html"))
        pages = [
            "index.html",
            trace.relative_to(site).as_posix(),
            "tags/demo/index.html",
            group.relative_to(site).as_posix(),
            "404.html",
        ]
        for rel in pages:
            assert _problems_on(browser, urljoin(server.url, href(rel))) == [], rel
    finally:
        server.close()


@pytest.mark.slow
def test_copy_link_gives_the_url_at_the_current_position(built: dict[str, Path], browser) -> None:  # type: ignore[no-untyped-def]
    site = built["relative"]
    server = SubpathServer(site, "/notes/")  # http://127.0.0.1 is a secure context: clipboard
    try:
        trace, _ = _page(site)
        url = urljoin(server.url, href(trace.relative_to(site).as_posix()))
        origin = server.url.split("/notes/")[0]
        context = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=origin)
        pg = context.new_page()
        pg.goto(url + "#pos-7")
        pg.click("#copy-link")
        pg.wait_for_function("document.getElementById('copy-link').classList.contains('copied')")
        assert pg.evaluate("navigator.clipboard.readText()") == url + "#pos-7"
        assert pg.text_content("#copy-link") == "copied"
        pg.evaluate(
            "document.dispatchEvent(new CustomEvent('tracesite:position', {detail: {pos: 23}}))"
        )
        pg.click("#copy-link")
        pg.wait_for_function("navigator.clipboard.readText().then(t => t.endsWith('#pos-23'))")
        assert pg.evaluate("navigator.clipboard.readText()") == url + "#pos-23"
        pg.evaluate("location.hash = '#pos-41'")
        pg.click("#copy-link")
        pg.wait_for_function("navigator.clipboard.readText().then(t => t.endsWith('#pos-41'))")
        assert "Link copied" in (pg.text_content("#copy-link-status") or "")
        context.close()
    finally:
        server.close()


def test_copies_and_previews_are_kept_and_follow_their_source(tmp_path: Path) -> None:
    import json

    project = tmp_path / "p"
    (project / "content").mkdir(parents=True)
    src = project / "content" / "run.json"
    src.write_text(json.dumps(native_trace(30, seed=1)), encoding="utf-8")
    opts = BuildOptions(quiet=True, jobs=1, base_url=BASE)
    first = build_project(project, opts)
    assert {"sources/run.json", "previews/run.png"} <= set(first.changed)
    again = build_project(project, opts)  # nothing changed: nothing read, drawn or written
    assert again.ok and not {"sources/run.json", "previews/run.png"} & set(again.changed)
    (first.output / "previews" / "run.png").unlink()  # a missing preview is drawn again
    assert "previews/run.png" in build_project(project, opts).changed
    src.write_text(json.dumps(native_trace(30, seed=2)), encoding="utf-8")
    build_project(project, opts)
    assert (first.output / "sources" / "run.json").read_bytes() == src.read_bytes()
    src.unlink()  # a source removed from content/ leaves the site with its page
    build_project(project, opts)
    assert not (first.output / "sources" / "run.json").exists()
    assert not (first.output / "previews" / "run.png").exists()


@pytest.mark.slow
def test_copy_link_falls_back_without_the_clipboard_api(built: dict[str, Path], browser) -> None:  # type: ignore[no-untyped-def]
    """From file:// or plain http there may be no navigator.clipboard: a selected field is
    copied with execCommand, and the button still says so."""
    trace, _ = _page(built["relative"])
    pg = browser.new_page()
    try:
        pg.add_init_script(
            "Object.defineProperty(navigator, 'clipboard', {value: undefined});"
            "document.addEventListener('copy', () => {"
            " window.copiedText = document.activeElement && document.activeElement.value; });"
        )
        pg.goto(trace.as_uri() + "#pos-12")
        pg.click("#copy-link")
        pg.wait_for_function("document.getElementById('copy-link').classList.contains('copied')")
        assert pg.evaluate("window.copiedText") == trace.as_uri() + "#pos-12"
        assert pg.evaluate("document.querySelectorAll('textarea').length") == 0  # cleaned up
    finally:
        pg.close()


def test_sources_too_big_to_publish_are_not_copied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file over GitHub's 100 MiB limit, or past the copies' total budget (Pages refuses a
    site over 1 GB): no copy, no download link, and one warning for the budget."""
    import json

    import tracesite.build.sharefiles as sharefiles

    project = tmp_path / "p"
    (project / "content").mkdir(parents=True)
    for name in ("a", "b", "c"):
        (project / "content" / f"{name}.json").write_text(json.dumps(native_trace(20)))
    size = (project / "content" / "a.json").stat().st_size
    monkeypatch.setattr(sharefiles, "MAX_SOURCES_TOTAL", size + 10)  # room for one copy
    result = build_project(project, BuildOptions(quiet=True, jobs=1))
    assert result.ok
    site = result.output
    linked = {
        n for n in "abc" if "download the response" in (site / f"traces/{n}/index.html").read_text()
    }
    assert linked == {"a"} and sorted(p.name for p in (site / "sources").iterdir()) == ["a.json"]
    [warning] = [w for w in result.warnings if "not copied" in str(w)]
    assert "content/b.json" in str(warning)
    monkeypatch.setattr(sharefiles, "MAX_SOURCE_BYTES", size - 1)  # each file too big
    result = build_project(project, BuildOptions(quiet=True, jobs=1))
    assert not (site / "sources").exists()
    assert "download the response" not in (site / "traces/a/index.html").read_text()
