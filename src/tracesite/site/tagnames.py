"""One spelling per tag page: tags that differ only in case or punctuation (``LLM``, ``llm``,
``l.l.m``) share a slug, so they share ``tags/<slug>/``; two pages for one URL would be a build
error naming no note. The first spelling in gallery order is kept for every trace, and each
note that spelled it otherwise is named in a warning.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from tracesite.site.gallery import TraceEntry
from tracesite.site.urls import slugify


@dataclass(frozen=True)
class Respelled:
    """A note whose tag is shown in the spelling another note used first."""

    note: Path | None  # the note file (None: the tag came from the trace itself)
    tag: str
    kept: str


def one_spelling_per_tag(
    entries: Sequence[TraceEntry],
) -> tuple[list[TraceEntry], list[Respelled]]:
    """``entries`` with each tag in the first spelling of its slug, and what was respelled."""
    first: dict[str, str] = {}
    for e in entries:
        for tag in e.card.tags:
            first.setdefault(slugify(tag), tag)
    out: list[TraceEntry] = []
    respelled: dict[tuple[Path | None, str], Respelled] = {}
    for e in entries:
        tags = tuple(dict.fromkeys(first[slugify(t)] for t in e.card.tags))
        if tags != e.card.tags:
            for t in e.card.tags:
                kept = first[slugify(t)]
                if kept != t:
                    respelled.setdefault((e.source.note, t), Respelled(e.source.note, t, kept))
            e = replace(e, card=replace(e.card, tags=tags))
        out.append(e)
    return out, list(respelled.values())
