"""The external merge behind the text postings and the token index (docs/scale.md).

Each task's terms arrive as lines ``hash\\tterm\\tlocal,pos,...`` (token keys: ``local,...``,
:func:`tracesite.build.shards.group_by_hash`). The main process appends them, with the global
id of the task's first trace, to one of :data:`SPOOL_FILES` spool files on disk by ``hash``;
once all are in, each bucket is merged alone, so memory holds one bucket, never the gallery.
The final bucket count is chosen from the spooled size, after the fact: ``hash % buckets`` of a
power of two ``buckets`` is a sub-bucket (or a union) of ``hash % SPOOL_FILES``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

#: Spool files per index (a power of two).
SPOOL_FILES = 256
#: Aimed bytes of a bucket's spooled lines (the shard a query loads is about this big).
BUCKET_BYTES = 256 * 1024
#: The most buckets of an index.
MAX_BUCKETS = 4096

IntArray = np.ndarray[Any, np.dtype[np.int64]]


class BucketSpool:
    """Spooled term lines of one index (text postings, or token keys) in a temporary folder."""

    def __init__(self, folder: Path, name: str) -> None:
        self.folder = folder / name
        self.folder.mkdir(parents=True, exist_ok=True)
        self.files: dict[int, IO[bytes]] = {}
        self.size = 0

    def add(self, base: int, lines: bytes) -> None:
        """A task's lines; its local ids count from global id ``base``."""
        if not lines:
            return
        by: dict[int, list[bytes]] = {}
        for line in lines.split(b"\n"):
            if line:
                by.setdefault(int(line[: line.index(b"\t")]) % SPOOL_FILES, []).append(line)
        head = b"@%d\n" % base
        for f, got in by.items():
            fh = self.files.get(f)
            if fh is None:
                fh = self.files[f] = (self.folder / f"{f}.txt").open("ab")
            data = head + b"\n".join(got) + b"\n"
            fh.write(data)
            self.size += len(data)

    def buckets(self) -> int:
        """How many buckets the index gets: a power of two, about :data:`BUCKET_BYTES` each."""
        n = 1
        while n < MAX_BUCKETS and self.size / n > BUCKET_BYTES:
            n *= 2
        return n

    def merged(self, n_buckets: int, pairs: bool) -> Iterator[tuple[int, dict[str, IntArray]]]:
        """Each non-empty bucket ``b`` of ``n_buckets`` and its terms' global ids (``pairs``:
        ``id, pos`` interleaved), ids ascending (tasks were added in id order)."""
        for fh in self.files.values():
            fh.close()
        self.files = {}
        if n_buckets <= SPOOL_FILES:
            groups = [list(range(b, SPOOL_FILES, n_buckets)) for b in range(n_buckets)]
        else:
            groups = [[f] for f in range(SPOOL_FILES)]
        for files in groups:
            got = _merge([self.folder / f"{f}.txt" for f in files], pairs, n_buckets)
            yield from sorted(got.items())


def _merge(files: list[Path], pairs: bool, n_buckets: int) -> dict[int, dict[str, IntArray]]:
    """The terms of ``files`` by bucket, each with its ids in id order (the files' chunks in
    the order the tasks were added, so their bases ascend). The numbers of all lines are parsed
    in one C-level pass and the bases added as arrays: parsing line by line took most of a
    10,000-trace gallery's write stage."""
    chunks: list[tuple[int, bytes]] = []
    for path in files:
        if path.is_file():
            chunks += _chunks(path.read_bytes())
    chunks.sort(key=lambda c: c[0])  # several files: interleave them back into id order
    rows: dict[tuple[int, bytes], list[int]] = {}  # (bucket, term) -> line numbers, in id order
    nums: list[bytes] = []
    bases: list[int] = []
    for base, body in chunks:
        for line in body.split(b"\n"):
            if line:
                h, term, numbers = line.split(b"\t", 2)
                rows.setdefault((int(h) % n_buckets, term), []).append(len(nums))
                nums.append(numbers)
                bases.append(base)
    if not nums:
        return {}
    counts = np.array([n.count(b",") + 1 for n in nums], dtype=np.int64)
    values = np.fromstring(b",".join(nums).decode("ascii"), dtype=np.int64, sep=",")
    shift = np.repeat(np.array(bases, dtype=np.int64), counts)
    if pairs:  # id, pos, id, pos: only the ids move
        shift[1::2] = 0
    values += shift
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    out: dict[int, dict[str, IntArray]] = {}
    for (bucket, term), lines in rows.items():
        got = (
            values[starts[lines[0]] : starts[lines[0]] + counts[lines[0]]]
            if len(lines) == 1
            else np.concatenate([values[starts[k] : starts[k] + counts[k]] for k in lines])
        )
        out.setdefault(bucket, {})[term.decode("utf-8", "surrogatepass")] = got
    return out


def _chunks(data: bytes) -> list[tuple[int, bytes]]:
    """The ``@base`` chunks of a spool file, as (base, lines). A term line starts with its
    hash's digits, so only a chunk's head starts with ``@``."""
    out = []
    for piece in (b"\n" + data).split(b"\n@")[1:]:
        head, _, body = piece.partition(b"\n")
        out.append((int(head), body))
    return out
