"""Rendering a page's template and writing it, or keeping it when its inputs did not change.

A page's key is a digest of everything it is made from (its own fields, the theme, the cached
fragments it shows); the writer's record says with which key each page was last written.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from typing import Any

from tracesite.build.writer import SiteWriter
from tracesite.core.errors import BuildError, Diagnostics, TracesiteError
from tracesite.site.pages import BasePage, Card, Renderer

Emit = Callable[[BasePage, str], None]


class PageEmitter:
    """Renders pages and writes them; template failures become errors against the source."""

    def __init__(
        self, renderer: Renderer, writer: SiteWriter, diag: Diagnostics, theme_key: str = ""
    ) -> None:
        self.renderer, self.writer, self.diag = renderer, writer, diag
        self.theme_key = theme_key
        self.pages: list[str] = []

    def unchanged(self, url: str, key: str, source: str) -> bool:
        """True when the page at ``url`` was built from the same inputs and is kept as is."""
        try:
            kept = self.writer.unchanged(url, key, source)
        except BuildError as exc:
            self.diag.error(exc)
            return True
        if kept:
            self.pages.append(url)
        return kept

    def emit(self, page: BasePage, source: str, key: str = "") -> None:
        """Render ``page`` and write it. Without a ``key``, the page's own fields (a frozen
        dataclass holding everything it shows) and the theme make one, so a page whose inputs
        did not change since the last build is kept without rendering it again."""
        if not key:
            key = page_key(self.theme_key, page)
            if self.unchanged(page.url, key, source):
                return
        try:
            html = self.renderer.render(page)
        except TracesiteError as exc:
            self.diag.error(exc)
            return
        except Exception as exc:  # a template bug: report it against the template, keep going
            self.diag.error(BuildError(f"template error: {type(exc).__name__}: {exc}", path=source))
            return
        try:
            self.writer.write(page.url, html, source=source, key=key)
        except BuildError as exc:
            self.diag.error(exc)
            return
        self.pages.append(page.url)


def digest_of(*parts: object) -> str:
    """A digest of small ``parts`` (a card, a note, a path list): their ``repr``."""
    h = hashlib.sha1(usedforsecurity=False)
    for part in parts:
        h.update(repr(part).encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()


def page_key(theme_key: str, page: BasePage) -> str:
    """A digest of a page, fed field by field: ``repr`` of an index page's 2,000 cards made a
    24 MB peak of intermediate strings, growing with the gallery."""
    h = hashlib.sha1(usedforsecurity=False)
    _feed(h, theme_key)
    _feed(h, page)
    return h.hexdigest()


def _feed(h: Any, value: object) -> None:
    if type(value) is Card:  # small and bounded: one repr is ~10x faster than field by field
        h.update(repr(value).encode("utf-8", "surrogatepass"))
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        h.update(type(value).__name__.encode() + b"{")
        for f in dataclasses.fields(value):
            _feed(h, getattr(value, f.name))
        h.update(b"}")
    elif isinstance(value, tuple | list):
        h.update(b"[")
        for item in value:
            _feed(h, item)
        h.update(b"]")
    elif isinstance(value, dict):
        h.update(b"{")
        for k, v in value.items():
            _feed(h, k)
            _feed(h, v)
        h.update(b"}")
    else:
        h.update(repr(value).encode("utf-8", "surrogatepass"))
        h.update(b"\0")
