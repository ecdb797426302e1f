"""The write stage's side of the shards: the search documents (notes and pages), the tag
members, the first page of cards with their final URLs, the viewer page (docs/scale.md)."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from tracesite.build.indexwrite import Doc, GalleryIndex, Placed, write_gallery_index
from tracesite.core.config import Config
from tracesite.site.discover import Content
from tracesite.site.gallery import TraceEntry, tag_counts
from tracesite.site.notes import Note
from tracesite.site.pages import Card, Section

Write = Callable[[str, str], None]
_TAG = re.compile(r"<[^>]*>")


@dataclass(frozen=True)
class ShardsWritten:
    """What the index page needs of the shards."""

    first: list[TraceEntry]  # the first page of cards, in gallery order, URLs final
    n_traces: int
    counts: dict[str, int]  # each section's traces
    viewer: bool  # some card's URL is the viewer's
    problems: list[str]


def note_text(note: Note) -> str:
    """A note's body as plain text: its HTML without tags, entities decoded."""
    return html.unescape(_TAG.sub(" ", note.html))


def search_docs(
    config: Config, content: Content, notes: dict[Path, Note], urls: dict[str, str], dev: bool
) -> list[Doc]:
    """The notes of traces (at their trace's page) and the standalone pages, as documents."""
    docs = []
    root = config.build.content_dir
    for path, note in notes.items():
        rel = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
        if (note.draft and not dev) or rel == "index.md":
            continue
        url = urls.get(rel)
        if url is None:
            continue
        title = note.title or Path(rel).stem
        docs.append(Doc(url, title, note_text(note)))
    return docs


def write_shards(
    index: GalleryIndex, entries: Sequence[TraceEntry], docs: Sequence[Doc], write: Write
) -> ShardsWritten:
    """Every shard, and the first page of cards for the index page."""
    at = {url: tl for tl, url in index.page_urls.items()}
    tags = {
        tag: [at[c.url] for c in cards if c.url in at] for tag, cards in tag_counts(entries).items()
    }
    placed, problems = write_gallery_index(index, tags, docs, write)
    first = [
        TraceEntry(src, j, "", None, _final(index, placed, t, j, card))
        for t, j, card, src in index.spool.first(set(index.dropped))
        if t in placed.base
    ]
    viewer = any(not t.pages for t in placed.order)
    counts: dict[str, int] = {}
    for t in placed.order:
        counts[t.section] = counts.get(t.section, 0) + placed.count[t.task]
    return ShardsWritten(first, placed.n, counts, viewer, problems)


def _final(index: GalleryIndex, placed: Placed, task: int, local: int, card: Card) -> Card:
    url = index.page_urls.get((task, local)) or placed.viewer_url(placed.base[task] + local)
    return replace(card, url=url)


def first_sections(shards: ShardsWritten, of: tuple[Section, ...]) -> tuple[Section, ...]:
    """The index page's sections (``of``: :func:`~tracesite.site.gallery.sections` of the
    first page's entries), each with its count in the whole gallery."""
    return tuple(replace(s, count=shards.counts.get(s.name, len(s.cards))) for s in of)
