"""Rollout tables (SPEC §15): Parquet, Arrow/Feather and JSONL files where one row is one trace.

Read with pyarrow column by column: each list column of a batch of rows is flattened once into
one numpy array and every row's trace takes a slice of it (:meth:`Trace.from_arrays`), so no
per-token Python object is made apart from the token strings a trace holds anyway.

Columns are recognised by their default names (:data:`DEFAULTS`) or mapped in
``[rollouts.columns]``: the tokens (strings) or token ids (decoded with a local tokenizer, see
:mod:`tracesite.formats.token_ids`), the sampler's logprob, the known channels, the prompt, the
group and the row's id. Any other numeric list column as long as the tokens is a channel under its
own name; other scalar columns (numbers, booleans, short strings) are ``meta.scalars``. Rows are
numbered from 0 (as pandas and pyarrow number them): errors say ``row 17`` for index 17.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from tracesite.core.errors import TraceReadError
from tracesite.core.options import COLUMN_ROLES, ReadOptions
from tracesite.core.tables import table_kind
from tracesite.formats.common import special_positions
from tracesite.formats.rollout_tables import (
    ListColumn,
    count_rows,
    float_values,
    id_values,
    iter_batches,
    list_column,
)
from tracesite.formats.token_ids import NO_TOKENIZER, id_label, load_decoder
from tracesite.model.trace import Trace, TraceMeta

if TYPE_CHECKING:
    import pyarrow as pa

#: ``TraceMeta.format`` of each container.
FORMATS = {
    "parquet": "rollouts_parquet",
    "arrow": "rollouts_arrow",
    "arrow-stream": "rollouts_arrow",
    "feather1": "rollouts_arrow",
    "jsonl": "rollouts_jsonl",
}
FORMAT_NAMES = ("rollouts_parquet", "rollouts_arrow", "rollouts_jsonl")

#: Each role's default column names, first found wins (SPEC §15).
DEFAULTS: dict[str, tuple[str, ...]] = {
    "tokens": ("tokens", "response_tokens"),
    "token_ids": ("token_ids", "response_ids"),
    "logprob": ("logprobs", "rollout_logprobs", "old_logprobs"),
    "train_logprob": ("train_logprobs",),
    "ref_logprob": ("ref_logprobs",),
    "entropy": ("entropy", "entropies"),
    "advantage": ("advantages",),
    "mask": ("loss_mask", "response_mask"),
    "prompt": ("prompt",),
    "step": ("step",),
    "group": ("group", "uid", "prompt_id"),
    "reward": ("reward", "score"),
    "id": ("id",),
}
#: Roles that are per-token channels, their length checked against the tokens'.
CHANNEL_ROLES = ("train_logprob", "ref_logprob", "entropy", "advantage", "mask")
#: Roles whose column holds a list per row (the others hold one value per row).
_LIST_ROLES = frozenset({"tokens", "token_ids", "logprob", *CHANNEL_ROLES})
#: Scalar columns taken into other metadata fields than ``scalars``.
_META_COLUMNS = {"model": "model", "finish_reason": "finish_reason", "stop_reason": "finish_reason"}
#: Longer strings are not scalars (a response's text is not a card's metadata).
MAX_SCALAR_CHARS = 200

#: What pyarrow raises on a damaged table besides its own ArrowException (which subclasses some
#: of these): all become a TraceReadError.
_TABLE_ERRORS = (OSError, ValueError, TypeError, KeyError, IndexError, OverflowError)


@dataclass(frozen=True)
class Layout:
    """Which column plays which part, decided once per table from its schema."""

    tokens: str | None = None  # list<string> (or list<binary>)
    token_ids: str | None = None  # list<int>
    logprob: str | None = None
    channels: tuple[tuple[str, str], ...] = ()  # (channel, column): lengths must match
    optional: tuple[tuple[str, str], ...] = ()  # other numeric lists: channels where they match
    prompt: str | None = None
    group: str | None = None
    id: str | None = None
    meta: tuple[tuple[str, str], ...] = ()  # (TraceMeta field, column)
    scalars: tuple[tuple[str, str], ...] = ()  # (name, column)


def _is_list(t: pa.DataType) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t))


def _is_text(t: pa.DataType) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_string(t) or pa.types.is_large_string(t))


def _is_number(t: pa.DataType) -> bool:
    import pyarrow as pa

    return bool(
        pa.types.is_null(t)  # a JSON lines column with no value in these rows
        or pa.types.is_integer(t)
        or pa.types.is_floating(t)
        or pa.types.is_boolean(t)
        or pa.types.is_decimal(t)
    )


def _mapped(schema: pa.Schema, options: ReadOptions) -> dict[str, str]:
    """``[rollouts.columns]``, each named column checked to be in the table."""
    out: dict[str, str] = {}
    for name, column in options.columns:
        if column not in schema.names:
            shown = ", ".join(schema.names[:20])
            raise TraceReadError(
                f"no column {column!r} (rollouts.columns.{name} in tracesite.toml);"
                f" the table has: {shown}"
            )
        out[name] = column
    return out


def _fits(role: str, t: pa.DataType) -> bool:
    """Whether a column under a default name has that part's shape: an "advantages" column of
    one number per row (TRL's GRPO) is a scalar, not the channel; a "tokens" count is too."""
    if role == "prompt":  # a string, or chat messages
        return True
    return _is_list(t) if role in _LIST_ROLES else not _is_list(t)


def layout_of(schema: pa.Schema, options: ReadOptions) -> Layout:
    """Decide the columns' parts: the mapping first, then the default names, then the rest."""
    import pyarrow as pa

    types = {f.name: f.type for f in schema}
    # a column of nulls only (JSON lines rows without that key) is a column that is not there
    present = {n for n, t in types.items() if not pa.types.is_null(t)}
    mapped = {k: c for k, c in _mapped(schema, options).items() if c in present}
    roles: dict[str, str] = {}
    for role in COLUMN_ROLES:
        found = (c for c in DEFAULTS[role] if c in present and _fits(role, types[c]))
        col = mapped.get(role) or next(found, None)
        if col is not None:
            roles[role] = col
    tokens, ids = roles.get("tokens"), roles.get("token_ids")
    if tokens is not None and _is_list(types[tokens]) and _is_number(types[tokens].value_type):
        # a "tokens" column holding integers holds ids (several trainers write them so)
        tokens, ids = None, ids or tokens
    if tokens is None and ids is None:
        raise TraceReadError(
            "no token column: expected tokens or response_tokens (strings), token_ids or"
            " response_ids (ids), or one mapped in [rollouts.columns]; the table has: "
            + ", ".join(schema.names[:20])
        )
    for col in (tokens, ids):
        if col is not None and not _is_list(types[col]):
            raise TraceReadError(f"column {col}: expected a list per row, got {types[col]}")
    channels = [(r, roles[r]) for r in CHANNEL_ROLES if r in roles]
    channels += [(n, c) for n, c in mapped.items() if n not in COLUMN_ROLES]
    if "logprob" in roles:
        channels.insert(0, ("logprob", roles["logprob"]))
    for _, col in channels:
        if not _is_list(types[col]) or not _is_number(types[col].value_type):
            raise TraceReadError(
                f"column {col}: expected a list of numbers per row, got {types[col]}"
            )
    used = {tokens, ids, *roles.values(), *(c for _, c in channels)}
    named = {n for n, _ in channels}
    optional, meta, scalars = [], [], []
    for field in schema:
        col, t = field.name, field.type
        if col in used or col not in present:
            continue
        if _is_list(t):
            if _is_number(t.value_type) and col not in named and col != "logprob":
                optional.append((col, col))
        elif col in _META_COLUMNS and _is_text(t):
            meta.append((_META_COLUMNS[col], col))
        elif _is_number(t) or _is_text(t):
            scalars.append((col, col))
    for role in ("step", "reward"):  # in the table's column order, named by role when mapped
        if role in roles:
            name = role if role in mapped else roles[role]
            scalars.append((name, roles[role]))
    order = {name: i for i, name in enumerate(schema.names)}
    scalars.sort(key=lambda nc: order[nc[1]])
    return Layout(
        tokens=tokens,
        token_ids=ids,
        logprob=roles.get("logprob"),
        channels=tuple((n, c) for n, c in channels if n != "logprob"),
        optional=tuple(optional),
        prompt=roles.get("prompt"),
        group=roles.get("group"),
        id=roles.get("id"),
        meta=tuple(meta),
        scalars=tuple(scalars),
    )


def _scalar(value: Any) -> Any:
    """A value cards can show and sort by, or None."""
    if isinstance(value, bool | int | str):
        return value if not isinstance(value, str) or len(value) <= MAX_SCALAR_CHARS else None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    try:  # a Decimal
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _check_lengths(name: str, lists: ListColumn, n_tokens: np.ndarray, first: int) -> None:
    bad = np.flatnonzero(lists.valid & (lists.lengths != n_tokens))
    if len(bad):
        i = int(bad[0])
        raise TraceReadError(
            f"column {name}: {int(lists.lengths[i])} values, tokens has {int(n_tokens[i])}",
            address=f"row {first + i}",
        )


def _texts(values: Any) -> tuple[list[str], list[bytes] | None]:
    """Token strings (and bytes, for a list<binary> column) of a flattened token column."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_binary(values.type) or pa.types.is_large_binary(values.type):
        raws = [b if b is not None else b"" for b in values.to_pylist()]
        return [b.decode("utf-8", "backslashreplace") for b in raws], raws
    if not _is_text(values.type):
        raise TraceReadError(f"token column: expected strings, got {values.type}")
    return pc.fill_null(values, "").to_pylist(), None


def _prompt_text(value: Any) -> str | None:
    """A prompt column's value: a string, or chat messages (their contents, one a paragraph)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = [m.get("content") for m in value if isinstance(m, dict)]
        text = "\n\n".join(p for p in parts if isinstance(p, str))
        return text or None
    return None


@dataclass(frozen=True)
class _Reading:
    """What every batch of one table is read with."""

    source: str
    format: str
    options: ReadOptions
    layout: Layout


def _decoded(ids: np.ndarray, options: ReadOptions) -> tuple[np.ndarray, Any, Any]:
    """Labels, bytes and special flags of token ids: through the configured tokenizer, or
    ``⟨id N⟩`` labels (bytes and special flags unknown) without one."""
    if options.tokenizer_path:
        decoder = load_decoder(options.tokenizer_path, options.tokenizer_digest, options.tokenizer)
        return decoder.decode(ids)
    distinct, where = np.unique(ids, return_inverse=True)
    labels = np.empty(len(distinct), dtype=object)
    labels[:] = [id_label(int(i)) for i in distinct.tolist()]
    return labels[where], None, None


def _rows_of(batch: Any, column: str | None) -> list[Any]:
    return batch.column(column).to_pylist() if column is not None else [None] * batch.num_rows


def _token_columns(
    batch: Any, first: int, lay: Layout, opts: ReadOptions
) -> tuple[ListColumn, ListColumn | None, np.ndarray | None, Any, Any, Any]:
    """The batch's token column (strings, else ids), its labels, bytes and special flags."""
    ids_l = list_column(batch, lay.token_ids) if lay.token_ids else None
    ids = id_values(ids_l.values) if ids_l is not None else None
    tok_l = list_column(batch, lay.tokens) if lay.tokens else None
    special: Any = None
    raws: Any = None
    if tok_l is not None:
        base, base_col = tok_l, lay.tokens
        labels: Any
        labels, raws = _texts(tok_l.values)
        if ids_l is not None:
            _check_lengths(str(lay.token_ids), ids_l, tok_l.lengths, first)
    else:
        assert ids_l is not None and ids is not None
        base, base_col = ids_l, lay.token_ids
        labels, raws, special = _decoded(ids, opts)
    missing = np.flatnonzero(~base.valid)
    if len(missing):
        raise TraceReadError(f"column {base_col}: no value", address=f"row {first + missing[0]}")
    return base, ids_l, ids, labels, raws, special


def _channel_columns(
    batch: Any, first: int, lay: Layout, n_tokens: np.ndarray
) -> tuple[list[tuple[str, ListColumn, np.ndarray]], dict[str, np.ndarray]]:
    """The channel columns, and the rows each optional one leaves out (length differs)."""
    channels: list[tuple[str, ListColumn, np.ndarray]] = []
    for name, col in lay.channels:
        lists = list_column(batch, col)
        _check_lengths(col, lists, n_tokens, first)
        channels.append((name, lists, float_values(lists.values)))
    partial: dict[str, np.ndarray] = {}  # optional channel -> rows whose length differs
    for name, col in lay.optional:
        lists = list_column(batch, col)
        match = lists.valid & (lists.lengths == n_tokens)
        if match.any():
            channels.append(
                (name, ListColumn(lists.values, lists.offsets, match), float_values(lists.values))
            )
            partial[name] = lists.valid & ~match
    return channels, partial


def _row_tokens(labels: Any, raws: Any, special: Any, lo: int, hi: int) -> tuple[Any, Any, Any]:
    """One row's token labels, bytes and special flags (found from the labels when unknown)."""
    row_labels = labels[lo:hi]
    row_labels = row_labels if isinstance(row_labels, list) else row_labels.tolist()
    row_raws = None if raws is None else list(raws[lo:hi])
    if special is not None:
        return row_labels, row_raws, special[lo:hi]
    marks = special_positions(row_labels, [None] * (hi - lo), None)
    row_special = np.zeros(hi - lo, dtype=np.bool_)
    row_special[list(marks)] = True
    return row_labels, row_raws, row_special


def _row_provenance(
    provenance: dict[str, Any],
    chans: dict[str, Any],
    left_out: list[str],
    opts: ReadOptions,
    no_text: bool,
) -> dict[str, Any]:
    """One row's provenance: the batch's, plus its entropy source and flags."""
    prov = dict(provenance)
    if "entropy" in chans:
        prov["entropy"] = opts.entropy or "exact"
    flags = [
        {
            "code": "length_mismatch",
            "message": f"column {name} is not as long as the tokens in this row: left out",
        }
        for name in left_out
    ]
    if no_text:
        flags.append(
            {
                "code": "no_tokenizer",
                "message": "token ids without a tokenizer: the text is not known"
                " (set [rollouts] tokenizer to a local tokenizer.json)",
            }
        )
    if flags:
        prov["flags"] = flags
    return prov


def _batch_traces(batch: Any, first: int, r: _Reading) -> list[Trace]:
    """The traces of one batch of rows (row numbers from ``first``)."""
    lay, opts = r.layout, r.options
    base, ids_l, ids, labels, raws, special = _token_columns(batch, first, lay, opts)
    n_tokens = base.lengths
    channels, partial = _channel_columns(batch, first, lay, n_tokens)
    lp_l = list_column(batch, lay.logprob) if lay.logprob else None
    if lp_l is not None:
        _check_lengths(lay.logprob or "", lp_l, n_tokens, first)
    lp = float_values(lp_l.values) if lp_l is not None else None
    prompts, groups, names = (_rows_of(batch, c) for c in (lay.prompt, lay.group, lay.id))
    meta_cols = [(f, _rows_of(batch, c)) for f, c in lay.meta]
    scalar_cols = [(n, _rows_of(batch, c)) for n, c in lay.scalars]
    provenance: dict[str, Any] = {
        k: v for k, v in (("engine", opts.engine), ("logprobs", opts.logprobs)) if v
    }
    if not lay.tokens:
        provenance["tokenizer"] = opts.tokenizer or NO_TOKENIZER
    no_text = not lay.tokens and not opts.tokenizer_path
    traces = []
    for i in range(batch.num_rows):
        lo, hi = int(base.offsets[i]), int(base.offsets[i + 1])
        row_labels, row_raws, row_special = _row_tokens(labels, raws, special, lo, hi)
        tids = ids_l.row(ids, i) if ids_l is not None else None
        chans = {name: lists.row(values, i) for name, lists, values in channels if lists.valid[i]}
        row_lp = lp_l.row(lp, i) if lp_l is not None else None
        left_out = [name for name, rows in partial.items() if rows[i]]
        prov = _row_provenance(provenance, chans, left_out, opts, no_text)
        meta_values = {f: values[i] for f, values in meta_cols if isinstance(values[i], str)}
        scalars = {n: v for n, values in scalar_cols if (v := _scalar(values[i])) is not None}
        meta = TraceMeta(
            source=r.source,
            index=first + i,
            format=r.format,
            model=meta_values.get("model"),
            prompt=_prompt_text(prompts[i]),
            finish_reason=meta_values.get("finish_reason"),
            extra={"id": str(names[i])} if names[i] is not None else {},
            group=str(groups[i]) if groups[i] is not None else None,
            scalars=scalars,
            provenance=prov,
        )
        traces.append(
            Trace.from_arrays(
                row_labels,
                token_bytes=row_raws,
                token_ids=tids,
                logprobs=row_lp,
                channels=chans,
                special=row_special,
                meta=meta,
            )
        )
    return traces


def read_rollouts(
    data: bytes,
    source: str,
    options: ReadOptions | None = None,
    rows: tuple[int, int] | None = None,
) -> list[Trace]:
    """The traces of a rollout table (rows ``rows[0]..rows[1]-1`` only, when given), each
    numbered by its row in the table."""
    opts = options or ReadOptions()
    kind = table_kind(data) or "jsonl"
    traces: list[Trace] = []
    reading: _Reading | None = None
    try:
        for first, batch in iter_batches(data, kind, rows):
            if reading is None:
                reading = _Reading(source, FORMATS[kind], opts, layout_of(batch.schema, opts))
            traces += _batch_traces(batch, first, reading)
    except _TABLE_ERRORS as exc:  # a damaged file, or values pyarrow cannot convert
        raise TraceReadError(f"cannot read the table: {exc}") from None
    return traces


def read_rollout_document(
    obj: dict[str, Any], source: str, addr: str = "$", options: ReadOptions | None = None
) -> list[Trace]:
    """One rollout row given as a JSON document (a one-line JSONL file, or an array's item)."""
    import pyarrow as pa

    opts = options or ReadOptions()
    try:
        table = pa.Table.from_pylist([obj])
        reading = _Reading(source, FORMATS["jsonl"], opts, layout_of(table.schema, opts))
        return _batch_traces(table, 0, reading)
    except (*_TABLE_ERRORS, pa.ArrowException) as exc:
        raise TraceReadError(f"cannot read this rollout row: {exc}", address=addr) from None
    except TraceReadError as exc:
        if not exc.address or exc.address.startswith("row "):
            exc.address = addr
        raise


def rows_in(data: bytes) -> int:
    """How many rows (traces) a rollout table holds."""
    return count_rows(data, table_kind(data) or "jsonl")
