"""Two traces aligned token by token (SPEC §16, compare): equal runs matched, a diff where they
diverge, and the per-position difference of logprob or of any shared channel.

Tokens are compared by their bytes (their label where they have none). The alignment is
``difflib.SequenceMatcher`` over token codes (no junk heuristic: a repeated token is data), which
finds the longest matching runs first, as ``diff`` does; within a replaced stretch the tokens are
paired in order and the longer side's rest is a gap on the other side.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

import numpy as np

from tracesite.model.channels import DERIVED, channel_names, channel_values
from tracesite.model.tokens import token_keys

#: Alignment kinds per column.
SAME, CHANGED, ONLY_A, ONLY_B = "same", "changed", "only_a", "only_b"


@dataclass(frozen=True)
class Alignment:
    """Columns of the comparison: ``a[k]``/``b[k]`` the 0-based position on each side (-1: a gap
    there) and ``kind[k]`` one of SAME, CHANGED, ONLY_A, ONLY_B."""

    a: np.ndarray
    b: np.ndarray
    kind: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.kind)

    @property
    def n_same(self) -> int:
        return self.kind.count(SAME)

    @property
    def first_difference(self) -> int | None:
        """The first column (1-based) where the sides differ; None when they are equal."""
        for k, kind in enumerate(self.kind):
            if kind != SAME:
                return k + 1
        return None


def align(a: Any, b: Any) -> Alignment:
    """The alignment of two traces' chosen tokens."""
    ka, kb = token_keys(a.tokens, a.token_bytes), token_keys(b.tokens, b.token_bytes)
    vocab: dict[object, int] = {}
    ca = [vocab.setdefault(k, len(vocab)) for k in ka]
    cb = [vocab.setdefault(k, len(vocab)) for k in kb]
    ia: list[int] = []
    ib: list[int] = []
    kind: list[str] = []
    matcher = SequenceMatcher(None, ca, cb, autojunk=False)
    for op, a0, a1, b0, b1 in matcher.get_opcodes():
        if op == "equal":
            ia.extend(range(a0, a1))
            ib.extend(range(b0, b1))
            kind.extend([SAME] * (a1 - a0))
            continue
        paired = min(a1 - a0, b1 - b0)
        ia.extend(range(a0, a0 + paired))
        ib.extend(range(b0, b0 + paired))
        kind.extend([CHANGED] * paired)
        for i in range(a0 + paired, a1):
            ia.append(i)
            ib.append(-1)
            kind.append(ONLY_A)
        for j in range(b0 + paired, b1):
            ia.append(-1)
            ib.append(j)
            kind.append(ONLY_B)
    return Alignment(np.array(ia, dtype=np.int64), np.array(ib, dtype=np.int64), tuple(kind))


def shared_channels(a: Any, b: Any) -> tuple[str, ...]:
    """The channels both traces have ("logprob" first), in the first trace's order."""
    theirs = set(channel_names(b))
    return tuple(n for n in channel_names(a) if n in theirs)


def side_values(trace: Any, name: str, index: np.ndarray) -> np.ndarray:
    """A channel's values at the aligned positions ``index`` (NaN at gaps)."""
    values = channel_values(trace, name)
    out = np.full(len(index), math.nan)
    there = index >= 0
    out[there] = values[index[there]]
    return out


def difference(a: Any, b: Any, al: Alignment, name: str) -> np.ndarray:
    """B − A of a shared channel per column (NaN at gaps and where either side is unknown)."""
    with np.errstate(invalid="ignore"):
        d: np.ndarray = side_values(b, name, al.b) - side_values(a, name, al.a)
    return d


_PROVENANCE_KEYS = ("engine", "engine_version", "logprobs", "sampling", "entropy", "tokenizer")


def provenance_differences(pa: dict[str, Any], pb: dict[str, Any]) -> list[str]:
    """Sentences saying where the two sides' numbers mean different things (SPEC §15)."""
    out = []
    for key in (*_PROVENANCE_KEYS, "n_alternatives"):
        va, vb = pa.get(key), pb.get(key)
        if va != vb and (va is not None or vb is not None):
            out.append(
                f"{key}: {va if va is not None else 'not said'} (A) vs "
                f"{vb if vb is not None else 'not said'} (B)"
            )
    return out


#: Data checks that say what a side's numbers mean (model/checks.py), whichever the source says.
_SEMANTIC_CHECKS = {
    "processed_logprobs": "logprobs look processed (renormalised after top-p/top-k)",
}


def semantics_differences(a: Any, b: Any) -> list[str]:
    """What the data say about the two sides' numbers where their sources say nothing: a data
    check of meaning (processed logprobs) that fires on one side only, and a different model.
    The corpus's QwQ-32B bf16 response against its AWQ and fp8 ones is the case: no provenance
    in either file, but AWQ's and fp8's listed alternatives are all -9999 sentinels."""
    from tracesite.model.checks import data_flags

    fa = {f.code: f for f in data_flags(a)}
    fb = {f.code: f for f in data_flags(b)}
    out = []
    for code, meaning in _SEMANTIC_CHECKS.items():
        if (code in fa) != (code in fb):
            side, other, flag = ("A", "B", fa[code]) if code in fa else ("B", "A", fb[code])
            out.append(
                f"{side}'s {meaning} at {flag.count} positions, {other}'s do not: there the"
                f" difference of logprob compares a renormalised p with the model's"
            )
    ma, mb = a.meta.model, b.meta.model
    if ma and mb and ma != mb:
        out.append(f"model: {ma} (A) vs {mb} (B)")
    return out


def compare_trace(a: Any, b: Any, al: Alignment | None = None) -> Any:
    """The comparison as one trace the heatmap can draw (a column per aligned pair): its token
    is A's (``A → B`` where they differ, ∅ for a gap), its logprob A's, and per shared channel
    ``diff_<name>`` (B − A, the colour by default), ``a_<name>`` and ``b_<name>`` (the hover's
    both sides). Its text is A's."""
    from tracesite.model.trace import Trace, TraceMeta

    al = align(a, b) if al is None else al
    labels: list[str] = []
    raw: list[bytes | None] = []
    for i, j, kind in zip(al.a.tolist(), al.b.tolist(), al.kind, strict=True):
        ta = a.tokens[i] if i >= 0 else "∅"
        tb = b.tokens[j] if j >= 0 else "∅"
        labels.append(ta if kind == SAME else f"{ta} → {tb}")
        if i < 0:
            raw.append(b"")  # B's extra token: a column, no text
        else:
            own = a.token_bytes[i]
            raw.append(own if own is not None else a.tokens[i].encode("utf-8", "surrogatepass"))
    channels: dict[str, np.ndarray] = {}
    # the measured channels, not the mask or what is derived from them (their differences say
    # nothing the bases do not, and each would be three more colour modes)
    base = [n for n in shared_channels(a, b) if n != "mask" and n not in DERIVED]
    for name in base:
        channels[f"diff_{name}"] = difference(a, b, al, name)
    for name in base:
        channels[f"a_{name}"] = side_values(a, name, al.a)
        channels[f"b_{name}"] = side_values(b, name, al.b)
    lp = side_values(a, "logprob", al.a) if "logprob" in channel_names(a) else None
    meta = TraceMeta(
        source=f"{a.meta.source} vs {b.meta.source}",
        format="compare",
        model=" vs ".join(m for m in (a.meta.model, b.meta.model) if m) or None,
        extra={"n_same": al.n_same, "n_columns": len(al), "first_difference": al.first_difference},
    )
    return Trace.from_arrays(labels, token_bytes=raw, logprobs=lp, channels=channels, meta=meta)


def compared(a: Any, b: Any) -> Any:
    """The comparison trace of A and B (:func:`compare_trace`), the differences of what their
    numbers mean listed as its data checks (SPEC §15: a comparison of traces whose semantics
    differ says so)."""
    from tracesite.model.summary import provenance_of

    c = compare_trace(a, b)
    said = provenance_differences(provenance_of(a), provenance_of(b))
    flags = [{"code": "provenance_differs", "message": f"A and B differ in {s}"} for s in said]
    flags += [{"code": "semantics_differ", "message": s} for s in semantics_differences(a, b)]
    return c.replace_meta(provenance={"flags": flags} if flags else {})
