"""Markdown with its work bounded: no note can hang or crash a build.

Python-Markdown is quadratic (or worse) on some inputs, all of them short: every ``[`` without
its ``]`` scans to the end of its paragraph (a 50 kB line of ``[`` took minutes), every ``<`` and
a letter scans the whole note for a ``>``, every inline match in a paragraph re-scans the rest of
it (20,000 hard line breaks: 7 s), every reference to one footnote walks the earlier ones
(5,000: 20 s), and nesting recurses (``1. 1. 1. …`` on one line: ``RecursionError``). Three
bounds, so a note gets an addressed error instead of an endless or crashed build:

- the known scans are counted before rendering (:func:`scan_cost`), cheaply and exactly, and a
  note over the budget is refused with the line where the scan starts;
- every step of the renderer (each inline match, each block, each processor) checks a deadline,
  :data:`MARKDOWN_SECONDS` after the start, for whatever else is slow;
- ``RecursionError`` is caught.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import markdown

#: Wall-clock budget of one note's Markdown; real notes take milliseconds.
MARKDOWN_SECONDS = 10.0
#: Characters scanned for closing brackets (Python-Markdown's ``getText`` loop, ~0.4 µs each).
BRACKET_STEPS = 5_000_000
#: Characters scanned for the end of raw-HTML start tags (a regex, ~0.08 µs each).
TAG_STEPS = 40_000_000

_FENCE = re.compile(r"^[ \t]{0,3}(```|~~~)")
_BLOCK_START = re.compile(r"^[ \t]*(?:[-*+][ \t]|\d{1,9}[.)][ \t]|#|>|\|)")
_TAG_OPEN = re.compile(r"<[A-Za-z]")


class TooSlow(Exception):
    """The Markdown of a note ran past its deadline."""


def _blocks(text: str) -> list[tuple[int, str]]:
    """The note as (first line, text) runs the inline scans cannot cross: paragraphs, list
    items, headings, quotes and table rows; fenced code is left out (it is never scanned)."""
    out: list[tuple[int, list[str]]] = []
    fenced: str | None = None
    for number, line in enumerate(text.split("\n"), start=1):
        fence = _FENCE.match(line)
        if fenced is not None:
            if fence and fence.group(1) == fenced:
                fenced = None
            continue
        if fence:
            fenced = fence.group(1)
            continue
        if not line.strip():
            out.append((number + 1, []))
        elif _BLOCK_START.match(line) or not out:
            out.append((number, [line]))
        else:
            out[-1][1].append(line)
    return [(n, "\n".join(lines)) for n, lines in out if lines]


def _bracket_cost(block: str) -> tuple[int, int]:
    """Characters Python-Markdown scans for the closing ``]`` (and ``)`` of ``](``) of every
    opener in ``block``: to its match, or to the end of the block when there is none. Returns
    the cost and the offset of the opener that costs most."""
    cost, worst, worst_at = 0, 0, 0
    end = len(block)
    for open_ch, close_ch in (("[", "]"), ("(", ")")):
        stack: list[int] = []
        i = 0
        while True:
            i = _next_of(block, open_ch, close_ch, i)
            if i < 0:
                break
            if i > 0 and block[i - 1] == "\\":
                i += 1
                continue
            if block[i] == open_ch:
                if open_ch == "(" and not (i > 0 and block[i - 1] == "]"):
                    stack.append(-1)  # a plain parenthesis: matched, but never scanned from
                else:
                    stack.append(i)
            elif stack:
                start = stack.pop()
                if start >= 0:
                    cost += i - start
            i += 1
        for start in stack:
            if start >= 0:
                cost += end - start
                if end - start > worst:
                    worst, worst_at = end - start, start
    return cost, worst_at


def _next_of(text: str, a: str, b: str, start: int) -> int:
    i, j = text.find(a, start), text.find(b, start)
    if i < 0:
        return j
    if j < 0:
        return i
    return min(i, j)


def _tag_cost(text: str) -> tuple[int, int]:
    """Characters the raw-HTML parser scans for the ``>`` ending each ``<`` + letter: to the
    next ``>`` of the note. Returns the cost and the offset of the first costly opener."""
    cost, first = 0, -1
    gt = -1
    for m in _TAG_OPEN.finditer(text):
        at = m.start()
        if gt < at:
            gt = text.find(">", at)
            if gt < 0:
                gt = len(text)
        cost += gt - at
        if first < 0 and gt - at > 1000:
            first = at
    return cost, max(first, 0)


def scan_cost(body: str, first_line: int) -> tuple[int, str] | None:
    """The line and the reason when rendering ``body`` (its first line is ``first_line`` of the
    note) would scan too much; None when it is within the budget."""
    total = 0
    for line, block in _blocks(body):
        cost, at = _bracket_cost(block)
        total += cost
        if total > BRACKET_STEPS:
            where = line + block.count("\n", 0, at) + first_line - 1
            return where, (
                f"Markdown: the {block.count('['):,} '[' of this paragraph would take minutes to "
                "render (each is scanned to its ']', or to the end of the paragraph when it has "
                "none); escape them (\\[) or put the text in a code block"
            )
    cost, at = _tag_cost(body)
    if cost > TAG_STEPS:
        return first_line + body.count("\n", 0, at), (
            f"Markdown: {body.count('<'):,} '<' that do not close with '>' would take minutes "
            "to render; escape them (\\<) or put the text in a code block"
        )
    return None


_MARKERS = re.compile(r"(?:(?:[-*+>]|\d{1,9}[.)])[ \t]+)*")


def deepest_line(body: str, first_line: int) -> int:
    """The line that nests deepest (indentation, and list or quote markers at its start), for
    an address when the renderer recursed too deep."""
    best, best_line = -1, first_line
    for number, line in enumerate(body.split("\n")):
        stripped = line.lstrip(" \t")
        indent = len(line.expandtabs(4)) - len(stripped.expandtabs(4))
        m = _MARKERS.match(stripped)
        depth = indent // 2 + (m.group().count(" ") if m else 0)
        if depth > best:
            best, best_line = depth, first_line + number
    return best_line


def _with_deadline(func: Callable[..., Any], deadline: list[float]) -> Callable[..., Any]:
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if time.monotonic() > deadline[0]:
            raise TooSlow
        return func(*args, **kwargs)

    return guarded


def convert_bounded(md: markdown.Markdown, body: str, seconds: float | None = None) -> str:
    """``md.convert(body)``, raising :class:`TooSlow` once it runs ``seconds`` (default
    :data:`MARKDOWN_SECONDS`) past its start; every processor of ``md`` checks the deadline."""
    deadline = [0.0]
    for registry in (md.preprocessors, md.treeprocessors, md.postprocessors):
        for proc in registry:
            proc.run = _with_deadline(proc.run, deadline)  # type: ignore[method-assign]
    for block in md.parser.blockprocessors:
        block.test = _with_deadline(block.test, deadline)  # type: ignore[method-assign]
        block.run = _with_deadline(block.run, deadline)  # type: ignore[method-assign]
    for pattern in md.inlinePatterns:
        pattern.handleMatch = _with_deadline(pattern.handleMatch, deadline)  # type: ignore[method-assign]
    deadline[0] = time.monotonic() + (MARKDOWN_SECONDS if seconds is None else seconds)
    return md.convert(body)
