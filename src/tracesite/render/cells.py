"""Pack a trace into the few compact arrays the heatmap's browser code reads (Bokeh only for its
palettes, see :mod:`tracesite.render.modes`).

The page receives one ColumnDataSource per trace whose columns each hold a single array (a
"ragged" one-row source, the layout Bokeh uses for ``multi_line``), because positions and
alternatives have different lengths. Numbers are small-dtype numpy arrays, which Bokeh encodes as
binary base64; token strings are deduplicated into one UTF-8 byte blob plus byte offsets, because a
list of JSON strings costs up to seven bytes per non-ASCII character once Bokeh has escaped it for
HTML. Everything that can be derived in the browser (p, entropy, rest mass, display forms) is.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from tracesite.core.options import HeatmapOptions
from tracesite.model.trace import Trace
from tracesite.render.channels import CHANNEL_COLUMNS, ChannelPack, pack_channels
from tracesite.render.charcodes import show_surrogates
from tracesite.render.modes import modes_config

#: Height of one drawing unit in CSS pixels (a cell is a little under one unit tall).
UNIT_PX = 30
#: Tallest viewport before the heatmap scrolls inside itself (Chromium blanks canvases past ~15k px,
#: so the canvas never grows with the trace).
MAX_VIEW_PX = 780
#: Rows of a block above the alternatives: highlight band (0.5) + chosen cell (1.0).
_HEAD_UNITS = 1.5
#: Rows of a block below the alternatives: position numbers and the gap to the next row.
_FOOT_UNITS = 0.65

AnyArray = npt.NDArray[Any]

#: The columns of a trace's data source (see :func:`pack_trace`).
COLUMN_NAMES = (
    "tok",
    "lpo",
    "lpdi",
    "lpdv",
    "nalt",
    "ci",
    "sp",
    "atok",
    "alp",
    "sb",
    "so",
    "bad",
    "nent",
    "cfg",
)


def column_names(channels: bool) -> tuple[str, ...]:
    """The data source's columns: a trace with channels adds :data:`CHANNEL_COLUMNS` before
    ``cfg`` (which holds user text, so it stays last: see ``heatmap._fill``)."""
    return (*COLUMN_NAMES[:-1], *CHANNEL_COLUMNS, "cfg") if channels else COLUMN_NAMES


@dataclass(frozen=True)
class Layout:
    """Geometry shared by Python (figure size) and the browser (cell placement), in units."""

    columns: int
    alternatives: int
    n_rows: int

    @property
    def block_units(self) -> float:
        return _HEAD_UNITS + self.alternatives + _FOOT_UNITS

    @property
    def total_units(self) -> float:
        return max(1, self.n_rows) * self.block_units

    @property
    def view_px(self) -> int:
        """Height of the plot frame: the whole trace when it fits, else a scrolling viewport."""
        return int(min(math.ceil(self.total_units * UNIT_PX), MAX_VIEW_PX))

    @property
    def scrolls(self) -> bool:
        return self.total_units * UNIT_PX > MAX_VIEW_PX


def layout_for(trace: Trace, options: HeatmapOptions) -> Layout:
    """Rows of ``columns`` positions; alternative rows only as many as some position fills."""
    columns = max(1, options.columns)
    others = np.diff(trace.alt_offsets) - (trace.chosen_alt_index >= 0)
    most = int(others.max()) if len(others) else 0
    return Layout(columns, max(0, min(options.alternatives, most)), -(-trace.n_tokens // columns))


def smallest_uint(max_value: int) -> type[np.unsignedinteger[Any]]:
    if max_value < 2**8:
        return np.uint8
    if max_value < 2**16:
        return np.uint16
    return np.uint32


def _entry_text(label: str, raw: bytes | None) -> tuple[bytes, bytes | None]:
    """UTF-8 of the text shown for a token, and its raw bytes when those are not valid UTF-8."""
    if raw is not None:
        try:
            return raw.decode("utf-8").encode("utf-8"), None  # the bytes are the truth
        except UnicodeDecodeError:
            pass  # an incomplete UTF-8 sequence: keep the provider's label, show the bytes
    return show_surrogates(label).encode("utf-8"), raw


def _string_table(trace: Trace) -> tuple[AnyArray, AnyArray, dict[str, AnyArray]]:
    """Chosen and alternative tokens as indices into one table of unique strings.

    The table is one UTF-8 blob (``sb``) with byte offsets (``so``); entries whose provider
    bytes are not valid UTF-8 keep those raw bytes after the last entry (entry ``bad[k]`` has its
    raw bytes at entry ``nent + k``), for the tooltip's hex.
    """
    table = trace.token_table
    chunks: list[bytes] = []
    raw: list[tuple[int, bytes]] = []
    for entry, (label, b) in enumerate(table.entries):
        text, bad = _entry_text(label, b)
        chunks.append(text)
        if bad is not None:
            raw.append((entry, bad))
    n_entries = len(chunks)
    chunks.extend(b for _, b in raw)
    blob = b"".join(chunks)
    offsets = np.zeros(len(chunks) + 1, dtype=np.int64)
    np.cumsum([len(c) for c in chunks], out=offsets[1:])
    arrays = {
        "sb": np.frombuffer(blob, dtype=np.uint8).copy(),
        "so": offsets.astype(smallest_uint(int(offsets[-1]))),
        "bad": np.array([e for e, _ in raw], dtype=np.int32),
        "nent": np.array([n_entries], dtype=np.int32),
    }
    idx_type = smallest_uint(len(chunks))
    return table.chosen.astype(idx_type), table.alts.astype(idx_type), arrays


def pack_trace(
    trace: Trace, options: HeatmapOptions, uid: str, channels: ChannelPack | None = None
) -> dict[str, AnyArray | str]:
    """The columns of the trace's data source, each one array (or the JSON config string);
    with its channel columns when it has channels (``channels``: the trace's
    :func:`~tracesite.render.channels.pack_channels`, when the caller has it already)."""
    channels = channels or pack_channels(trace)
    tok, atok, strings = _string_table(trace)
    nalt = np.diff(trace.alt_offsets)
    max_alts = int(nalt.max()) if len(nalt) else 0
    chosen = trace.chosen_alt_index
    local = np.where(chosen >= 0, chosen - trace.alt_offsets[:-1], -1)
    # The chosen token's logprob is sent only where it is not already its listed alternative's
    # (OpenAI repeats it in top_logprobs: a fifth of the data would be duplicates).
    lp = trace.logprobs
    matched = chosen >= 0
    listed = trace.alt_logprobs[np.maximum(chosen, 0)] if len(trace.alt_logprobs) else lp
    same = (listed == lp) | (np.isnan(listed) & np.isnan(lp))
    differs = np.flatnonzero(matched & ~same)
    return {
        "tok": tok,
        "lpo": lp[~matched].astype(np.float32),  # NaN = unknown, -inf = exactly zero
        "lpdi": differs.astype(np.int32),
        "lpdv": lp[differs].astype(np.float32),
        "nalt": nalt.astype(smallest_uint(max_alts)),
        "ci": local.astype(np.int8 if max_alts < 128 else np.int32),
        "sp": trace.special.astype(np.uint8),
        "atok": atok,
        "alp": trace.alt_logprobs.astype(np.float32),
        **strings,
        **(channels.columns if channels else {}),
        "cfg": config_json(trace, options, uid, channels),
    }


def config_json(
    trace: Trace, options: HeatmapOptions, uid: str, channels: ChannelPack | None = None
) -> str:
    """Settings the browser code needs, as one JSON string (Bokeh escapes it for HTML)."""
    lay = layout_for(trace, options)
    highlights = [
        [h.start, h.end, h.label]
        for h in options.highlights
        if h.end > options.position_offset and h.start <= options.position_offset + trace.n_tokens
    ]
    cfg: dict[str, Any] = {
        "uid": uid,
        "C": lay.columns,
        "A": lay.alternatives,
        "off": options.position_offset,
        "low": options.low_confidence,
        "mode": options.color_by,
        "hl": highlights,
        "unit": UNIT_PX,
        "vmax": MAX_VIEW_PX,
        "block": lay.block_units,
        "head": _HEAD_UNITS,
        "modes": modes_config(),  # titles and palettes: heatmap.js has no copies
    }
    if channels:  # only then: a trace without channels pays nothing for them
        cfg["modes"] = {**cfg["modes"], **channels.modes}
        cfg["ch"] = channels.entries
    return json.dumps(cfg, ensure_ascii=False, separators=(",", ":"))
