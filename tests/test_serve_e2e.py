"""`tracesite serve` with the real build: the user stories of issue 5 in a real browser.

Open a trace page, edit its note: the page shows the new text. Add a trace: the index shows it.
Break a trace file: the overlay names it. Fix it: the overlay goes.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import expect

from conftest import native_trace
from tracesite.serve.server import DevServer

TIMEOUT = 30_000  # ms; a rebuild renders heatmaps on a shared 2-core machine


@contextmanager
def serving(project: Path, log: list[str] | None = None) -> Iterator[DevServer]:
    lines = log if log is not None else []
    server = DevServer(project, port=0, log=lines.append)
    server.start()
    try:
        server.wait_for_build(1, timeout=120)
        assert server.hub.state.epoch == 1, lines
        yield server
    finally:
        server.stop()


def _note(title: str, text: str) -> str:
    return f"---\ntitle: {title}\n---\n{text}\n"


@pytest.fixture
def gallery(make_project) -> Path:
    return make_project(
        {
            "content/run1.json": native_trace(60, seed=1),
            "content/run1.md": _note("Run one", "The first version of the note."),
            "content/evals/run2.json": native_trace(40, seed=2),
        }
    )


@pytest.mark.browser
@pytest.mark.slow
def test_edit_add_break_and_fix_in_the_browser(gallery, browser):
    content = gallery / "content"
    ctx = browser.new_context()
    ctx.set_default_timeout(TIMEOUT)
    dialogs: list[str] = []
    try:
        with serving(gallery) as server:
            page = ctx.new_page()
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(server.url + "traces/run1/")
            note = page.locator("section.note")
            expect(note).to_contain_text("The first version of the note.")

            # 1. edit the note: the open page reloads with the new text
            (content / "run1.md").write_text(_note("Run one", "An edited note, saved."))
            expect(note).to_contain_text("An edited note, saved.")

            # 2. add a trace: the open index shows its card
            index = ctx.new_page()
            index.goto(server.url)
            cards = index.locator("article.card h3")
            expect(cards).to_have_count(2)
            (content / "run3.json").write_text(json.dumps(native_trace(30, seed=3)))
            (content / "run3.md").write_text(_note("A third run", "New."))
            expect(cards).to_have_count(3)
            expect(index.locator("article.card h3", has_text="A third run")).to_be_visible()

            # 3. break a trace: every open page shows the overlay with file, address, message
            broken = native_trace(60, seed=1)
            broken["tokens"][17]["logprob"] = "<b>abc</b>"  # type: ignore[index]
            (content / "run1.json").write_text(json.dumps(broken))
            for p in (page, index):
                alert = p.locator("#tracesite-error-overlay").get_by_role("alert")
                expect(alert).to_be_visible()
                expect(alert).to_contain_text("content/run1.json")
                expect(alert).to_contain_text("$.tokens[17].logprob")
                expect(alert).to_contain_text("<b>abc</b>")
            expect(note).to_contain_text("An edited note, saved.")  # last good build stays
            assert page.locator("#tracesite-error-overlay b").count() == 0

            # 4. fix it: the overlay goes and the page reloads
            (content / "run1.json").write_text(json.dumps(native_trace(60, seed=4)))
            for p in (page, index):
                expect(p.locator("#tracesite-error-overlay")).to_have_count(0)
            expect(note).to_contain_text("An edited note, saved.")
            assert dialogs == []
    finally:
        ctx.close()


@pytest.mark.browser
@pytest.mark.slow
def test_project_site_under_a_subpath_loads_its_heatmap(make_project, browser):
    proj = make_project(
        {
            "content/run1.json": native_trace(40, seed=1),
            "tracesite.toml": '[site]\nbase_url = "https://user.github.io/repo/"\n',
        }
    )
    ctx = browser.new_context()
    ctx.set_default_timeout(TIMEOUT)
    try:
        with serving(proj) as server:
            assert server.url.endswith("/repo/")
            page = ctx.new_page()
            failed: list[str] = []
            page.on("requestfailed", lambda r: failed.append(r.url))
            page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
            page.goto(server.url.removesuffix("repo/"))  # "/" redirects to the base path
            assert page.url == server.url
            page.locator("article.card a").first.click()
            page.wait_for_function("() => window.Bokeh !== undefined")
            # the live-reload stream is cancelled by the navigation: not a missing file
            ignored = ("favicon.ico", "/__tracesite/events")
            assert [u for u in failed if not u.endswith(ignored)] == []
    finally:
        ctx.close()


def _digests(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha1(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_a_note_edit_rerenders_nothing_and_leaves_the_served_build_intact(gallery):
    log: list[str] = []
    with serving(gallery, log) as server:
        assert server.store is not None
        with server.store.acquire() as first:  # a request still reading epoch 1
            assert first is not None
            before = _digests(first.root)
            (gallery / "content/run1.md").write_text(_note("Run one", "Edited."))
            server.wait_for_build(2, timeout=120)
            assert server.hub.state.epoch == 2
            assert _digests(first.root) == before  # the new build did not touch epoch 1
            second = server.store.current
            assert second is not None
            bokeh = next(first.root.glob("assets/bokeh-*/bokeh.min.js"))
            same = second.root / bokeh.relative_to(first.root)
            assert os.stat(bokeh).st_ino == os.stat(same).st_ino  # shared, not rewritten
            page = (second.root / "traces/run1/index.html").read_text()
            assert "Edited." in page
        server.store.settle()
        assert not first.root.exists()  # deleted once the last reader let go
    rebuilt = [line for line in log if line.startswith("built in")][-1]
    assert "(epoch 2)" in rebuilt and "(0 rendered)" in rebuilt, rebuilt


@pytest.mark.browser
@pytest.mark.slow
def test_a_note_edit_updates_the_page_in_place_and_keeps_the_heatmap(gallery, browser):
    """The dev server swaps a page's new text in without reloading it when the heatmap (its
    data, BokehJS, the scripts) is the same; anything else reloads the page as before."""
    from test_heatmap_browser import hover

    content = gallery / "content"
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    ctx.set_default_timeout(TIMEOUT)
    errors: list[str] = []
    try:
        with serving(gallery) as server:
            page = ctx.new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(server.url + "traces/run1/")
            page.wait_for_selector(".tsh[data-ready='1']")
            page.evaluate(
                "window.__kept = document.querySelector('[data-live-keep]');"
                "window.__notReloaded = true; window.scrollTo(0, 200);"
            )
            scrolled = page.evaluate("window.scrollY")

            # the note and the title change; the heatmap stays the very same drawn element
            (content / "run1.md").write_text(_note("Run one, renamed", "Swapped in <b>place</b>."))
            note = page.locator("section.note")
            expect(note).to_contain_text("Swapped in place.")
            expect(page.locator("h1")).to_have_text("Run one, renamed")
            assert page.title().startswith("Run one, renamed")
            assert page.evaluate("window.__notReloaded === true"), "the page was reloaded"
            assert page.evaluate("document.contains(window.__kept)")
            assert page.evaluate("window.scrollY") == scrolled
            assert hover(page, 3).startswith("Position 4 · chosen token")  # it still answers

            # new trace data: a new heatmap, so the page reloads and draws it
            (content / "run1.json").write_text(json.dumps(native_trace(25, seed=9)))
            page.wait_for_function("() => window.__notReloaded !== true")
            page.wait_for_selector(".tsh[data-ready='1']")
            expect(page.locator(".trace-meta")).to_contain_text("25 tokens")
            expect(note).to_contain_text("Swapped in place.")

            # a change outside <main> (the site title in the header): a reload as well
            page.evaluate("window.__notReloaded = true")
            (gallery / "tracesite.toml").write_text('[site]\ntitle = "Renamed gallery"\n')
            expect(page.locator(".site-header .brand")).to_have_text("Renamed gallery")
            assert page.evaluate("window.__notReloaded !== true")
            assert errors == []
    finally:
        ctx.close()
