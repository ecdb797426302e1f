"""Real-browser helpers: Playwright driving Debian's Chromium (never ``playwright install``).

A plain module (not a fixture file) so any test can ``from browser_helpers import
launch_chromium``; tests using it are marked ``@pytest.mark.browser``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path(os.environ.get("TRACESITE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_chromium() -> None:
    """Skip the calling test when Chromium or the Playwright package is missing."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not installed (the test setup installs it with apt)")
    pytest.importorskip("playwright.sync_api")


@contextmanager
def launch_chromium(**launch_options: Any) -> Iterator[Any]:
    """A headless Chromium browser (Playwright ``Browser``), closed on exit."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, **launch_options
        )
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def open_page(url: str, *, block_network: bool = False, **context_options: Any) -> Iterator[Any]:
    """A page at ``url`` (``file://`` or ``http://``), with console errors and dialogs recorded.

    The page object gets ``errors`` (page errors and console errors), ``dialogs`` (messages of any
    alert/confirm that opened: an XSS test wants none) and ``requests`` (URLs of network requests
    other than ``file:``/``data:``/``blob:``; aborted when ``block_network``).
    """
    with launch_chromium() as browser:
        context = browser.new_context(**context_options)
        page = context.new_page()
        page.errors = []
        page.dialogs = []
        page.requests = []
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        page.on(
            "console",
            lambda msg: page.errors.append(msg.text) if msg.type == "error" else None,
        )

        def on_dialog(dialog: Any) -> None:
            page.dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)

        def route(r: Any) -> None:
            if r.request.url.split(":", 1)[0] in ("file", "data", "blob"):
                r.continue_()
                return
            page.requests.append(r.request.url)
            if block_network:
                r.abort()
            else:
                r.continue_()

        context.route("**/*", route)
        page.goto(url)
        try:
            yield page
        finally:
            context.close()
