"""Per-token channels (SPEC §15): named float arrays aligned with a trace's positions.

A trace stores the channels its source gave (``Trace.channels``: the trainer's logprob, exact
entropy, advantages, a loss mask...) exactly as written. The sampler's logprob is the trace's own
``logprobs`` and is offered as the channel ``"logprob"``. Derived channels exist when both of
their sides do. This module names them, describes how to colour them, and computes their values.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
#: A :class:`~tracesite.model.trace.Trace` (which imports this module, so it is not named here).
Trace = Any

#: Channel names with a known meaning. ``logprob`` is the sampler's (p comes from it).
KNOWN = ("logprob", "train_logprob", "ref_logprob", "entropy", "advantage", "mask")
#: Channels holding natural-log probabilities: values <= -1000 in them are sentinels.
LOGPROB_LIKE = frozenset({"logprob", "train_logprob", "ref_logprob"})
#: Values at or below this in a logprob channel mean "not given" (OpenAI/vLLM -9999).
SENTINEL = -1000.0
#: Values this large in magnitude are padding in any channel (Gemini's -1.27e30), not data.
HUGE = 1e29


@dataclass(frozen=True)
class ChannelInfo:
    """How a channel is named and coloured.

    ``kind``: "logprob" (a log probability, coloured as its probability), "signed" (a diverging
    palette centred on ``centre``), "sequential", or "mask" (0/1, dims what it hides)."""

    name: str
    title: str
    kind: str
    centre: float = 0.0
    derived: bool = False
    unit: str = ""


_INFO = {
    "logprob": ChannelInfo("logprob", "sampler logprob", "logprob", unit="nats"),
    "train_logprob": ChannelInfo("train_logprob", "trainer logprob", "logprob", unit="nats"),
    "ref_logprob": ChannelInfo("ref_logprob", "reference logprob", "logprob", unit="nats"),
    "entropy": ChannelInfo("entropy", "entropy", "sequential"),
    "advantage": ChannelInfo("advantage", "advantage", "signed"),
    "mask": ChannelInfo("mask", "loss mask", "mask"),
    "delta_logprob": ChannelInfo(
        "delta_logprob", "Δ logprob (trainer − sampler)", "signed", derived=True, unit="nats"
    ),
    "ratio": ChannelInfo(
        "ratio", "importance ratio exp(trainer − sampler)", "signed", centre=1.0, derived=True
    ),
    "ref_log_ratio": ChannelInfo(
        "ref_log_ratio", "log ratio sampler − reference", "signed", derived=True, unit="nats"
    ),
}

#: Derived channel -> (left, right): the channels it needs.
DERIVED = {
    "delta_logprob": ("train_logprob", "logprob"),
    "ratio": ("train_logprob", "logprob"),
    "ref_log_ratio": ("logprob", "ref_logprob"),
}


def channel_info(name: str, values: FloatArray | None = None) -> ChannelInfo:
    """What ``name`` means; an unknown channel is "signed" when it holds negative values."""
    info = _INFO.get(name)
    if info is not None:
        return info
    side, _, base = name.partition("_")
    if side in ("diff", "a", "b") and base:  # a comparison's channels (model/align.py)
        inner = channel_info(base)
        if side == "diff":
            return ChannelInfo(name, f"Δ {inner.title} (B − A)", "signed", unit=inner.unit)
        return replace(inner, name=name, title=f"{side.upper()}: {inner.title}", derived=False)
    signed = False
    if values is not None and len(values):
        with np.errstate(invalid="ignore"):
            signed = bool(np.any(values < 0))
    return ChannelInfo(name, name, "signed" if signed else "sequential")


class Channels(Mapping[str, "FloatArray"]):
    """A read-only, picklable mapping of channel name to its float64 array, in source order."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        self._data: dict[str, FloatArray] = {
            str(k): np.asarray(v, dtype=np.float64) for k, v in (data or {}).items()
        }

    def __getitem__(self, name: str) -> FloatArray:
        return self._data[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"Channels({', '.join(self._data)})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Channels, (self._data,))

    def equal(self, other: Channels) -> bool:
        return list(self) == list(other) and all(
            np.array_equal(self[k], other[k], equal_nan=True) for k in self
        )

    def sliced(self, start: int, stop: int) -> Channels:
        return Channels({k: v[start:stop].copy() for k, v in self._data.items()})


def clean(name: str, values: FloatArray) -> FloatArray:
    """Values for display and arithmetic: padding (±1e29 and beyond, and sentinels in logprob
    channels) and infinities other than a logprob's -inf become NaN."""
    v = np.asarray(values, dtype=np.float64)
    bad = padding_mask(name, v)
    if not bad.any():
        return v
    out = v.copy()
    out[bad] = math.nan
    return out


def padding_mask(name: str, values: FloatArray) -> np.ndarray:
    """Where a channel holds padding rather than data: magnitudes of 1e29 and beyond, and in a
    logprob channel sentinels (<= -1000, -inf excepted: it is log 0)."""
    with np.errstate(invalid="ignore"):
        bad = np.abs(values) >= HUGE
        if name in LOGPROB_LIKE:
            bad |= (values <= SENTINEL) & (values != -math.inf)
    return np.asarray(bad, dtype=np.bool_)


def _derived(trace: Trace, name: str) -> FloatArray:
    left, right = DERIVED[name]
    with np.errstate(invalid="ignore", over="ignore"):
        d = stored_or_logprob(trace, left) - stored_or_logprob(trace, right)
        return np.exp(d) if name == "ratio" else d


def derived_channels(trace: Trace) -> dict[str, FloatArray]:
    """The derived channels whose both sides the trace has (SPEC §15)."""
    names = channel_names(trace)
    return {name: _derived(trace, name) for name in names if name in DERIVED}


def stored_or_logprob(trace: Trace, name: str) -> FloatArray:
    if name == "logprob":
        lp: FloatArray = trace.logprobs
        return lp
    return clean(name, trace.channels[name])


def channel_names(trace: Trace) -> tuple[str, ...]:
    """Every channel of the trace: "logprob" when any is known, the stored ones, the derived."""
    names: list[str] = []
    if len(trace.logprobs) and np.isfinite(trace.logprobs).any():
        names.append("logprob")
    names.extend(n for n in trace.channels if n != "logprob")
    have = set(names)
    names.extend(n for n, (a, b) in DERIVED.items() if a in have and b in have)
    return tuple(names)


def channel_values(trace: Trace, name: str) -> FloatArray:
    """One channel's values, cleaned (see :func:`clean`); KeyError when the trace lacks it."""
    if name == "logprob" or name in trace.channels:
        return stored_or_logprob(trace, name)
    if name in DERIVED and name in channel_names(trace):
        return _derived(trace, name)  # only this one: channel_stats asks for each in turn
    raise KeyError(name)


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def channel_stats(trace: Trace) -> dict[str, dict[str, Any]]:
    """Per channel: mean, min and max over known values (None when none), and how many."""
    out: dict[str, dict[str, Any]] = {}
    for name in channel_names(trace):
        v = channel_values(trace, name)
        known = v[np.isfinite(v)]
        if len(known):
            out[name] = {
                "mean": _finite(float(known.mean())),
                "min": _finite(float(known.min())),
                "max": _finite(float(known.max())),
                "n": len(known),
            }
        else:
            out[name] = {"mean": None, "min": None, "max": None, "n": 0}
    return out


def mask_of(trace: Trace) -> np.ndarray | None:
    """True where a position counts (mask != 0; unknown counts), None without a mask channel."""
    m = trace.channels.get("mask")
    if m is None:
        return None
    with np.errstate(invalid="ignore"):
        return np.asarray(~(m == 0), dtype=np.bool_)
