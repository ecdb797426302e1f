"""Filling and checking a :class:`~tracesite.model.trace.Trace`'s fields as it is made.

Readers pass every field ready-made; people (``Trace(tokens=[...], logprobs=[...],
channels={...})``) and rollout readers pass a few. Either way each field ends up its documented
type and every per-position array as long as the tokens: a wrong length is a ValueError that
names the field, never a trace that breaks later in a renderer.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tracesite.model.channels import Channels

#: Logprobs at or below this are sentinels (see model.trace.SENTINEL_LOGPROB).
_SENTINEL = -1000.0


def normalised(values: Any) -> np.ndarray:
    """Logprobs as float64 with the model's convention: NaN unknown (None, NaN, sentinels);
    -inf kept (an exact zero); tiny positive round-off read as 0."""
    arr = np.array(values, dtype=np.float64)  # None becomes NaN; always a copy
    if arr.size:
        with np.errstate(invalid="ignore"):
            arr[(arr <= _SENTINEL) & (arr != -math.inf)] = math.nan
            arr[(arr > 0.0) & (arr < 1e-6)] = 0.0
    return arr


def _set(trace: Any, name: str, value: Any) -> None:
    object.__setattr__(trace, name, value)


def _check(name: str, got: int, n: int) -> None:
    if got != n:
        raise ValueError(f"{name}: {got} values, tokens has {n}")


def complete(trace: Any) -> None:
    """Fill a new trace's missing fields and check every length (called by ``__post_init__``)."""
    tokens = trace.tokens
    if type(tokens) is not tuple:
        if isinstance(tokens, str):
            raise ValueError("tokens: expected a sequence of strings, got one string")
        tokens = tuple(str(t) for t in tokens)
        _set(trace, "tokens", tokens)
    n = len(tokens)
    raw = trace.token_bytes
    if raw is None:
        _set(trace, "token_bytes", (None,) * n)
    elif type(raw) is not tuple:
        _set(trace, "token_bytes", tuple(raw))
    _check("token_bytes", len(trace.token_bytes), n)

    channels = trace.channels
    if not isinstance(channels, Channels):
        given = dict(channels or {})
        if "logprob" in given:  # the sampler's logprob is the trace's own logprobs
            lp = given.pop("logprob")
            if trace.logprobs is not None:
                raise ValueError("logprob: given both as logprobs and as a channel")
            _set(trace, "logprobs", lp)
        channels = Channels(given)
        _set(trace, "channels", channels)
    for name, values in channels.items():
        if values.ndim != 1:
            raise ValueError(f"channel {name}: expected one value per token")
        _check(f"channel {name}", len(values), n)

    lp = trace.logprobs
    if lp is None:
        _set(trace, "logprobs", np.full(n, math.nan))
    else:  # normalised even when already float64: one pass, and the convention always holds
        _set(trace, "logprobs", normalised(lp))
    _check("logprobs", len(trace.logprobs), n)
    ids = trace.token_ids
    if ids is None:
        _set(trace, "token_ids", np.full(n, -1, dtype=np.int64))
    elif not (isinstance(ids, np.ndarray) and ids.dtype == np.int64):
        _set(trace, "token_ids", np.asarray(ids, dtype=np.int64))
    _check("token_ids", len(trace.token_ids), n)
    special = trace.special
    if special is None:
        _set(trace, "special", np.zeros(n, dtype=np.bool_))
    elif not (isinstance(special, np.ndarray) and special.dtype == np.bool_):
        _set(trace, "special", np.asarray(special, dtype=np.bool_))
    _check("special", len(trace.special), n)

    if type(trace.alt_tokens) is not tuple:
        _set(trace, "alt_tokens", tuple(trace.alt_tokens))
    n_alts = len(trace.alt_tokens)
    if trace.alt_offsets is None:
        if n_alts:
            raise ValueError("alt_offsets: needed when alternatives are given")
        _set(trace, "alt_offsets", np.zeros(n + 1, dtype=np.int64))
    elif not isinstance(trace.alt_offsets, np.ndarray):
        _set(trace, "alt_offsets", np.asarray(trace.alt_offsets, dtype=np.int64))
    _check("alt_offsets", len(trace.alt_offsets) - 1, n)
    if not trace.alt_bytes and n_alts:
        _set(trace, "alt_bytes", (None,) * n_alts)
    elif type(trace.alt_bytes) is not tuple:
        _set(trace, "alt_bytes", tuple(trace.alt_bytes))
    if trace.alt_ids is None:
        _set(trace, "alt_ids", np.full(n_alts, -1, dtype=np.int64))
    elif not isinstance(trace.alt_ids, np.ndarray):
        _set(trace, "alt_ids", np.asarray(trace.alt_ids, dtype=np.int64))
    if trace.alt_logprobs is None:
        _set(trace, "alt_logprobs", np.full(n_alts, math.nan))
    else:
        _set(trace, "alt_logprobs", normalised(trace.alt_logprobs))
    for name in ("alt_bytes", "alt_ids", "alt_logprobs"):
        if len(getattr(trace, name)) != n_alts:
            raise ValueError(f"{name}: {len(getattr(trace, name))} values, alt_tokens has {n_alts}")
    if n and int(trace.alt_offsets[-1]) != n_alts:
        raise ValueError(f"alt_offsets: ends at {int(trace.alt_offsets[-1])}, not {n_alts}")
    prompt = trace.prompt_trace
    if prompt is not None and (type(prompt) is not type(trace) or prompt.prompt_trace is not None):
        raise ValueError("prompt_trace: expected a Trace of the prompt's positions (no prompt)")
