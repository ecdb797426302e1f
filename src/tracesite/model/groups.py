"""Groups of sibling traces (SPEC §16): where their continuations split, and how often.

Siblings are traces that share ``meta.group``: a GRPO group, repeats of one prompt, the n choices
of one response. Their tokens are compared as exact token sequences (a token is its bytes, or its
label when it has none). Everything here is vectorised over a padded matrix of token codes, so
1,000 siblings of 2,000 tokens take well under a second.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tracesite.model.tokens import token_keys

#: Code of "no token here": the sequence ended (shorter siblings are padded with it).
END = -1
#: Forks drawn in a prefix tree, at most (deeper ones are counted, not drawn).
MAX_NODES = 400


def token_codes(traces: Sequence[Any]) -> np.ndarray:
    """A (traces × longest) int64 matrix: each distinct token one code, END past a trace's end."""
    vocab: dict[object, int] = {}
    longest = max((t.n_tokens for t in traces), default=0)
    out = np.full((len(traces), longest), END, dtype=np.int64)
    for row, t in enumerate(traces):
        codes = [vocab.setdefault(k, len(vocab)) for k in token_keys(t.tokens, t.token_bytes)]
        out[row, : len(codes)] = codes
    return out


def first_divergence(codes: np.ndarray) -> int | None:
    """The 1-based first position where the rows' tokens are not all equal (a sequence that has
    ended differs from one that goes on); None when every row is the same."""
    if len(codes) < 2 or codes.shape[1] == 0:
        return None
    differs = (codes != codes[0]).any(axis=0)
    hit = np.flatnonzero(differs)
    return int(hit[0]) + 1 if len(hit) else None


def n_unique(codes: np.ndarray) -> int:
    """How many distinct token sequences the rows hold."""
    if len(codes) == 0:
        return 0
    return len(np.unique(codes, axis=0))


@dataclass
class Node:
    """A run of positions the traces in ``rows`` share, then their branches.

    ``start``/``end`` are 0-based, end exclusive: the tokens ``start..end-1`` are the same for
    every row here; at ``end`` they part (or end)."""

    rows: list[int]
    start: int
    end: int
    children: list[Node] = field(default_factory=list)

    def as_dict(self, rewards: Sequence[float | None] | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "traces": self.rows,
            "start": self.start + 1,
            "end": self.end,
            "children": [c.as_dict(rewards) for c in self.children],
        }
        if rewards is not None:
            out["reward"] = mean_reward([rewards[r] for r in self.rows])
        return out


def mean_reward(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None and not math.isnan(v)]
    return sum(known) / len(known) if known else None


def _common_end(codes: np.ndarray, rows: np.ndarray, start: int) -> int:
    """The first position at or after ``start`` where the ``rows`` do not all agree, or where
    they all ended; the matrix width when they agree to the end."""
    block = codes[rows, start:]
    if block.shape[1] == 0:
        return start
    differs = (block != block[0]).any(axis=0) | (block[0] == END)
    hit = np.flatnonzero(differs)
    return start + int(hit[0]) if len(hit) else codes.shape[1]


def prefix_tree(codes: np.ndarray, max_nodes: int = MAX_NODES) -> tuple[Node, int]:
    """The prefix tree of the rows' token sequences, and how many nodes were left undrawn.

    The root holds every row and their common prefix; each child is one next token at the fork,
    with the rows that took it (most rows first, then first seen) and their common run."""
    all_rows = np.arange(len(codes))
    root = Node(all_rows.tolist(), 0, _common_end(codes, all_rows, 0))
    stack = [(root, all_rows)]
    made, skipped = 1, 0
    while stack:
        node, rows = stack.pop()
        at = node.end
        if at >= codes.shape[1] or len(rows) < 2:
            continue
        nxt = codes[rows, at]
        values, first, counts = np.unique(nxt, return_index=True, return_counts=True)
        order = sorted(range(len(values)), key=lambda k: (-counts[k], first[k]))
        for k in order:
            if values[k] == END:
                continue  # these rows ended at the fork: the parent's run is their whole tail
            sub = rows[nxt == values[k]]
            if made >= max_nodes:
                skipped += 1
                continue
            child = Node(sub.tolist(), at, _common_end(codes, sub, at))
            node.children.append(child)
            made += 1
            stack.append((child, sub))
    return root, skipped


@dataclass(frozen=True)
class Fork:
    """One place where siblings part: the position, the tokens taken and by how many rows, and
    the entropy and alternatives the first row there had (its own view of the choice)."""

    position: int  # 1-based
    branches: tuple[tuple[str, int], ...]  # (token label, rows that took it)
    entropy: float | None
    alternatives: tuple[tuple[str, float], ...]  # (label, p) of the first row's listed alts


def forks(traces: Sequence[Any], root: Node) -> list[Fork]:
    """Each fork of the tree, in position order, described from its traces."""
    out: list[Fork] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if len(node.children) >= 2 or (
            node.children and len(node.children[0].rows) < len(node.rows)
        ):
            at = node.end
            branches = tuple((traces[c.rows[0]].tokens[at], len(c.rows)) for c in node.children)
            first = traces[node.children[0].rows[0]]
            ent = None
            if "entropy" in first.channels:
                v = float(first.channels["entropy"][at])
                ent = v if math.isfinite(v) else None
            elif len(first.alt_tokens):
                v = float(first.position_stats.entropy[at])
                ent = v if math.isfinite(v) else None
            alts = tuple(
                (a.text, math.exp(a.logprob))
                for a in first.alternatives(at)
                if a.logprob == a.logprob
            )
            out.append(Fork(at + 1, branches, ent, alts))
        stack.extend(node.children)
    return sorted(out, key=lambda f: f.position)


@dataclass(frozen=True)
class GroupStats:
    """What ``tracesite inspect --groups --json`` prints of one group (SPEC §16)."""

    group: str
    n_traces: int
    n_unique: int
    first_divergence: int | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "n_traces": self.n_traces,
            "n_unique": self.n_unique,
            "first_divergence": self.first_divergence,
        }


def group_stats(group: str, traces: Sequence[Any]) -> GroupStats:
    codes = token_codes(traces)
    return GroupStats(group, len(traces), n_unique(codes), first_divergence(codes))


def by_group(traces: Sequence[Any]) -> dict[str, list[Any]]:
    """The traces that have a group, by group, in order of first appearance."""
    out: dict[str, list[Any]] = {}
    for t in traces:
        if t.meta.group is not None:
            out.setdefault(t.meta.group, []).append(t)
    return out
