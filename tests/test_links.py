"""Every internal link and asset resolves when the site is served under a project subpath."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from urllib.parse import unquote, urldefrag, urljoin

import pytest

from conftest import SubpathServer, native_trace
from htmlcheck import parse


def crawl(start: str) -> tuple[set[str], list[tuple[str, str, int]]]:
    """Follow every same-site href/src from ``start``; return (pages seen, broken links)."""
    seen: set[str] = set()
    checked: dict[str, int] = {}
    broken: list[tuple[str, str, int]] = []
    todo = [start]
    while todo:
        url = todo.pop()
        if url in seen:
            continue
        seen.add(url)
        with urllib.request.urlopen(url) as resp:
            html = resp.read().decode("utf-8")
        for link in parse(html).links():
            target, _ = urldefrag(urljoin(url, link))
            if not target.startswith(start.rsplit("/", 1)[0]) or not target:
                if link.startswith(("http:", "https:")) and "127.0.0.1" not in link:
                    broken.append((url, link, -1))  # nothing may load from the network
                continue
            if target not in checked:
                try:
                    with urllib.request.urlopen(target) as r:
                        checked[target] = r.status
                except urllib.error.HTTPError as exc:
                    checked[target] = exc.code
            if checked[target] != 200:
                broken.append((url, link, checked[target]))
            elif target.endswith(".html"):
                todo.append(target)
    return seen, broken


@pytest.fixture
def demo_like_site(make_project, cli):
    proj = make_project(
        {
            "content/run1.json": native_trace(30, seed=1),
            "content/run1.md": "---\ntitle: Run one\ntags: [alpha, two words, ünïcode]\n---\nSee [about](about.md), [run two](evals/run2.json#pos-3) and ![a figure](img/fig.svg).\n",
            "content/evals/run2.json": native_trace(30, seed=2),
            "content/evals/batch.jsonl": "\n".join(
                json.dumps(native_trace(5, seed=s)) for s in range(2)
            ),
            "content/about.md": "# About\n\n```trace\nsrc: evals/run2.json\npositions: 2-9\n```\n",
            # the word is in its text: the gallery's search covers text and notes, not titles
            "content/Ünïcode Folder/naïve trace.json": native_trace(
                10, seed=9, texts=[" naïve", " words", "."]
            ),
            "content/img/fig.svg": '<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>',
        }
    )
    r = cli("build", "--base-url", "https://someone.github.io/repo/", cwd=proj)
    assert r.returncode == 0, r.stderr
    return proj / "site"


def test_no_broken_links_under_a_project_subpath(demo_like_site):
    server = SubpathServer(demo_like_site, "/repo/")
    try:
        seen, broken = crawl(server.url + "index.html")
    finally:
        server.close()
    assert broken == []
    # the crawl reached every page: index, 5 traces, about, tags index + 3 tag pages
    assert len([u for u in seen if "/traces/" in u]) == 5
    assert any(u.endswith("/about/index.html") for u in seen)
    run1 = (demo_like_site / "traces/run1/index.html").read_text()
    assert 'href="../../about/index.html"' in run1  # [about](about.md), rewritten
    assert 'href="../evals/run2/index.html#pos-3"' in run1
    assert 'src="../../img/fig.svg"' in run1
    assert len([u for u in seen if "/tags/" in u]) == 4


def test_404_page_works_at_any_depth(demo_like_site):
    server = SubpathServer(demo_like_site, "/repo/")
    try:
        html = (demo_like_site / "404.html").read_text()
        page = parse(html)
        base = page.find_all("base")[0].attrs["href"]
        assert base == "/repo/"
        # its links resolve from a deep URL, as GitHub Pages serves it there
        deep = server.url + "no/such/page/"
        for link in page.links():
            target = urljoin(urljoin(deep, base), link)
            if target.startswith(server.url):
                with urllib.request.urlopen(target) as r:
                    assert r.status == 200, link
    finally:
        server.close()


@pytest.mark.browser
def test_pages_render_from_file_urls(demo_like_site, page):
    failed: list[str] = []
    page.on("requestfailed", lambda req: failed.append(req.url))
    page.goto((demo_like_site / "index.html").as_uri())
    assert page.locator("article.card").count() == 5
    page.fill("#q", "naïve")
    page.wait_for_function("document.querySelectorAll('article.card:not([hidden])').length === 1")
    page.locator("article.card:not([hidden]) a").first.click()
    page.wait_for_load_state("load")
    assert page.url.startswith("file://") and page.url.endswith("/index.html")
    assert unquote(page.url).endswith("/traces/ünïcode-folder/naïve-trace/index.html")
    page.wait_for_selector(".bk-Canvas, canvas", state="attached", timeout=15000)
    assert failed == []
    assert page.dialogs == []
