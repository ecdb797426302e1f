"""Rollout tables by their bytes: which kind of table a file is and how many rows it holds.

Both the readers (``formats.rollouts``) and the build's planner ask: the build, in its main
process, splits a big table into row ranges rendered in parallel, and must not import pyarrow
or numpy for it (a build answered by the cache imports neither). So this module reads magic
bytes, a JSON line and a Parquet footer by hand; only an Arrow IPC file's row count asks pyarrow.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import orjson

from tracesite.core.options import ReadOptions

PARQUET_MAGIC = b"PAR1"
ARROW_MAGIC = b"ARROW1"
FEATHER1_MAGIC = b"FEA1"
ARROW_STREAM_MAGIC = b"\xff\xff\xff\xff"  # an IPC stream's first message: continuation marker

#: Default names of the token and logprob columns (SPEC §15): a JSON line with one of each is a
#: rollout row.
TOKEN_KEYS = ("tokens", "response_tokens", "token_ids", "response_ids")
LOGPROB_KEYS = ("logprobs", "rollout_logprobs", "old_logprobs")

#: Files smaller than this are never split (a table this small renders quickly in one task).
SPLIT_MIN_BYTES = 1 << 20
_HEAD = 1 << 16  # the most of a JSON lines file read to judge its first line


def table_kind(data: bytes) -> str | None:
    """ "parquet", "arrow", "arrow-stream" or "feather1" from the magic bytes; None otherwise."""
    if data.startswith(PARQUET_MAGIC) and data.endswith(PARQUET_MAGIC):
        return "parquet"
    if data.startswith(ARROW_MAGIC):
        return "arrow"
    if data.startswith(FEATHER1_MAGIC):
        return "feather1"
    if data.startswith(ARROW_STREAM_MAGIC) and len(data) >= 8:
        return "arrow-stream"
    return None


def _number(v: Any) -> bool:
    return v is None or (isinstance(v, int | float) and not isinstance(v, bool))


def is_rollout_row(obj: Any, options: ReadOptions | None = None) -> bool:
    """A JSON object with a token list (strings or ids) and a logprob list (numbers), under the
    default names or the ones ``[rollouts.columns]`` maps, and no other format's marker."""
    if not isinstance(obj, dict) or "tracesite" in obj or "choices" in obj:
        return False
    opts = options or ReadOptions()
    mapped = [k for k in (opts.column("tokens"), opts.column("token_ids")) if k]
    token_keys = mapped or TOKEN_KEYS
    logprob = opts.column("logprob")
    logprob_keys = (logprob,) if logprob else LOGPROB_KEYS
    tokens = next((obj[k] for k in token_keys if k in obj), None)
    logprobs = next((obj[k] for k in logprob_keys if k in obj), None)
    if not isinstance(tokens, list) or not isinstance(logprobs, list):
        return False
    return all(isinstance(t, str | int) and not isinstance(t, bool) for t in tokens[:8]) and all(
        _number(v) for v in logprobs[:8]
    )


def _first_line(data: bytes) -> tuple[bytes, int]:
    """The first non-blank line and where it ends (-1: at the end of the data)."""
    start = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    while start < len(data) and data[start] in b" \t\r\n":
        start += 1
    end = data.find(b"\n", start)
    return data[start : end if end >= 0 else len(data)], end


def is_rollout_jsonl(data: bytes, options: ReadOptions | None = None) -> bool:
    """Whether a file is JSON lines of rollout rows, judged by its first line. Cheap, as every
    JSON file is asked: the line is parsed only when another line follows (a file of one JSON
    document is read as a document, where :func:`is_rollout_row` finds a row too) and it names
    a logprob column and no ``choices``."""
    line, end = _first_line(data)
    if not line.startswith(b"{") or end < 0 or data.find(b"{", end) < 0 or b'"choices"' in line:
        return False
    opts = options or ReadOptions()
    logprob = opts.column("logprob")
    names = (logprob,) if logprob else LOGPROB_KEYS
    if not any(b'"' + n.encode() + b'"' in line for n in names):
        return False
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return is_rollout_row(obj, opts)


# ---------------------------------------------------------------- Parquet footer, by hand
def _varint(buf: bytes, at: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        b = buf[at]
        at += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, at
        shift += 7


def _skip(buf: bytes, at: int, kind: int) -> int:
    """Skip one Thrift compact-protocol value of type ``kind`` starting at ``at``."""
    if kind in (1, 2):  # bool, in the field header
        return at
    if kind == 3:  # byte
        return at + 1
    if kind in (4, 5, 6):  # i16, i32, i64: zigzag varints
        return _varint(buf, at)[1]
    if kind == 7:  # double
        return at + 8
    if kind == 8:  # binary
        n, at = _varint(buf, at)
        return at + n
    if kind in (9, 10):  # list, set
        head = buf[at]
        at += 1
        n, elem = head >> 4, head & 0x0F
        if n == 15:
            n, at = _varint(buf, at)
        for _ in range(n):
            at = at + 1 if elem in (1, 2) else _skip(buf, at, elem)
        return at
    if kind == 11:  # map
        n, at = _varint(buf, at)
        if n:
            types = buf[at]
            at += 1
            for _ in range(n):
                at = _skip(buf, at, types >> 4)
                at = _skip(buf, at, types & 0x0F)
        return at
    if kind == 12:  # struct
        while True:
            head = buf[at]
            at += 1
            if head == 0:
                return at
            if not head >> 4:
                at = _varint(buf, at)[1]  # a long-form field id
            at = _skip(buf, at, head & 0x0F)
    raise ValueError(f"unknown Thrift type {kind}")


def parquet_num_rows(footer: bytes) -> int:
    """``num_rows`` (field 3) of a Parquet ``FileMetaData`` footer."""
    at, field = 0, 0
    while True:
        head = footer[at]
        at += 1
        if head == 0:
            raise ValueError("no num_rows in the footer")
        delta, kind = head >> 4, head & 0x0F
        if delta:
            field += delta
        else:
            raw, at = _varint(footer, at)
            field = (raw >> 1) ^ -(raw & 1)
        if field == 3 and kind == 6:
            raw, _ = _varint(footer, at)
            return (raw >> 1) ^ -(raw & 1)
        at = _skip(footer, at, kind)


def _parquet_rows(path: Path, size: int) -> int | None:
    with path.open("rb") as fh:
        fh.seek(size - 8)
        tail = fh.read(8)
        (length,) = struct.unpack("<I", tail[:4])
        if tail[4:] != PARQUET_MAGIC or length > size - 12:
            return None  # an encrypted footer ("PARE") or a damaged file: the reader says so
        fh.seek(size - 8 - length)
        return parquet_num_rows(fh.read(length))


def table_rows(path: Path, options: ReadOptions | None = None) -> int | None:
    """How many rows (traces) a big rollout table holds, read from its metadata (Parquet, Arrow)
    or by counting lines (JSONL); None for any other file, a small one, or one that cannot be
    read (then the reader, reading it whole, reports what is wrong)."""
    try:
        size = path.stat().st_size
        if size < SPLIT_MIN_BYTES:
            return None
        with path.open("rb") as fh:
            head = fh.read(_HEAD)
        if head.startswith(PARQUET_MAGIC):
            return _parquet_rows(path, size)
        if head.startswith(ARROW_MAGIC):
            import pyarrow as pa

            with pa.memory_map(str(path)) as source:
                return int(pa.ipc.open_file(source).count_rows())
        if b"\n" in head and is_rollout_jsonl(head, options):
            with path.open("rb") as fh:  # streamed: the main process never holds the table
                return sum(1 for line in fh if line.strip(b" \t\r\n"))
    except Exception:  # any failure only means "not split": the reader, reading it, reports it
        return None
    return None
