"""The small summary a build keeps of each trace: statistics, the card's excerpt and sparkline,
the lowest-p positions. Picklable and JSON-able (the cache stores it), ~1 KB per trace."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from tracesite.core.options import HeatmapOptions

if (
    TYPE_CHECKING
):  # numpy and the model are imported where used: reading a cache entry needs neither
    import numpy as np

    from tracesite.model.trace import Trace

MAX_MARKS = 50  # low-confidence links listed beside a heatmap: the lowest p


@dataclass(frozen=True)
class TraceSummary:
    """What the build needs of one trace besides its page fragments (small, picklable)."""

    index: int
    n_in_file: int
    format: str
    model: str | None
    created: str | None
    finish_reason: str | None
    prompt: str | None
    extra: dict[str, Any]
    stats: dict[str, Any]  # TraceStats.as_dict() without "text"
    mean_entropy: float | None
    excerpt: str
    sparkline: str  # SVG polyline points
    low_confidence: list[int]  # 1-based positions, at most MAX_MARKS
    n_low_confidence: int
    group: str | None = None
    scalars: dict[str, Any] = field(default_factory=dict)  # step, reward...: cards sort by them
    provenance: dict[str, Any] = field(default_factory=dict)  # with "entropy" always said
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> mean/min/max/n
    flags: list[dict[str, Any]] = field(default_factory=list)  # model.checks.Flag.as_dict()
    # the chosen token's text and p at each of ``low_confidence``, for the links that name them
    low_tokens: list[str] = field(default_factory=list)
    low_p: list[float] = field(default_factory=list)


def sparkline_points(p: np.ndarray, width: int = 120, height: int = 24) -> str:
    """Mean p over up to ``width // 2`` buckets as SVG polyline points (unknown p left out)."""
    import numpy as np

    n = len(p)
    if n == 0:
        return ""
    buckets = max(1, min(width // 2, n))
    edges = np.linspace(0, n, buckets + 1).astype(int)
    if not np.isnan(p).any():  # then a bucket's mean is its sum over its size, as .mean() does
        bounds = edges.tolist()
        return " ".join(
            f"{(b + 0.5) * width / buckets:.1f},"
            f"{height - 1 - float(p[lo:hi].sum()) / (hi - lo) * (height - 2):.1f}"
            for b, (lo, hi) in enumerate(pairwise(bounds))
        )
    pts = []
    for b in range(buckets):
        chunk = p[edges[b] : max(edges[b + 1], edges[b] + 1)]
        chunk = chunk[~np.isnan(chunk)]
        if len(chunk) == 0:
            continue
        x = (b + 0.5) * width / buckets
        y = height - 1 - float(chunk.mean()) * (height - 2)
        pts.append(f"{x:.1f},{y:.1f}")
    return " ".join(pts)


def summarise(trace: Trace, n_in_file: int, options: HeatmapOptions) -> TraceSummary:
    """The summary of one trace of a file holding ``n_in_file``."""
    import numpy as np

    from tracesite.model.channels import channel_stats
    from tracesite.model.checks import data_flags

    ps = trace.position_stats
    stats = trace.stats.as_dict()
    text = stats.pop("text")
    low = np.flatnonzero(ps.p < options.low_confidence)  # NaN (unknown) compares False
    kept = np.sort(low[np.argsort(ps.p[low], kind="stable")[:MAX_MARKS]])
    ent = ps.entropy[~np.isnan(trace.logprobs)]
    m = trace.meta
    return TraceSummary(
        index=m.index,
        n_in_file=n_in_file,
        format=m.format,
        model=m.model,
        created=m.created,
        finish_reason=m.finish_reason,
        prompt=m.prompt,
        extra=dict(m.extra),
        stats=stats,
        mean_entropy=float(ent.mean()) if len(ent) and math.isfinite(float(ent.mean())) else None,
        excerpt=text[:300],
        sparkline=sparkline_points(ps.p),
        low_confidence=[int(i) + 1 for i in kept],
        n_low_confidence=len(low),
        group=m.group,
        scalars=dict(m.scalars),
        provenance=provenance_of(trace),
        channels=channel_stats(trace),
        flags=[f.as_dict() for f in data_flags(trace)],
        low_tokens=[trace.tokens[i] for i in kept.tolist()],
        low_p=[float(ps.p[i]) for i in kept.tolist()],
    )


#: Longest token text a low-confidence link shows before cutting it with "…".
MARK_TEXT_CHARS = 24
_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def token_literal(text: str) -> str:
    """A token as a quoted literal that hides nothing (``" primarily"``, ``"\\n"``): newlines,
    tabs and invisible characters as escapes, as the heatmap's hover writes them; long tokens cut
    with ``…``. Not escaped for HTML (the template does that)."""
    out = []
    for ch in text[:MARK_TEXT_CHARS]:
        if ch in '\\"':
            out.append("\\" + ch)
        elif ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch == " " or ch.isprintable():
            out.append(ch)
        else:
            code = ord(ch)
            out.append(f"\\u{code:04x}" if code < 0x10000 else f"\\u{{{code:x}}}")
    return '"' + "".join(out) + ("…" if len(text) > MARK_TEXT_CHARS else "") + '"'


def provenance_of(trace: Trace) -> dict[str, Any]:
    """The trace's provenance, with what its entropy is always said: "exact" when the source
    gave an entropy channel, else a "lower bound" from the listed alternatives (or none)."""
    out = {k: v for k, v in trace.meta.provenance.items() if k != "flags"}
    if "entropy" not in out:
        if "entropy" in trace.channels:
            out["entropy"] = "exact"
        elif len(trace.alt_tokens):
            out["entropy"] = "lower bound (top-k)"
    if "n_alternatives" not in out and trace.n_tokens:
        out["n_alternatives"] = trace.stats.top_k
    return out
