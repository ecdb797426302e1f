"""Token shards (docs/scale.md): the traces of a shard share one string table.

A worker gives each trace's token shard entry (``tok``, its heatmap columns without the string
table) and, when its table is all text, the table as a list with the trace's indices into it
(``tokt``). The main process merges those lists into the shard's table in id order, so a token
that a shard's traces repeat (the same prompt's rollouts, a tokenizer's common pieces) is stored
once: on the benchmark's rollouts the string table went from 7.5 to under 1 byte per token.

The merge is C-level per trace (``dict.update`` over ``filterfalse``, ``itemgetter``): ~0.1 ms a
trace of 1,000 tokens. Entries keep their first-seen order, so the site is the same in every
build and with every executor.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from itertools import count, filterfalse
from operator import itemgetter
from typing import Any

import numpy as np

from tracesite.build.shards import b64, encode_array
from tracesite.site.gallery import js_json

#: A token shard is closed once it holds this many bytes (one bigger trace stays whole). The
#: viewer loads one whole shard beside BokehJS (1.27 MB) and ~0.14 MB of page, styles and
#: scripts: 500 KB keeps a trace opened in any shard under 2 MB; a 1 MB shard made it 2.4 MB.
TOKEN_SHARD_BYTES = 500_000
EMPTY_ENTRY = '{"cfg":{},"cols":{}}'

_DTYPES = {"u8": np.uint8, "u16": np.uint16, "u32": np.uint32}

Write = Callable[[str, str], None]


def _smallest_uint(top: int) -> type[np.unsignedinteger[Any]]:
    return np.uint8 if top < 2**8 else np.uint16 if top < 2**16 else np.uint32


class TokenShards:
    """Writes ``assets/tokens/<k>.js`` as traces are added in id order."""

    def __init__(self, write: Write, limit: int = TOKEN_SHARD_BYTES) -> None:
        self._write = write
        self._limit = limit
        self.shard = 0
        self._buf: list[str] = []
        self._size = 0
        self._table: dict[str, int] = {}
        self._table_bytes = 0

    def add(self, i: int, frag: dict[str, str]) -> tuple[int, int]:
        """Trace ``i``'s entry from its fragments; returns its ``(shard, slot)``."""
        entry = frag.get("tok", EMPTY_ENTRY)
        strings = frag.get("tokt")
        table = json.loads(strings) if strings is not None else None
        guess = len(entry) + (len(strings) if strings is not None else 0)
        if self._buf and self._size + self._table_bytes + guess > self._limit:
            self.flush()
        slot = len(self._buf)
        if table is None:
            self._buf.append(f'{{"i":{i},{entry[1:]}')
            self._size += len(entry)
        else:
            own = self._merge(table)
            self._buf.append(f'{{"i":{i},"st":{{{own}}},{entry[1:]}')
            self._size += len(entry) + len(own)
        return self.shard, slot

    def _merge(self, table: dict[str, Any]) -> str:
        """The trace's ``tok`` and ``atok`` as indices into the shard's table (grown by the
        trace's new texts), as the ``st`` object's members."""
        texts: list[str] = table["s"]  # the trace's own table: each text once
        index = self._table
        added = list(filterfalse(index.__contains__, texts))
        index.update(zip(added, count(len(index))))
        self._table_bytes += sum(map(len, added)) + 3 * len(added)
        kind = _DTYPES[table["k"]]
        tok = np.frombuffer(base64.b64decode(table["t"]), dtype=kind)
        atok = np.frombuffer(base64.b64decode(table["a"]), dtype=kind)
        if len(texts) == 1:
            remap = np.array([index[texts[0]]], dtype=np.uint32)
        elif texts:
            remap = np.array(itemgetter(*texts)(index), dtype=np.uint32)
        else:
            remap = np.zeros(0, dtype=np.uint32)
        out = _smallest_uint(len(index))
        parts = [
            encode_array("tok", remap[tok].astype(out)),
            encode_array("atok", remap[atok].astype(out)),
        ]
        return ",".join(f"{js_json(k)}:{js_json(v)}" for k, v in parts)

    def flush(self) -> None:
        """Write the open shard (if it holds a trace) and start the next."""
        if not self._buf:
            return
        body = '{"traces":[' + ",".join(self._buf) + "]"
        if self._table:
            body += ',"strings":' + _table_json(list(self._table))
        name = f"tok-{self.shard}"
        self._write(
            f"assets/tokens/{self.shard}.js", f"window.TRACESITE_SHARD({js_json(name)},{body}}});\n"
        )
        self.shard += 1
        self._buf, self._size, self._table, self._table_bytes = [], 0, {}, 0


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
    so_key, so = encode_array("so", offsets.astype(_smallest_uint(int(offsets[-1]))))
    return f'{{"{sb[0]}":{sb[1]},{js_json(so_key)}:{js_json(so)}}}'
