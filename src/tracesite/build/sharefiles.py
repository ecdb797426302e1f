"""The files a trace page shares (site/share.py): its raw source, copied once per source file,
and its preview image (og:image), written only when ``[site] base_url`` is absolute.

Both are kept without reading or drawing anything when their inputs did not change: a source by
its size and modification time, a preview by the key of the page it belongs to.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from tracesite.build.emit import PageEmitter, digest_of
from tracesite.core.config import Config
from tracesite.core.errors import BuildError
from tracesite.model.summary import TraceSummary
from tracesite.render.preview import render_preview
from tracesite.site.discover import TraceSource
from tracesite.site.gallery import TraceEntry
from tracesite.site.pages import TracePage
from tracesite.site.share import (
    MAX_SOURCE_BYTES,
    MAX_SOURCES_TOTAL,
    href,
    preview_path,
    share_description,
    source_path,
)


class ShareFiles:
    """Copies sources and writes previews for the trace pages of one build."""

    def __init__(self, config: Config, out: PageEmitter) -> None:
        self.config, self.out = config, out
        self.previews = config.site.absolute  # og:image needs an absolute URL
        self.sources: dict[str, str] = {}  # rel under content/ -> href of its copy ("" none)
        self.copied = 0  # bytes of the copies so far
        self.over_budget = False

    def page_key(self, e: TraceEntry, key: str) -> str:
        """The key of ``e``'s page with what it shares: its source copied (or not) first."""
        return digest_of(key, self.source_href(e.source))

    def kept(self, e: TraceEntry, key: str) -> bool:
        """For a page kept as it was (its ``key`` unchanged): keep its preview. False when the
        preview is missing, so the page must be made again."""
        if not self.previews:
            return True
        shown = self.config.shown(e.source.path)
        return self.out.writer.unchanged(preview_path(e.card.slug), key, shown)

    def page(
        self,
        page: TracePage,
        e: TraceEntry,
        summary: TraceSummary,
        fragment: Mapping[str, str],
        key: str,
    ) -> TracePage:
        """``page`` with its sharing fields, its source copied and its preview written."""
        preview = ""
        if self.previews:
            rel = preview_path(e.card.slug)
            png = render_preview(fragment.get("text_view", ""), summary.sparkline)
            if self._write(rel, png, self.config.shown(e.source.path), key):
                preview = href(rel)
        return dataclasses.replace(
            page,
            source_href=self.source_href(e.source),
            preview_href=preview,
            share_description=share_description(e.card),
        )

    def source_href(self, source: TraceSource) -> str:
        """The href of the copy of ``source`` in the site, copying it the first time it is
        asked for; "" when it is too big to publish or cannot be read."""
        if source.rel not in self.sources:
            self.sources[source.rel] = self._copy(source)
        return self.sources[source.rel]

    def _copy(self, source: TraceSource) -> str:
        rel = source_path(source.rel)
        shown = self.config.shown(source.path)
        try:
            st = source.path.stat()
        except OSError as exc:
            self.out.diag.error(BuildError(f"cannot read: {exc.strerror or exc}", path=shown))
            return ""
        if st.st_size > MAX_SOURCE_BYTES:
            return ""  # GitHub refuses such a file: no copy, no download link
        if self.copied + st.st_size > MAX_SOURCES_TOTAL:
            self._over_budget(shown)
            return ""
        self.copied += st.st_size
        key = f"source {st.st_size} {st.st_mtime_ns}"
        label = f"{shown} (its copy for download)"
        try:
            if self.out.writer.unchanged(rel, key, label):
                return href(rel)
            data = source.path.read_bytes()
        except BuildError as exc:
            self.out.diag.error(exc)
            return ""
        except OSError as exc:
            self.out.diag.error(BuildError(f"cannot read: {exc.strerror or exc}", path=shown))
            return ""
        return href(rel) if self._write(rel, data, label, key) else ""

    def _over_budget(self, shown: str) -> None:
        if not self.over_budget:
            self.over_budget = True
            self.out.diag.warn(
                BuildError(
                    f"the source files copied for download reached {MAX_SOURCES_TOTAL >> 20} MB; "
                    "this one and later ones are not copied (GitHub Pages refuses sites over "
                    "1 GB), so their pages have no download link",
                    path=shown,
                )
            )

    def _write(self, rel: str, data: bytes, source: str, key: str) -> bool:
        try:
            self.out.writer.write(rel, data, source=source, key=key)
        except BuildError as exc:
            self.out.diag.error(exc)
            return False
        return True
