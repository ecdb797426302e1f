"""The gallery in a real browser: search, tag filter, sort, dark mode, nothing from the network.
The gallery at scale (paging, token queries, file:// and http://) is tests/test_gallery_scale_browser.py."""

from __future__ import annotations

import pytest

from conftest import SubpathServer, native_trace

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def gallery(tmp_path_factory):
    from conftest import run_cli

    root = tmp_path_factory.mktemp("gallery")
    content = root / "content"
    (content / "evals").mkdir(parents=True)
    import json

    specs = [
        ("alpha.json", 20, 1, "---\ntitle: Alpha run\ntags: [math]\ndate: 2024-01-05\n---\n"),
        ("beta.json", 80, 2, "---\ntitle: Beta run\ntags: [math, long]\ndate: 2024-03-01\n---\n"),
        (
            "evals/gamma.json",
            50,
            3,
            "---\ntitle: Gamma eval\ntags: [eval]\ndate: 2023-12-24\n---\n",
        ),
    ]
    for rel, n, seed, note in specs:
        texts = [" zebra", " stripes"] if rel.startswith("evals") else None
        (content / rel).write_text(json.dumps(native_trace(n, seed=seed, texts=texts)))
        (content / rel.replace(".json", ".md")).write_text(note)
    r = run_cli("build", cwd=root)
    assert r.returncode == 0, r.stderr
    return root / "site"


def visible_titles(page) -> list[str]:
    return page.eval_on_selector_all(
        "article.card:not([hidden]) .card-title", "els => els.map(e => e.textContent.trim())"
    )


def wait_view(page) -> None:
    page.wait_for_function(
        "(f => !f.hidden && !f.hasAttribute('aria-busy'))(document.getElementById('gallery-controls'))"
    )


def test_search_filter_and_sort(gallery, page):
    page.goto((gallery / "index.html").as_uri())
    wait_view(page)
    assert visible_titles(page) == ["Alpha run", "Beta run", "Gamma eval"]
    # text search reaches the generated text through the .js postings shards
    page.fill("#q", "zebra")
    page.wait_for_function("document.querySelectorAll('article.card:not([hidden])').length === 1")
    wait_view(page)
    assert visible_titles(page) == ["Gamma eval"]
    assert page.locator("#count").text_content() == "1 trace"
    page.fill("#q", "")
    page.wait_for_function("document.querySelectorAll('article.card:not([hidden])').length === 3")
    # tag filter
    page.select_option("#tag-filter", "math")
    page.wait_for_function("document.querySelectorAll('article.card:not([hidden])').length === 2")
    assert visible_titles(page) == ["Alpha run", "Beta run"]
    page.select_option("#tag-filter", "")
    wait_view(page)
    # sorting is over the whole gallery, across sections
    page.select_option("#sort", "n-desc")
    wait_view(page)
    assert visible_titles(page) == ["Beta run", "Gamma eval", "Alpha run"]
    page.select_option("#sort", "date-desc")
    wait_view(page)
    assert visible_titles(page) == ["Beta run", "Alpha run", "Gamma eval"]
    page.select_option("#sort", "date-asc")
    wait_view(page)
    assert visible_titles(page) == ["Gamma eval", "Alpha run", "Beta run"]
    # the state is kept in the URL, so a filtered view can be shared
    page.fill("#q", "stripes")
    page.press("#q", "Enter")
    wait_view(page)
    assert "q=stripes" in page.evaluate("location.hash")
    page.reload()
    page.wait_for_function("document.querySelectorAll('article.card:not([hidden])').length === 1")
    assert visible_titles(page) == ["Gamma eval"]
    assert page.dialogs == []


def test_no_match_message(gallery, page):
    page.goto((gallery / "index.html").as_uri())
    wait_view(page)
    page.fill("#q", "nothing-has-this-word")
    page.wait_for_selector("#no-match", state="visible")
    assert visible_titles(page) == []


def test_dark_mode_follows_the_system_and_the_toggle(browser, gallery):
    ctx = browser.new_context(color_scheme="dark")
    page = ctx.new_page()
    page.goto((gallery / "index.html").as_uri())
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    bg_dark = page.evaluate("getComputedStyle(document.body).backgroundColor")
    page.click("#theme-toggle")
    assert page.evaluate("document.documentElement.dataset.theme") == "light"
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") != bg_dark
    # the choice is remembered on the next page
    page.locator("article.card a").first.click()
    page.wait_for_load_state("load")
    assert page.evaluate("document.documentElement.dataset.theme") == "light"
    ctx.close()


def test_nothing_is_loaded_from_the_network(gallery, page):
    server = SubpathServer(gallery, "/repo/")
    requests: list[str] = []
    page.on("request", lambda req: requests.append(req.url))
    try:
        for path in ("index.html", "traces/alpha/index.html", "tags/math/index.html"):
            page.goto(server.url + path)
            page.wait_for_load_state("networkidle")
    finally:
        server.close()
    outside = [u for u in requests if not u.startswith(server.url) and not u.startswith("data:")]
    assert outside == []
    assert any("/assets/bokeh-" in u for u in requests)


def test_trace_page_draws_the_heatmap_and_hash_links(gallery, page):
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto((gallery / "traces/beta/index.html").as_uri())
    page.wait_for_selector("canvas", state="attached", timeout=20000)
    assert page.locator(".stats td").first.text_content() == "80"
    assert errors == []
