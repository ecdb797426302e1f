"""Rollout tables as containers: the rows of a range as Arrow record batches, the number of rows,
and a batch's list columns flattened into numpy (pyarrow, imported only when such a file is read).

Parquet (``PAR1``), Arrow IPC files and Feather v2 (``ARROW1``, the same format), Arrow IPC
streams and Feather v1 (``FEA1``) are recognised by their magic bytes, JSONL rollouts by their
first line (both in :mod:`tracesite.core.tables`). Rows are numbered from 0, as pandas and
pyarrow number them, and a range of rows is read without decoding the row groups or record
batches outside it, so a big table can be split into row ranges read in parallel with bounded
memory.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from tracesite.core.errors import TraceReadError

if TYPE_CHECKING:
    import pyarrow as pa

#: Rows decoded per record batch: bounds the memory a read of any size holds at once.
BATCH_ROWS = 256


def _arrow_error(exc: Exception) -> TraceReadError:
    return TraceReadError(f"not a readable table: {exc}")


def _jsonl_rows(data: bytes) -> list[bytes]:
    """The non-blank lines of a JSON lines file: row ``i`` is the ``i``-th of them."""
    return [line for line in data.split(b"\n") if line.strip(b" \t\r")]


def _read_json(data: bytes) -> pa.Table:
    import pyarrow as pa
    import pyarrow.json as pj

    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return pj.read_json(io.BytesIO(data))
    except pa.ArrowInvalid:
        # types are inferred from the first block; one block of the whole file sees every row
        try:
            return pj.read_json(
                io.BytesIO(data), read_options=pj.ReadOptions(block_size=len(data) + 1)
            )
        except pa.ArrowInvalid as exc:
            raise TraceReadError(f"not JSON lines of rollouts: {exc}") from None


def count_rows(data: bytes, kind: str) -> int:
    """The number of rows (traces) of a table, from its metadata where it has any."""
    import pyarrow as pa

    try:
        if kind == "parquet":
            import pyarrow.parquet as pq

            return int(pq.ParquetFile(pa.BufferReader(data)).metadata.num_rows)
        if kind == "arrow":
            reader = pa.ipc.open_file(pa.BufferReader(data))
            return int(reader.count_rows())  # the batches' headers only, nothing decompressed
        if kind == "jsonl":
            return len(_jsonl_rows(data))
        return int(_whole(data, kind).num_rows)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise _arrow_error(exc) from None


def _whole(data: bytes, kind: str) -> pa.Table:
    import pyarrow as pa

    if kind == "arrow-stream":
        return pa.ipc.open_stream(pa.BufferReader(data)).read_all()
    if kind == "feather1":
        import pyarrow.feather as feather

        return feather.read_table(pa.BufferReader(data))
    if kind == "jsonl":
        return _read_json(data)
    raise ValueError(f"unknown table kind {kind}")


def iter_batches(
    data: bytes, kind: str, rows: tuple[int, int] | None = None
) -> Iterator[tuple[int, pa.RecordBatch | pa.Table]]:
    """(first row number, batch) for the rows of ``rows`` (start, stop), or of the whole
    table, in order, at most :data:`BATCH_ROWS` rows a batch."""
    import pyarrow as pa

    try:
        for first, batch in _batches(data, kind, rows):
            # A damaged file can decode to arrays whose offsets point outside their buffers, and
            # reading those crashes the process: every batch is checked whole before it is read.
            batch.validate(full=True)
            yield first, batch
    except (pa.ArrowException, OSError) as exc:
        raise _arrow_error(exc) from None


def _batches(
    data: bytes, kind: str, rows: tuple[int, int] | None
) -> Iterator[tuple[int, pa.RecordBatch | pa.Table]]:
    if kind == "parquet":
        yield from _parquet_batches(data, rows)
    elif kind == "arrow":
        yield from _ipc_file_batches(data, rows)
    elif kind == "jsonl" and rows is not None:
        lines = _jsonl_rows(data)[rows[0] : rows[1]]
        yield from _sliced(_read_json(b"\n".join(lines)), rows[0])
    else:
        table = _whole(data, kind)
        lo, hi = rows if rows is not None else (0, table.num_rows)
        yield from _sliced(table.slice(lo, max(0, hi - lo)), lo)


def _sliced(table: pa.Table, first: int) -> Iterator[tuple[int, pa.Table]]:
    for lo in range(0, table.num_rows, BATCH_ROWS):
        yield first + lo, table.slice(lo, BATCH_ROWS)


def _parquet_batches(
    data: bytes, rows: tuple[int, int] | None
) -> Iterator[tuple[int, pa.RecordBatch]]:
    """Only the row groups that overlap the range are decoded; inside the first one, the rows
    before the range are decoded and dropped (Parquet pages have no row index to seek by)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(pa.BufferReader(data))
    meta = pf.metadata
    lo, hi = rows if rows is not None else (0, meta.num_rows)
    groups, at, first = [], 0, None
    for g in range(meta.num_row_groups):
        n = meta.row_group(g).num_rows
        if at + n > lo and at < hi:
            groups.append(g)
            first = at if first is None else first
        at += n
    if not groups or first is None:
        return
    row = first
    for batch in pf.iter_batches(batch_size=BATCH_ROWS, row_groups=groups, use_threads=False):
        start, stop = max(lo, row), min(hi, row + batch.num_rows)
        if start < stop:
            yield start, batch.slice(start - row, stop - start)
        row += batch.num_rows
        if row >= hi:
            return


def _ipc_file_batches(
    data: bytes, rows: tuple[int, int] | None
) -> Iterator[tuple[int, pa.RecordBatch]]:
    """An IPC file's record batches are found through its footer: the ones outside the range
    are never read (nor decompressed)."""
    import pyarrow as pa

    reader = pa.ipc.open_file(pa.BufferReader(data))
    lo, hi = rows if rows is not None else (0, 1 << 62)
    row = 0
    for i in range(reader.num_record_batches):
        if row >= hi:
            return
        batch = reader.get_batch(i)
        n = batch.num_rows
        start, stop = max(lo, row), min(hi, row + n)
        for a in range(start, stop, BATCH_ROWS):
            b = min(stop, a + BATCH_ROWS)
            yield a, batch.slice(a - row, b - a)
        row += n


@dataclass(frozen=True)
class ListColumn:
    """One list column of a batch: its values flattened; row i holds offsets[i]..offsets[i+1]."""

    values: Any  # a pyarrow Array
    offsets: np.ndarray
    valid: np.ndarray  # False where the row's list is null

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def row(self, values: Any, i: int) -> Any:
        """Row i's slice of ``values`` (this column's, flattened), or None where it is null."""
        return values[int(self.offsets[i]) : int(self.offsets[i + 1])] if self.valid[i] else None


def list_column(batch: Any, column: str) -> ListColumn:
    """A batch's list column, flattened once for every row to slice."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = batch.column(column)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    lengths = pc.fill_null(pc.list_value_length(arr), 0).to_numpy(zero_copy_only=False)
    offsets = np.zeros(len(arr) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    valid = arr.is_valid().to_numpy(zero_copy_only=False)
    return ListColumn(arr.flatten(), offsets, np.asarray(valid, dtype=np.bool_))


def float_values(values: Any) -> np.ndarray:
    """A flattened numeric column as float64."""
    import pyarrow as pa
    import pyarrow.compute as pc

    # float32 -> float64 is exact, so a channel holds the very values the file wrote
    out = pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False)
    return np.asarray(out, dtype=np.float64)


def id_values(values: Any) -> np.ndarray:
    """A flattened token-id column as int64, -1 where null."""
    import pyarrow as pa
    import pyarrow.compute as pc

    ints = pc.fill_null(pc.cast(values, pa.int64()), -1)
    return np.asarray(ints.to_numpy(zero_copy_only=False), dtype=np.int64)
