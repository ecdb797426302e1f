"""The distinct-token table and the one-pass UTF-8 split behind a trace (model.trace)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]


class TokenTable(NamedTuple):
    """The distinct tokens of a trace: each chosen token and alternative as an index."""

    entries: list[tuple[str, bytes | None]]  # distinct (label, bytes), first seen first
    chosen: IntArray  # per position, its chosen token's entry
    alts: IntArray  # per alternative, its entry


def token_table_of(labels: tuple[str, ...], raw: tuple[bytes | None, ...]) -> TokenTable | None:
    """The table keyed by each token's bytes (its label where it has none) in C-level passes:
    bytes cache their hash, while (label, bytes) tuples would be built and hashed per token.
    None when two tokens share a key but not their label (then the tuples decide)."""
    keys: Sequence[object] = raw
    distinct: list[object] = list(dict.fromkeys(keys))
    if None in distinct:  # few distinct keys: cheaper to ask here than of every token
        keys = [t if b is None else b for t, b in zip(labels, raw, strict=True)]
        distinct = list(dict.fromkeys(keys))
    where = dict(zip(distinct, range(len(distinct)), strict=True))
    index = np.fromiter(map(where.__getitem__, keys), dtype=np.int64, count=len(keys))
    label = np.array(labels, dtype=object)
    # keys are numbered as first seen, so a key is new where the index passes its running max
    seen = np.maximum.accumulate(index) if len(index) else index
    first = label[np.flatnonzero(np.diff(seen, prepend=-1) > 0)]  # the label each key came with
    if not (first[index] == label).all():
        return None
    entries = [
        (t, k if type(k) is bytes else None) for t, k in zip(first.tolist(), distinct, strict=True)
    ]
    return TokenTable(entries, index, index)


def pieces_of_valid_utf8(raw: tuple[bytes, ...]) -> tuple[str, ...] | None:
    """What :attr:`Trace.pieces` decodes token by token, in one decode when all the bytes are
    valid UTF-8 (else None): each character goes to the token holding its last byte."""
    data = b"".join(raw)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    ends = np.cumsum(np.fromiter(map(len, raw), dtype=np.int64, count=len(raw)))
    starts = np.append((np.frombuffer(data, dtype=np.uint8) & 0xC0) != 0x80, True)
    begun = np.append(0, np.cumsum(starts[:-1]))  # characters begun before each byte
    # characters complete at a token's end: those begun before it, less one it cuts in two
    done = np.append(0, begun[ends] - ~starts[ends]).tolist()
    return tuple(map(text.__getitem__, map(slice, done[:-1], done[1:])))


def token_keys(tokens: Sequence[str], raw: Sequence[bytes | None]) -> list[object]:
    """What makes two chosen tokens the same token when traces are compared: their bytes, or
    their label where they have none (groups and compare both use this)."""
    return [b if b is not None else s for s, b in zip(tokens, raw, strict=True)]
