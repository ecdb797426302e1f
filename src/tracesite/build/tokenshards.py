"""Token shards (docs/scale.md): the traces of a shard share one string table.

A worker gives each trace's token shard entry (``tok``, its heatmap columns without the string
table) and, when its table is all text, the table as a list with the trace's indices into it
(``tokt``). The main process merges those lists into the shard's table in id order, so a token
that a shard's traces repeat (the same prompt's rollouts, a tokenizer's common pieces) is stored
once: on the benchmark's rollouts the string table went from 7.5 to about 1 byte per token
(22.8 to 16.5 in all).

The merge is C-level per trace (``dict.update`` over ``filterfalse``, ``np.fromiter``): ~0.1 ms
a trace of 1,000 tokens. Entries keep their first-seen order, so the site is the same in every
build and with every executor.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from itertools import count, filterfalse
from typing import Any

import numpy as np

from tracesite.build.shards import DTYPES, b64, encode_array, shard_js
from tracesite.render.cells import smallest_uint
from tracesite.site.gallery import js_json

#: A token shard is closed once it holds this many bytes (one bigger trace stays whole). The
#: viewer loads one whole shard beside BokehJS (1.27 MB) and ~0.14 MB of page, styles and
#: scripts: 500 KB keeps a trace opened in any shard under 2 MB; a 1 MB shard made it 2.4 MB.
TOKEN_SHARD_BYTES = 500_000
EMPTY_ENTRY = '{"cfg":{},"cols":{}}'
#: The bytes of a shard file around its entries: the call, the shard's name, ``{"traces":[``.
_FRAME = 64

Write = Callable[[str, str], None]


class TokenShards:
    """Writes ``assets/tokens/<k>.js`` as traces are added in id order.

    A shard's size is counted as it will be written: its entries, and its table as
    :func:`_table_json` writes it (the shorter of escaped text and base64, and the offsets at
    their width). A trace that would take the shard past the limit is taken back out of the
    table and starts the next shard."""

    def __init__(self, write: Write, limit: int = TOKEN_SHARD_BYTES) -> None:
        self._write = write
        self._limit = limit
        self.shard = 0
        self._start()

    def _start(self) -> None:
        self._buf: list[str] = []
        self._size = 0
        self._shared = False  # a trace of the shard reads the shard's table
        self._table: dict[str, int] = {}
        self._escaped = 0  # the table's texts as js_json writes them, quotes left out
        self._bytes = 0  # their UTF-8

    def add(self, i: int, frag: dict[str, str]) -> tuple[int, int]:
        """Trace ``i``'s entry from its fragments; returns its ``(shard, slot)``."""
        entry = frag.get("tok", EMPTY_ENTRY)
        strings = frag.get("tokt")
        if strings is None:
            line = f'{{"i":{i},{entry[1:]}'
            if self._buf and not self._fits(line):
                self.flush()
        else:
            table = json.loads(strings)
            added, own = self._merge(table)
            line = f'{{"i":{i},"st":{{{own}}},{entry[1:]}'
            if self._buf and not self._fits(line):
                self._unmerge(added)
                self.flush()
                added, own = self._merge(table)
                line = f'{{"i":{i},"st":{{{own}}},{entry[1:]}'
            self._shared = True
        self._buf.append(line)
        self._size += len(line) + 1  # and its comma
        return self.shard, len(self._buf) - 1

    def _fits(self, line: str) -> bool:
        """Whether the shard with ``line`` added (and its table as it is now) stays within the
        limit: the entries, their commas, the table, the call around them."""
        return self._size + len(line) + 1 + self._table_size() + _FRAME <= self._limit

    def _table_size(self) -> int:
        """The bytes :func:`_table_json` will write for the table as it is now."""
        if not self._table:
            return 0
        sb = min(self._escaped, -(-self._bytes * 4 // 3) + 2)
        width = 1 if self._bytes < 2**8 else 2 if self._bytes < 2**16 else 4
        return sb + -(-(len(self._table) + 1) * width * 4 // 3) + 4 * 3 + 40

    def _merge(self, table: dict[str, Any]) -> tuple[list[str], str]:
        """Grow the shard's table by the trace's new texts; returns them, and the trace's
        ``tok`` and ``atok`` as indices into the table, as the ``st`` object's members.

        A trace's table holds distinct (label, bytes) pairs, so a text may come twice (a
        chosen token with bytes, the same token as an alternative without): it is added once
        and both entries point at it."""
        texts: list[str] = table["s"]
        index = self._table
        added = list(dict.fromkeys(filterfalse(index.__contains__, texts)))
        index.update(zip(added, count(len(index))))
        self._count(added, 1)
        remap = np.fromiter(map(index.__getitem__, texts), dtype=np.uint32, count=len(texts))
        kind, out = DTYPES[table["k"]], smallest_uint(len(index))
        parts = [
            encode_array(name, remap[np.frombuffer(base64.b64decode(table[k]), kind)].astype(out))
            for name, k in (("tok", "t"), ("atok", "a"))
        ]
        return added, ",".join(f"{js_json(k)}:{js_json(v)}" for k, v in parts)

    def _unmerge(self, added: list[str]) -> None:
        """Take a trace's new texts back out of the table (the last ones added)."""
        for text in added:
            del self._table[text]
        self._count(added, -1)

    def _count(self, texts: list[str], sign: int) -> None:
        """Add (``sign`` 1) or take away (-1) the written size of ``texts`` in the table."""
        if texts:
            self._escaped += sign * (len(js_json(texts)) - 3 * len(texts) - 1)
            self._bytes += sign * len("".join(texts).encode("utf-8"))

    def flush(self) -> None:
        """Write the open shard (if it holds a trace) and start the next."""
        if not self._buf:
            return
        body = '{"traces":[' + ",".join(self._buf) + "]"
        if self._shared:  # even when empty: a trace with "st" reads the shard's table
            body += ',"strings":' + _table_json(list(self._table))
        self._write(f"assets/tokens/{self.shard}.js", shard_js(f"tok-{self.shard}", body + "}"))
        self.shard += 1
        self._start()


def _table_json(texts: list[str]) -> str:
    """``{"sb:utf8" | "sb:u8": ..., "so:uN": ...}``: the texts as one blob and byte offsets;
    as text when that is smaller than base64 (non-ASCII text is escaped in the JSON)."""
    chunks = [t.encode("utf-8") for t in texts]
    offsets = np.zeros(len(chunks) + 1, dtype=np.int64)
    np.cumsum([len(c) for c in chunks], out=offsets[1:])
    blob = b"".join(chunks)
    text = js_json(blob.decode("utf-8"))
    sb = (
        ("sb:utf8", text)
        if len(text) <= 4 * len(blob) / 3 + 2
        else ("sb:u8", js_json(b64(np.frombuffer(blob, np.uint8))))
    )
    so_key, so = encode_array("so", offsets.astype(smallest_uint(int(offsets[-1]))))
    return f'{{"{sb[0]}":{sb[1]},{js_json(so_key)}:{js_json(so)}}}'
