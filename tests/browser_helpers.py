"""Real-browser helpers: Playwright driving Debian's Chromium (never ``playwright install``).

A plain module (not a fixture file), so tests, the benchmark and scripts can share it:

- :func:`launch_chromium` starts a headless Chromium (for scripts and benchmarks; inside pytest,
  prefer the session ``browser`` fixture of ``conftest.py``: Playwright's sync API allows one
  running instance per thread);
- :func:`new_page` opens a URL in a fresh context of any browser and records page errors,
  dialogs (an XSS test wants none) and network requests (optionally blocked).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = Path(os.environ.get("TRACESITE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_SCHEMES = ("file", "data", "blob", "about")


@contextmanager
def launch_chromium(**launch_options: Any) -> Iterator[Any]:
    """A headless Chromium browser (Playwright ``Browser``), closed on exit."""
    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} is missing: install Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launch_options.setdefault("args", CHROMIUM_ARGS)
        browser = p.chromium.launch(executable_path=str(CHROMIUM), **launch_options)
        try:
            yield browser
        finally:
            browser.close()


class PageRecord:
    """What happened on a page: errors, dialogs that opened, network requests made."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.requests: list[str] = []


@contextmanager
def new_page(
    browser: Any, url: str | None = None, *, block_network: bool = False, **context_options: Any
) -> Iterator[tuple[Any, PageRecord]]:
    """``(page, record)`` in a fresh context of ``browser``, at ``url`` when given.

    Requests other than ``file:``/``data:``/``blob:`` are recorded in ``record.requests`` and,
    with ``block_network``, aborted. Dialogs are dismissed and recorded; page errors and console
    errors are recorded.
    """
    context = browser.new_context(**context_options)
    record = PageRecord()

    def route(r: Any) -> None:
        if r.request.url.split(":", 1)[0] in LOCAL_SCHEMES:
            r.continue_()
            return
        record.requests.append(r.request.url)
        if block_network:
            r.abort()
        else:
            r.continue_()

    def on_dialog(dialog: Any) -> None:
        record.dialogs.append(dialog.message)
        dialog.dismiss()

    context.route("**/*", route)
    page = context.new_page()
    page.on("pageerror", lambda exc: record.errors.append(str(exc)))
    page.on("console", lambda msg: record.errors.append(msg.text) if msg.type == "error" else None)
    page.on("dialog", on_dialog)
    try:
        if url is not None:
            page.goto(url)
        yield page, record
    finally:
        context.close()
