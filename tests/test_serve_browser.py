"""Live reload and the error overlay in a real browser (Playwright driving /usr/bin/chromium).

These use the fake build (test_serve_fakes.py) to exercise the server and the injected script;
test_serve_e2e.py does the same user stories against the real build.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from test_serve_fakes import FakeBuild, make_fake_project, running
from tracesite.serve.livereload import LiveReloadHub
from tracesite.serve.server import DevServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TIMEOUT = 15_000  # ms
HOSTILE = "</script><img src=x onerror=alert(1)>"
HIDE = """() => {
  Object.defineProperty(document, "visibilityState", {configurable: true, get: () => "hidden"});
  document.dispatchEvent(new Event("visibilitychange"));
}"""
SHOW = """() => {
  Object.defineProperty(document, "visibilityState", {configurable: true, get: () => "visible"});
  document.dispatchEvent(new Event("visibilitychange"));
}"""


@pytest.fixture
def context(browser):
    ctx = browser.new_context()
    ctx.set_default_timeout(TIMEOUT)
    dialogs: list[str] = []
    ctx.on("page", lambda pg: pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss())))
    ctx.dialogs = dialogs  # type: ignore[attr-defined]
    yield ctx
    ctx.close()


def _mark(page: Page) -> None:
    """Tag the current document; the tag is gone once the page has reloaded."""
    page.evaluate("window.__notReloaded = true")


def _reloaded(page: Page) -> bool:
    return not page.evaluate("window.__notReloaded === true")


def test_an_open_page_reloads_with_the_new_text(tmp_path, context):
    proj = make_fake_project(tmp_path / "p", {"hello": "first version"})
    with running(proj) as server:
        page = context.new_page()
        page.goto(server.url + "pages/hello/")
        expect(page.locator("p.text")).to_have_text("first version")
        (proj / "content/hello.txt").write_text("second version")
        expect(page.locator("p.text")).to_have_text("second version")
        (proj / "content/other.txt").write_text("a new page")
        index = context.new_page()
        index.goto(server.url)
        (proj / "content/third.txt").write_text("another new page")
        expect(index.locator("#pages a")).to_have_text(["hello", "other", "third"])


def test_ten_tabs_share_one_connection_and_all_reload(tmp_path, context):
    proj = make_fake_project(tmp_path / "p", {"hello": "before"})
    with running(proj) as server:
        pages = []
        for _ in range(10):  # with one stream per tab the 7th tab would never load
            page = context.new_page()
            page.goto(server.url + "pages/hello/")
            pages.append(page)
        assert server.hub.wait_streams(1, timeout=10)
        extra = context.new_page()  # connections left for ordinary requests
        assert extra.goto(server.url + "assets/style.css").status == 200
        (proj / "content/hello.txt").write_text("after")
        for page in pages:
            expect(page.locator("p.text")).to_have_text("after")
        assert server.hub.wait_streams(1, timeout=10)  # still one, once the tabs settled


def test_hidden_tabs_close_their_stream_and_catch_up_when_shown(tmp_path, context):
    proj = make_fake_project(tmp_path / "p", {"hello": "v1"})
    with running(proj) as server:
        a, b = context.new_page(), context.new_page()
        for page in (a, b):
            page.goto(server.url + "pages/hello/")
            _mark(page)
        assert server.hub.wait_streams(1, timeout=10)
        for page in (a, b):
            page.evaluate(HIDE)
        assert server.hub.wait_streams(0, timeout=10)  # nobody visible: nothing held open
        (proj / "content/hello.txt").write_text("v2")
        server.wait_for_build(2, timeout=10)
        assert not _reloaded(a) and not _reloaded(b)  # hidden tabs do not reload...
        b.evaluate(SHOW)  # ...until shown: b reconnects, sees epoch 2 and reloads
        expect(b.locator("p.text")).to_have_text("v2")
        assert not _reloaded(a)
        (proj / "content/hello.txt").write_text("v3")  # a hears of it through b, still hidden
        expect(b.locator("p.text")).to_have_text("v3")
        assert not _reloaded(a)
        a.evaluate(SHOW)
        expect(a.locator("p.text")).to_have_text("v3")


def test_the_leader_tab_hiding_hands_the_stream_to_another(tmp_path, context):
    proj = make_fake_project(tmp_path / "p", {"hello": "v1"})
    with running(proj) as server:
        a = context.new_page()
        a.goto(server.url + "pages/hello/")
        assert server.hub.wait_streams(1, timeout=10)
        b = context.new_page()
        b.goto(server.url + "pages/hello/")
        a.evaluate(HIDE)  # a led; b takes over
        expect(b.locator("p.text")).to_have_text("v1")
        assert server.hub.wait_streams(1, timeout=10)
        (proj / "content/hello.txt").write_text("v2")
        expect(b.locator("p.text")).to_have_text("v2")


def test_failed_rebuild_shows_an_escaped_overlay_and_the_fix_removes_it(tmp_path, context):
    proj = make_fake_project(tmp_path / "p", {"hello": "good"})
    with running(proj) as server:
        page = context.new_page()
        page.goto(server.url + "pages/hello/")
        _mark(page)
        (proj / "content/hello.txt").write_text(f"BROKEN {HOSTILE}")
        overlay = page.locator("#tracesite-error-overlay")
        expect(overlay.get_by_role("alert")).to_be_visible()
        expect(overlay.locator("li.tracesite-error")).to_have_count(1)
        expect(overlay).to_contain_text("content/hello.txt: $.tokens[3].logprob")
        expect(overlay).to_contain_text(HOSTILE)  # shown as text...
        assert page.locator("img").count() == 0  # ...never parsed as HTML
        assert context.dialogs == []  # type: ignore[attr-defined]
        assert not _reloaded(page)  # the last good page stays, under the overlay
        expect(page.locator("p.text")).to_have_text("good")
        (proj / "content/hello.txt").write_text("fixed")
        expect(page.locator("p.text")).to_have_text("fixed")
        expect(overlay).to_have_count(0)
        assert context.dialogs == []  # type: ignore[attr-defined]


def test_overlay_reaches_pages_opened_during_the_failure_and_can_be_dismissed(tmp_path, context):
    proj = make_fake_project(tmp_path / "p", {"hello": "good", "bad": "fine"})
    with running(proj) as server:
        (proj / "content/bad.txt").write_text("BROKEN nope")
        server.wait_for_build(2, timeout=10)
        page = context.new_page()
        page.goto(server.url)
        overlay = page.locator("#tracesite-error-overlay")
        expect(overlay).to_contain_text("nope")
        overlay.get_by_role("button", name="Dismiss").click()
        expect(overlay).to_have_count(0)


def test_a_failed_first_build_shows_the_errors_and_the_fix_loads_the_site(tmp_path, context):
    proj = make_fake_project(tmp_path / "p", {"hello": f"BROKEN {HOSTILE}"})
    with running(proj) as server:
        page = context.new_page()
        response = page.goto(server.url + "pages/hello/")
        assert response is not None and response.status == 500
        overlay = page.locator("#tracesite-error-overlay")
        expect(overlay).to_contain_text(HOSTILE)
        expect(overlay).to_contain_text("Nothing could be built yet")
        (proj / "content/hello.txt").write_text("now it builds")
        expect(page.locator("p.text")).to_have_text("now it builds")
        expect(overlay).to_have_count(0)
        assert page.locator("img").count() == 0
        assert context.dialogs == []  # type: ignore[attr-defined]


def test_a_page_left_open_across_a_server_restart_reloads(tmp_path, context):
    proj = make_fake_project(tmp_path / "p", {"hello": "old run"})
    with running(proj) as server:
        assert server.httpd is not None
        port = server.httpd.server_address[1]
        page = context.new_page()
        page.goto(server.url + "pages/hello/")
        assert server.hub.wait_streams(1, timeout=10)
    (proj / "content/hello.txt").write_text("new run")
    again = DevServer(proj, port=port, build=FakeBuild(), log=lambda s: None)
    again.start()
    try:  # the tab reconnects by itself, sees another run and reloads
        expect(page.locator("p.text")).to_have_text("new run")
    finally:
        again.stop()


def test_a_refused_stream_is_retried(tmp_path, context):
    """Past the stream limit the server answers 503; the tab retries rather than giving up."""
    proj = make_fake_project(tmp_path / "p", {"hello": "v1"})
    hub = LiveReloadHub(max_streams=0)
    with running(proj, hub=hub) as server:
        page = context.new_page()
        page.goto(server.url + "pages/hello/")
        page.wait_for_event(
            "requestfinished", lambda r: r.url.endswith("/__tracesite/events"), timeout=TIMEOUT
        )
        hub.max_streams = 5
        assert hub.wait_streams(1, timeout=10)
        (proj / "content/hello.txt").write_text("v2")
        expect(page.locator("p.text")).to_have_text("v2")
