"""The trace model: one generated sequence with per-position logprobs and top-k alternatives.

Numbers live in numpy arrays; alternatives use a CSR layout (``alt_offsets``) so a 1,000,000-token
trace is a handful of arrays, not millions of Python objects. Statistics are derived lazily and
cached. Instances are frozen; build them with :meth:`Trace.from_positions`.
"""

from __future__ import annotations

import codecs
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from tracesite.model.channels import Channels, channel_names, channel_values, mask_of
from tracesite.model.construct import complete
from tracesite.model.tokens import TokenTable, pieces_of_valid_utf8, token_table_of

#: Logprobs at or below this are sentinels meaning "below every listed alternative, value not
#: given" (OpenAI and vLLM write -9999.0, Gemini pads with -1.2676506e30): never probabilities.
SENTINEL_LOGPROB = -1000.0

#: ``rank`` value for a chosen token that is not among the listed alternatives.
RANK_OUTSIDE = 0
#: ``rank`` value for a position that lists no alternatives at all.
RANK_NONE = -1

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


class Candidate(NamedTuple):
    """One token as a reader found it: the chosen token or one alternative."""

    text: str
    logprob: float | None  # natural log; None, NaN or a sentinel (<= -1000) mean "unknown"
    bytes: bytes | None = None
    id: int = -1


class Position(NamedTuple):
    """What a reader found at one generated position."""

    chosen: Candidate
    alternatives: Sequence[Candidate] = ()
    special: bool = False


def normalise_logprob(value: float | None) -> float:
    """Map a raw logprob to the model's convention: NaN for unknown (None, NaN, sentinels)."""
    if value is None:
        return math.nan
    v = float(value)
    if math.isnan(v) or (v <= SENTINEL_LOGPROB and v != -math.inf):
        return math.nan  # -inf stays: it is log 0, an exact zero (llama.cpp post-sampling)
    # float round-off gives tiny positive logprobs for p = 1; larger ones are a reader's error
    return 0.0 if 0.0 < v < 1e-6 else v


@dataclass(frozen=True)
class TraceMeta:
    """Where a trace came from and what the provider said about it."""

    source: str = ""
    index: int = 0
    format: str = ""
    model: str | None = None
    created: str | None = None  # ISO 8601, UTC when the provider gave a Unix timestamp
    prompt: str | None = None
    finish_reason: str | None = None
    provider_text: str | None = None  # the provider's own text field, when it has one
    extra: Mapping[str, Any] = field(default_factory=dict)
    group: str | None = None  # siblings: a GRPO group, repeats of one prompt (SPEC §16)
    scalars: Mapping[str, Any] = field(default_factory=dict)  # step, reward...: cards sort by them
    provenance: Mapping[str, Any] = field(default_factory=dict)  # what the numbers mean (§15)

    def content_equal(self, other: TraceMeta) -> bool:
        """Equal apart from provenance (source, index, format), which a save/load changes."""
        return (
            self.model == other.model
            and self.created == other.created
            and self.prompt == other.prompt
            and self.finish_reason == other.finish_reason
            and self.provider_text == other.provider_text
            and dict(self.extra) == dict(other.extra)
            and self.group == other.group
            and dict(self.scalars) == dict(other.scalars)
            and dict(self.provenance) == dict(other.provenance)
        )


@dataclass(frozen=True)
class PositionStats:
    """Per-position statistics, one array entry per position."""

    p: FloatArray  # exp(logprob); NaN where unknown
    surprisal: FloatArray  # -log2 p, bits; NaN where unknown
    rank: IntArray  # 1-based rank among alternatives; RANK_OUTSIDE; RANK_NONE
    margin: FloatArray  # p(top-1) - p(top-2) over listed alternatives and the chosen token
    entropy: FloatArray  # bits; lower bound from top-k plus one rest-of-vocabulary bucket
    rest: FloatArray  # 1 - sum of listed p (chosen included when outside), clamped to [0, 1]


@dataclass(frozen=True)
class TraceStats:
    """What ``tracesite inspect`` reports for one trace (SPEC §4)."""

    n_tokens: int
    top_k: int
    mean_prob: float | None
    perplexity: float | None
    min_prob: float | None
    n_unknown: int
    n_outside_top_k: int
    text: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "n_tokens": self.n_tokens,
            "top_k": self.top_k,
            "mean_prob": self.mean_prob,
            "perplexity": self.perplexity,
            "min_prob": self.min_prob,
            "n_unknown": self.n_unknown,
            "n_outside_top_k": self.n_outside_top_k,
            "text": self.text,
        }


def _finite_or_none(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _utf8(b: bytes | None, label: str) -> bytes:
    return b if b is not None else label.encode("utf-8", "surrogatepass")


@dataclass(frozen=True, eq=False)
class Trace:
    """One generated sequence. Build with :meth:`from_positions`; compare with ``==``."""

    # Every field but ``tokens`` may be left out (``Trace(tokens=[...], logprobs=[...],
    # channels={...})``): __post_init__ fills and converts them (see model/construct.py).
    tokens: tuple[str, ...]  # the provider's label of each chosen token
    token_bytes: tuple[bytes | None, ...] = None  # type: ignore[assignment]  # the text's truth
    token_ids: IntArray = None  # type: ignore[assignment]  # -1 where unknown
    logprobs: FloatArray = None  # type: ignore[assignment]  # natural log; NaN = unknown
    special: BoolArray = None  # type: ignore[assignment]
    alt_offsets: IntArray = None  # type: ignore[assignment]  # position i: [off[i], off[i+1])
    alt_tokens: tuple[str, ...] = ()
    alt_bytes: tuple[bytes | None, ...] = ()
    alt_ids: IntArray = None  # type: ignore[assignment]
    alt_logprobs: FloatArray = None  # type: ignore[assignment]  # sorted per position, NaN last
    meta: TraceMeta = field(default_factory=TraceMeta)
    channels: Channels = None  # type: ignore[assignment]  # stored per-token channels (§15)
    # The prompt's own positions, when the engine scored them (vLLM ``prompt_logprobs``): a
    # trace of their own, shown before the generated text, never in this trace's statistics.
    prompt_trace: Trace | None = None

    def __post_init__(self) -> None:
        complete(self)

    # ---------------------------------------------------------------- construction
    @classmethod
    def from_positions(
        cls,
        positions: Sequence[Position],
        meta: TraceMeta,
        channels: Mapping[str, Any] | None = None,
    ) -> Trace:
        """Build a trace, normalising sentinels and sorting alternatives (stable, ties kept)."""
        n = len(positions)
        logprobs = np.empty(n, dtype=np.float64)
        ids = np.empty(n, dtype=np.int64)
        special = np.zeros(n, dtype=np.bool_)
        offsets = np.zeros(n + 1, dtype=np.int64)
        tokens: list[str] = []
        tbytes: list[bytes | None] = []
        a_tok: list[str] = []
        a_bytes: list[bytes | None] = []
        a_ids: list[int] = []
        a_lp: list[float] = []
        for i, pos in enumerate(positions):
            c = pos.chosen
            tokens.append(c.text)
            tbytes.append(c.bytes)
            ids[i] = c.id
            logprobs[i] = normalise_logprob(c.logprob)
            special[i] = pos.special
            alts = [(normalise_logprob(a.logprob), a) for a in pos.alternatives]
            # Real APIs do not always sort (legacy Completions dict order): sort here, stably,
            # unknown (sentinel) values last. Ties stay in the provider's order.
            alts.sort(key=lambda t: -t[0] if not math.isnan(t[0]) else math.inf)
            for lp, a in alts:
                a_tok.append(a.text)
                a_bytes.append(a.bytes)
                a_ids.append(a.id)
                a_lp.append(lp)
            offsets[i + 1] = len(a_tok)
        return cls(
            tokens=tuple(tokens),
            token_bytes=tuple(tbytes),
            token_ids=ids,
            logprobs=logprobs,
            special=special,
            alt_offsets=offsets,
            alt_tokens=tuple(a_tok),
            alt_bytes=tuple(a_bytes),
            alt_ids=np.asarray(a_ids, dtype=np.int64),
            alt_logprobs=np.asarray(a_lp, dtype=np.float64),
            meta=meta,
            channels=channels,  # type: ignore[arg-type]
        )

    @classmethod
    def from_arrays(
        cls,
        tokens: Sequence[str],
        *,
        token_bytes: Sequence[bytes | None] | None = None,
        token_ids: Any = None,
        logprobs: Any = None,
        channels: Mapping[str, Any] | None = None,
        special: Any = None,
        meta: TraceMeta | None = None,
    ) -> Trace:
        """A trace without alternatives from whole arrays (rollout tables): no per-token
        objects; logprobs normalised as :func:`normalise_logprob` does, channels kept as given."""
        return cls(
            tokens=tuple(tokens),
            token_bytes=None if token_bytes is None else tuple(token_bytes),  # type: ignore[arg-type]
            token_ids=token_ids,
            logprobs=logprobs,
            special=special,
            meta=meta if meta is not None else TraceMeta(),
            channels=channels,  # type: ignore[arg-type]
        )

    def replace_meta(self, **changes: Any) -> Trace:
        """A copy with some metadata fields changed (e.g. from a note's front matter)."""
        return replace(self, meta=replace(self.meta, **changes))

    # ---------------------------------------------------------------- access
    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def n_tokens(self) -> int:
        return len(self.tokens)

    def channel(self, name: str) -> FloatArray:
        """A stored, "logprob" or derived channel, cleaned for display (sentinels are NaN)."""
        return channel_values(self, name)

    @cached_property
    def channel_names(self) -> tuple[str, ...]:
        """Every channel: "logprob" when any is known, the stored ones, then derived ones."""
        return channel_names(self)

    @cached_property
    def mask(self) -> BoolArray | None:
        """True where a position counts in the loss; None without a "mask" channel."""
        return mask_of(self)

    def alternatives(self, i: int) -> list[Candidate]:
        """The listed alternatives of position ``i``, most probable first."""
        lo, hi = int(self.alt_offsets[i]), int(self.alt_offsets[i + 1])
        return [
            Candidate(
                self.alt_tokens[j],
                float(self.alt_logprobs[j]),
                self.alt_bytes[j],
                int(self.alt_ids[j]),
            )
            for j in range(lo, hi)
        ]

    @cached_property
    def alt_position(self) -> IntArray:
        """For each alternative, the index of its position."""
        counts = np.diff(self.alt_offsets)
        return np.repeat(np.arange(self.n_tokens, dtype=np.int64), counts)

    @cached_property
    def pieces(self) -> tuple[str, ...]:
        """Per position, the text it adds to the output (specials as their label).

        Bytes are decoded incrementally across positions, because a token may be an incomplete
        UTF-8 sequence (OpenAI's ``" \\xf0\\x9f\\x91"``): the character is attributed to the token
        that completes it. ``"".join`` of the non-special pieces is :attr:`text`.
        """
        if not self.special.any() and None not in self.token_bytes:
            whole = pieces_of_valid_utf8(self.token_bytes)  # type: ignore[arg-type]
            if whole is not None:
                return whole
        dec = codecs.getincrementaldecoder("utf-8")(errors="replace")
        out: list[str] = []
        for label, b, sp in zip(self.tokens, self.token_bytes, self.special, strict=True):
            if sp:
                # Bytes left pending before a special token belong to the text before it
                # (the special piece is left out of ``text``).
                tail = dec.decode(b"", final=True)
                if tail:
                    out[-1] += tail
                dec.reset()
                out.append(label)
                continue
            out.append(dec.decode(_utf8(b, label)))
        if out:
            tail = dec.decode(b"", final=True)
            if tail:
                out[-1] += tail
        return tuple(out)

    @cached_property
    def token_text(self) -> str:
        """The generated text rebuilt from the tokens' bytes, special tokens left out."""
        return "".join(p for p, sp in zip(self.pieces, self.special, strict=True) if not sp)

    @cached_property
    def text(self) -> str:
        """The generated text: the provider's own (``meta.provider_text``) when it gave one, else
        :attr:`token_text`. They differ where the tokens do not spell the text (llama.cpp merges
        buffered bytes into a streamed event's text); ``model.checks`` flags that."""
        given = self.meta.provider_text
        return given if given is not None else self.token_text

    # ---------------------------------------------------------------- statistics
    @cached_property
    def token_table(self) -> TokenTable:
        """Chosen tokens and alternatives as indices into their distinct (label, bytes) pairs,
        in order of first appearance, chosen tokens first (the heatmap's string table)."""
        n = self.n_tokens
        labels, raw = self.tokens + self.alt_tokens, self.token_bytes + self.alt_bytes
        table = token_table_of(labels, raw)
        if table is None:
            pairs = list(zip(labels, raw, strict=True))
            distinct = list(dict.fromkeys(pairs))
            where = dict(zip(distinct, range(len(distinct)), strict=True))
            index = np.fromiter(map(where.__getitem__, pairs), dtype=np.int64, count=len(pairs))
            table = TokenTable(distinct, index, index)
        return TokenTable(table.entries, table.chosen[:n], table.alts[n:])

    @cached_property
    def chosen_alt_index(self) -> IntArray:
        """For each position, the global index of the alternative that is the chosen token, or -1.

        Matched by token id where both sides have one (streamed llama.cpp merges buffered bytes
        into the chosen entry, so its text differs from the alternative's), else by bytes/text.
        """
        n = self.n_tokens
        result = np.full(n, -1, dtype=np.int64)
        if len(self.alt_tokens) == 0:
            return result
        # tokens are the same when their UTF-8 is: map each distinct entry to its UTF-8
        table = self.token_table
        keys: dict[bytes, int] = {}
        same = np.fromiter(
            (keys.setdefault(_utf8(b, t), len(keys)) for t, b in table.entries),
            dtype=np.int64,
            count=len(table.entries),
        )
        chosen_key, alt_key = same[table.chosen], same[table.alts]
        pos = self.alt_position
        cid = self.token_ids[pos]
        aid = self.alt_ids
        by_id = (cid >= 0) & (aid >= 0)
        match = np.where(by_id, cid == aid, chosen_key[pos] == alt_key)
        hits = np.flatnonzero(match)
        # keep the first hit of each position (hits are in increasing order)
        hit_pos = pos[hits]
        first = np.ones(len(hits), dtype=np.bool_)
        first[1:] = hit_pos[1:] != hit_pos[:-1]
        result[hit_pos[first]] = hits[first]
        return result

    @cached_property
    def position_stats(self) -> PositionStats:
        n = self.n_tokens
        lp = self.logprobs
        with np.errstate(divide="ignore", invalid="ignore"):
            p = np.exp(lp)
            surprisal = -lp / math.log(2)
        n_alts = np.diff(self.alt_offsets)
        ci = self.chosen_alt_index
        rank = np.where(ci >= 0, ci - self.alt_offsets[:-1] + 1, RANK_OUTSIDE).astype(np.int64)
        rank[n_alts == 0] = RANK_NONE
        alt_p = np.exp(self.alt_logprobs)  # NaN stays NaN
        known_alt_p = np.nan_to_num(alt_p, nan=0.0)
        listed = (
            np.bincount(self.alt_position, weights=known_alt_p, minlength=n) if n else np.zeros(0)
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            h_terms = np.where(known_alt_p > 0, -known_alt_p * np.log2(known_alt_p), 0.0)
        h_listed = (
            np.bincount(self.alt_position, weights=h_terms, minlength=n) if n else np.zeros(0)
        )
        # The chosen token joins the distribution when it is not among the listed alternatives.
        extra = (ci < 0) & np.isfinite(lp)
        pc = np.where(extra, p, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            h_chosen = np.where(pc > 0, -pc * np.log2(pc), 0.0)
        total = listed + pc
        rest = np.clip(1.0 - total, 0.0, 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            h_rest = np.where(rest > 0, -rest * np.log2(rest), 0.0)
        entropy = np.asarray(h_listed + h_chosen + h_rest, dtype=np.float64)
        # margin: the two largest of (first alternative, second alternative, chosen if extra)
        lo = self.alt_offsets[:-1]
        padded = np.append(alt_p, [np.nan, np.nan])  # lo and lo + 1 always valid indices
        a0 = np.where(n_alts >= 1, padded[lo], np.nan)
        a1 = np.where(n_alts >= 2, padded[lo + 1], np.nan)
        c = np.where(extra, p, np.nan)
        cands = np.stack([a0, a1, c], axis=1).reshape(n, 3)
        cands = np.where(np.isnan(cands), -np.inf, cands)
        cands.sort(axis=1)
        with np.errstate(invalid="ignore"):
            margin = cands[:, 2] - cands[:, 1]
        margin = np.where(np.isfinite(margin), margin, np.nan)
        return PositionStats(
            p=p, surprisal=surprisal, rank=rank, margin=margin, entropy=entropy, rest=rest
        )

    @cached_property
    def stats(self) -> TraceStats:
        """The per-trace statistics of ``tracesite inspect`` (SPEC §4)."""
        ps = self.position_stats
        known = ~np.isnan(self.logprobs)
        n_known = int(known.sum())
        n_alts = np.diff(self.alt_offsets)
        if n_known:
            kp = ps.p[known]
            mean_prob = float(kp.mean())
            # a mean logprob below -709.78 overflows a float: no finite perplexity (found by
            # fuzzing; a real file can hold such logprobs)
            neg_mean = -float(self.logprobs[known].mean())
            perplexity = math.exp(neg_mean) if neg_mean < 709.0 else math.inf
            min_prob = float(kp.min())
        else:
            mean_prob = perplexity = min_prob = math.nan
        return TraceStats(
            n_tokens=self.n_tokens,
            top_k=int(n_alts.max()) if self.n_tokens else 0,
            mean_prob=_finite_or_none(mean_prob),
            perplexity=_finite_or_none(perplexity),
            min_prob=_finite_or_none(min_prob),
            n_unknown=self.n_tokens - n_known,
            n_outside_top_k=int(((ps.rank == RANK_OUTSIDE) & (n_alts > 0)).sum()),
            text=self.text,
        )

    # ---------------------------------------------------------------- comparison, slicing
    def __eq__(self, other: object) -> bool:
        """Same tokens, numbers and metadata; provenance (source, index, format) not compared."""
        if not isinstance(other, Trace):
            return NotImplemented
        return (
            self.tokens == other.tokens
            and self.token_bytes == other.token_bytes
            and np.array_equal(self.token_ids, other.token_ids)
            and np.array_equal(self.logprobs, other.logprobs, equal_nan=True)
            and np.array_equal(self.special, other.special)
            and np.array_equal(self.alt_offsets, other.alt_offsets)
            and self.alt_tokens == other.alt_tokens
            and self.alt_bytes == other.alt_bytes
            and np.array_equal(self.alt_ids, other.alt_ids)
            and np.array_equal(self.alt_logprobs, other.alt_logprobs, equal_nan=True)
            and self.channels.equal(other.channels)
            and self.meta.content_equal(other.meta)
            and self.prompt_trace == other.prompt_trace
        )

    __hash__ = None  # type: ignore[assignment]

    def slice(self, start: int, stop: int) -> Trace:
        """Positions ``start..stop-1`` as a trace of their own (for ``positions: 40-80`` embeds)."""
        start = max(0, start)
        stop = min(self.n_tokens, stop)
        lo, hi = int(self.alt_offsets[start]), int(self.alt_offsets[stop])
        return Trace(
            tokens=self.tokens[start:stop],
            token_bytes=self.token_bytes[start:stop],
            token_ids=self.token_ids[start:stop].copy(),
            logprobs=self.logprobs[start:stop].copy(),
            special=self.special[start:stop].copy(),
            alt_offsets=self.alt_offsets[start : stop + 1] - lo,
            alt_tokens=self.alt_tokens[lo:hi],
            alt_bytes=self.alt_bytes[lo:hi],
            alt_ids=self.alt_ids[lo:hi].copy(),
            alt_logprobs=self.alt_logprobs[lo:hi].copy(),
            meta=self.meta,
            channels=self.channels.sliced(start, stop),
        )
