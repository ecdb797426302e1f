"""The cards of a build on disk, so the main process holds none of them (docs/scale.md).

A build spools each trace's shard card (its record in ``cards-K``) as its task's result comes in,
in whatever order the tasks finish; the write stage reads them back task by task in the
gallery's order. SQLite from the standard library: one file, indexed, no server.
"""

from __future__ import annotations

import heapq
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tracesite.site.discover import TraceSource
from tracesite.site.pages import Card

#: Cards on the index page's first page (plain HTML; gallery.js loads the rest from shards).
PAGE_SIZE = 60


@dataclass(order=True)
class _First:
    rank: tuple[int, int, int]
    card: Card = field(compare=False)
    source: TraceSource = field(compare=False)


class CardSpool:
    """Shard cards by (task, local number in the task), in a temporary SQLite file, and the
    first :data:`PAGE_SIZE` cards of the gallery's order as :class:`Card` objects."""

    def __init__(self, folder: Path, page_size: int = PAGE_SIZE) -> None:
        self.db = sqlite3.connect(folder / "cards.sqlite")
        self.db.execute("PRAGMA journal_mode=OFF")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.execute("CREATE TABLE cards (task INTEGER, local INTEGER, rec TEXT)")
        self.page_size = page_size
        self._first: list[_First] = []  # a max-heap by rank (negated), the smallest kept

    def add(
        self, task: int, rank: int, source: TraceSource, cards: list[tuple[dict[str, Any], Card]]
    ) -> None:
        """The cards of task ``task`` of ``source`` (``rank``: its section's place)."""
        self.db.executemany(
            "INSERT INTO cards VALUES (?, ?, ?)",
            [(task, j, json.dumps(rec, separators=(",", ":"))) for j, (rec, _) in enumerate(cards)],
        )
        for j, (_, card) in enumerate(cards[: self.page_size]):
            item = _First((-rank, -task, -j), card, source)
            if len(self._first) < self.page_size:
                heapq.heappush(self._first, item)
            elif item > self._first[0]:
                heapq.heapreplace(self._first, item)

    def first(self, dropped: set[int]) -> list[tuple[int, int, Card, TraceSource]]:
        """The first cards in gallery order, as (task, local, card, source), without
        ``dropped`` tasks."""
        got = sorted(self._first, reverse=True)
        return [
            (-f.rank[1], -f.rank[2], f.card, f.source) for f in got if -f.rank[1] not in dropped
        ]

    def counts(self) -> dict[int, int]:
        """Each task's number of cards."""
        self.db.execute("CREATE INDEX IF NOT EXISTS by_task ON cards (task, local)")
        return dict(self.db.execute("SELECT task, COUNT(*) FROM cards GROUP BY task").fetchall())

    def records(self, task: int) -> Iterator[dict[str, Any]]:
        """The cards of ``task`` in order."""
        for (rec,) in self.db.execute(
            "SELECT rec FROM cards WHERE task = ? ORDER BY local", (task,)
        ):
            yield json.loads(rec)

    def record(self, task: int, local: int) -> dict[str, Any]:
        """One card of ``task``: its ``local``-th."""
        row = self.db.execute(
            "SELECT rec FROM cards WHERE task = ? AND local = ?", (task, local)
        ).fetchone()
        if row is None:
            raise KeyError((task, local))
        return dict(json.loads(row[0]))

    def close(self) -> None:
        self.db.close()
