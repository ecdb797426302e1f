"""Data checks (SPEC §15): values that look padded or broken are flagged, not trusted.

RL pipelines lose logprobs silently: a missing value padded as 0 reads as p = 1, a sentinel
(-9999, -1e30) as a number, a mask that is all zero hides the whole rollout from the loss.
:func:`data_flags` lists what a trace's numbers suggest went wrong; the page lists the flags and
``tracesite inspect`` counts them. Readers add what only they can see (a channel cut to another
length) as ``meta.provenance["flags"]``: a list of ``{"code", "message"}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from tracesite.model.channels import LOGPROB_LIKE, mask_of, padding_mask

if TYPE_CHECKING:
    from tracesite.model.trace import Trace

#: Consecutive generated positions with a logprob of exactly 0 that read as padding, not data:
#: a confident model gives float32 logprobs of exactly 0 now and then, rarely 16 in a row.
ZERO_RUN = 16
#: Positions named in a flag (the rest are counted).
MAX_POSITIONS = 20


@dataclass(frozen=True)
class Flag:
    """One suspicious finding: a code, a sentence, where (1-based positions, the first few)."""

    code: str
    message: str
    count: int = 0
    positions: tuple[int, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "count": self.count,
            "positions": list(self.positions),
        }


def _runs(hit: np.ndarray, min_len: int) -> list[tuple[int, int]]:
    """(start, stop) of the runs of True at least ``min_len`` long."""
    if not hit.any():
        return []
    edges = np.diff(np.concatenate(([0], hit.astype(np.int8), [0])))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [(int(a), int(b)) for a, b in zip(starts, stops, strict=True) if b - a >= min_len]


def _first(idx: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) + 1 for i in idx[:MAX_POSITIONS])


def data_flags(trace: Trace) -> list[Flag]:
    """What looks padded or broken in the trace's numbers, in a fixed order."""
    mask = mask_of(trace)
    evidenced = _has_distribution(trace)
    flags = _mask_flags(trace, mask) + _processed_flags(trace, evidenced)
    counted = (mask if mask is not None else np.ones(trace.n_tokens, dtype=np.bool_)) & ~(
        trace.special
    )
    flags += _zero_run_flags(trace, counted, evidenced | (np.diff(trace.alt_offsets) > 0))
    flags += _channel_value_flags(trace) + _entropy_flags(trace)
    differs = text_difference(trace)
    if differs is not None:
        flags.append(differs)
    return flags + _reader_flags(trace)


def _has_distribution(trace: Trace) -> np.ndarray:
    """Positions listing an alternative with a known logprob: the provider computed a
    distribution there, so the chosen token's exact 0 is a real p = 1 (vLLM's float32
    log-softmax gives runs of them on boilerplate), not padding."""
    known_alt = np.isfinite(trace.alt_logprobs) & (trace.alt_logprobs < 0)
    evidenced = np.zeros(trace.n_tokens, dtype=np.bool_)
    evidenced[trace.alt_position[known_alt]] = True
    return evidenced


def _mask_flags(trace: Trace, mask: np.ndarray | None) -> list[Flag]:
    if mask is not None and trace.n_tokens and not mask.any():
        return [Flag("mask_hides_all", "the loss mask is 0 at every position", trace.n_tokens)]
    return []


def _processed_flags(trace: Trace, evidenced: np.ndarray) -> list[Flag]:
    """Alternatives listed but every other one a sentinel, the chosen at exactly 0: the engine
    renormalised over a nucleus of one token (vLLM's processed logprobs after top-p/top-k)."""
    n_alts = np.diff(trace.alt_offsets)
    nucleus = np.flatnonzero((trace.logprobs == 0.0) & (n_alts > 1) & ~evidenced)
    if len(nucleus) < 3:
        return []
    return [
        Flag(
            "processed_logprobs",
            f"at {len(nucleus)} positions the chosen token has p = 1 and every alternative is"
            " a sentinel: the logprobs look processed (renormalised after top-p/top-k), not the"
            " model's raw distribution",
            len(nucleus),
            _first(nucleus),
        )
    ]


def _zero_run_flags(trace: Trace, counted: np.ndarray, explained: np.ndarray) -> list[Flag]:
    """Runs of logprob exactly 0 at generated positions nothing else explains: missing values
    padded as 0. A trace shorter than ZERO_RUN (at least 4 long) counts when it is all zeros."""
    n = trace.n_tokens
    min_run = min(ZERO_RUN, max(n, 1)) if n >= 4 else ZERO_RUN
    sources = [("logprob", trace.logprobs)]
    sources += [(k, v) for k, v in trace.channels.items() if k in LOGPROB_LIKE]
    flags = []
    for name, values in sources:
        runs = _runs((values == 0.0) & counted & ~explained, min_run)
        if not runs:
            continue
        total = sum(b - a for a, b in runs)
        where = ", ".join(f"{a + 1}–{b}" for a, b in runs[:5])
        flags.append(
            Flag(
                "zero_logprob_run",
                f"{name} is exactly 0 (p = 1) over {total} generated positions ({where}):"
                " missing values padded as 0?",
                total,
                tuple(a + 1 for a, _ in runs[:MAX_POSITIONS]),
            )
        )
    return flags


def _channel_value_flags(trace: Trace) -> list[Flag]:
    """Per stored channel: logprobs above 0, and sentinels (padding, -9999 in logprobs)."""
    flags = []
    for name, values in trace.channels.items():
        bad = padding_mask(name, values)
        with np.errstate(invalid="ignore"):
            if name in LOGPROB_LIKE:
                positive = np.flatnonzero(values > 1e-6)
                if len(positive):
                    flags.append(
                        Flag(
                            "logprob_positive",
                            f"{name} is above 0 at {len(positive)} positions (p > 1)",
                            len(positive),
                            _first(positive),
                        )
                    )
        hits = np.flatnonzero(bad)
        if len(hits):
            flags.append(
                Flag(
                    "sentinel",
                    f"{name} holds {len(hits)} sentinel values (e.g. {values[hits[0]]:g}),"
                    " shown as unknown",
                    len(hits),
                    _first(hits),
                )
            )
    return flags


def _entropy_flags(trace: Trace) -> list[Flag]:
    ent = trace.channels.get("entropy")
    if ent is None:
        return []
    with np.errstate(invalid="ignore"):
        neg = np.flatnonzero(ent < -1e-6)
    if not len(neg):
        return []
    return [Flag("entropy_negative", f"entropy is negative at {len(neg)} positions", len(neg))]


def _reader_flags(trace: Trace) -> list[Flag]:
    """What a reader saw that the numbers cannot show (``meta.provenance["flags"]``)."""
    return [
        Flag(g["code"], str(g.get("message", g["code"])), int(g.get("count", 0) or 0))
        for g in trace.meta.provenance.get("flags", ()) or ()
        if isinstance(g, dict) and isinstance(g.get("code"), str)
    ]


def _common_prefix(a: str, b: str) -> int:
    """The length of the longest common prefix, by halving (slice comparisons run in C)."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def text_difference(trace: Trace) -> Flag | None:
    """``text_differs`` when the provider's own text is not what the tokens spell.

    Special tokens are left out of the tokens' text, as every provider leaves them out of its
    own (TGI's ``generated_text``, OpenAI's ``content``), so they never count as a difference.
    The flag names the first differing character and the position whose token holds it.
    """
    given = trace.meta.provider_text
    if given is None:
        return None
    spelled = trace.token_text
    if given == spelled:
        return None
    offset = _common_prefix(given, spelled)
    lengths = [0 if sp else len(p) for p, sp in zip(trace.pieces, trace.special, strict=True)]
    ends = np.cumsum(np.asarray(lengths, dtype=np.int64))
    # the position whose piece holds the character; past the tokens' text, the one after the
    # last piece that spells something (where the missing text should have been)
    at = int(np.searchsorted(ends, offset, side="right"))
    if at >= len(ends):
        at = int(np.searchsorted(ends, offset, side="left")) + 1
    positions = (min(at, trace.n_tokens - 1) + 1,) if trace.n_tokens else ()
    return Flag(
        "text_differs",
        f"the provider's text and the tokens' text differ from character {offset}"
        f" (provider: {_excerpt(given, offset)}, tokens: {_excerpt(spelled, offset)});"
        " the provider's text is shown as the text",
        1,
        positions,
    )


def _excerpt(text: str, offset: int) -> str:
    """A few characters of ``text`` from ``offset``, quoted, with escapes for invisible ones."""
    part = text[offset : offset + 12]
    shown = repr(part) if part else "the end"
    return shown + ("…" if len(text) > offset + 12 else "")
