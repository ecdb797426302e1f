"""The numbers behind the paper figures (SPEC §16): computed here with numpy, drawn by
``render/figures.py``. Every mark keeps where it came from (a trace and a 1-based position) so a
click on it can open that trace there.

Figures (``FIGURES``):

- ``entropy-histogram``: the distribution of per-token entropy over every position, with its
  80th percentile (the "80/20" line: the top fifth are the forking tokens);
- ``entropy-by-position`` / ``p-by-position``: the mean over traces at each position;
- ``sampler-vs-trainer``: a 2-D histogram of the sampler's p against the trainer's p;
- ``dp-by-p``: mean |p_trainer − p_sampler| binned by the sampler's p;
- ``confidence-by-label``: histograms of each trace's mean p, one per label (a scalar such as
  reward, or ``correct``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tracesite.model.channels import channel_values

FIGURES = (
    "entropy-histogram",
    "entropy-by-position",
    "p-by-position",
    "sampler-vs-trainer",
    "dp-by-p",
    "confidence-by-label",
)


@dataclass
class FigureData:
    """What a figure draws: named numeric columns, per-mark origins, and annotations."""

    name: str
    x_label: str
    y_label: str
    columns: dict[str, list[float]] = field(default_factory=dict)
    origin: list[tuple[int, int]] = field(default_factory=list)  # per mark: (trace, position)
    notes: dict[str, float | None] = field(default_factory=dict)  # e.g. "p80"
    series: list[str] = field(default_factory=list)  # per mark: its label (confidence-by-label)


def _entropy(trace: Any) -> np.ndarray:
    """Exact entropy when the trace has the channel, else the top-k lower bound (bits)."""
    if "entropy" in trace.channels:
        return np.asarray(channel_values(trace, "entropy"))
    return np.asarray(trace.position_stats.entropy)


def _pooled(
    traces: Sequence[Any], values: Sequence[np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every finite value with its trace index and 0-based position."""
    vs, ts, ps = [], [], []
    for k, v in enumerate(values):
        ok = np.flatnonzero(np.isfinite(v))
        vs.append(v[ok])
        ts.append(np.full(len(ok), k))
        ps.append(ok)
    if not vs:
        return np.zeros(0), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(vs), np.concatenate(ts), np.concatenate(ps)


def _representatives(
    bin_of: np.ndarray, n_bins: int, ts: np.ndarray, ps: np.ndarray
) -> list[tuple[int, int]]:
    """Per bin, the first value that fell in it: (trace, 1-based position), or (-1, 0)."""
    out = [(-1, 0)] * n_bins
    seen = np.zeros(n_bins, dtype=bool)
    for i, b in enumerate(bin_of.tolist()):
        if 0 <= b < n_bins and not seen[b]:
            seen[b] = True
            out[b] = (int(ts[i]), int(ps[i]) + 1)
            if seen.all():
                break
    return out


def histogram(
    values: np.ndarray, bins: int, lo: float | None = None, hi: float | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """np.histogram with the bin index of every value (the last edge inclusive, as numpy)."""
    if len(values) == 0:
        return np.zeros(bins), np.linspace(0, 1, bins + 1), np.zeros(0, dtype=np.int64)
    lo = float(values.min()) if lo is None else lo
    hi = float(values.max()) if hi is None else hi
    if hi <= lo:
        hi = lo + 1.0
    counts, edges = np.histogram(values, bins=bins, range=(lo, hi))
    idx = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, bins - 1)
    return counts.astype(np.float64), edges, idx


def entropy_histogram(traces: Sequence[Any], bins: int = 40) -> FigureData:
    vs, ts, ps = _pooled(traces, [_entropy(t) for t in traces])
    counts, edges, idx = histogram(vs, bins)
    fig = FigureData("entropy-histogram", "entropy", "tokens")
    fig.columns = {
        "left": edges[:-1].tolist(),
        "right": edges[1:].tolist(),
        "count": counts.tolist(),
    }
    fig.origin = _representatives(idx, bins, ts, ps)
    fig.notes["p80"] = float(np.percentile(vs, 80)) if len(vs) else None
    fig.notes["n"] = float(len(vs))
    return fig


def by_position(traces: Sequence[Any], what: str) -> FigureData:
    """Mean entropy (``what="entropy"``) or p (``"p"``) over traces at each position."""
    values = [_entropy(t) if what == "entropy" else np.asarray(t.position_stats.p) for t in traces]
    longest = max((len(v) for v in values), default=0)
    total = np.zeros(longest)
    count = np.zeros(longest)
    for v in values:
        ok = np.isfinite(v)
        total[: len(v)] += np.where(ok, v, 0.0)
        count[: len(v)] += ok
    with np.errstate(invalid="ignore"):
        mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    fig = FigureData(f"{what}-by-position", "position", f"mean {what}")
    keep = np.flatnonzero(count > 0)
    fig.columns = {"x": (keep + 1.0).tolist(), "y": mean[keep].tolist(), "n": count[keep].tolist()}
    first = [
        next((k for k, v in enumerate(values) if len(v) > i and np.isfinite(v[i])), -1)
        for i in keep.tolist()
    ]
    fig.origin = [(k, i + 1) for k, i in zip(first, keep.tolist(), strict=True)]
    return fig


def _sampler_trainer(
    traces: Sequence[Any],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    ps_, pt_, ts_, pos_ = [], [], [], []
    for k, t in enumerate(traces):
        if "train_logprob" not in t.channels:
            continue
        with np.errstate(over="ignore"):
            s = np.exp(t.logprobs)
            tr = np.exp(channel_values(t, "train_logprob"))
        ok = np.flatnonzero(np.isfinite(s) & np.isfinite(tr))
        ps_.append(s[ok])
        pt_.append(tr[ok])
        ts_.append(np.full(len(ok), k))
        pos_.append(ok)
    if not ps_:
        z = np.zeros(0)
        return z, z, z.astype(np.int64), z.astype(np.int64)
    return np.concatenate(ps_), np.concatenate(pt_), np.concatenate(ts_), np.concatenate(pos_)


def sampler_vs_trainer(traces: Sequence[Any], bins: int = 25) -> FigureData:
    s, t, ts, ps = _sampler_trainer(traces)
    counts, xe, ye = np.histogram2d(s, t, bins=bins, range=[[0, 1], [0, 1]])
    fig = FigureData("sampler-vs-trainer", "sampler p", "trainer p")
    xi = np.clip(np.searchsorted(xe, s, side="right") - 1, 0, bins - 1)
    yi = np.clip(np.searchsorted(ye, t, side="right") - 1, 0, bins - 1)
    cell = xi * bins + yi
    reps = _representatives(cell, bins * bins, ts, ps)
    cols: dict[str, list[float]] = {"x": [], "y": [], "w": [], "count": []}
    for i in range(bins):
        for j in range(bins):
            if counts[i, j] > 0:
                cols["x"].append(float((xe[i] + xe[i + 1]) / 2))
                cols["y"].append(float((ye[j] + ye[j + 1]) / 2))
                cols["w"].append(float(xe[1] - xe[0]))
                cols["count"].append(float(counts[i, j]))
                fig.origin.append(reps[i * bins + j])
    fig.columns = cols
    fig.notes["n"] = float(len(s))
    return fig


def dp_by_p(traces: Sequence[Any], bins: int = 20) -> FigureData:
    s, t, ts, ps = _sampler_trainer(traces)
    dp = np.abs(t - s)
    counts, edges, idx = histogram(s, bins, 0.0, 1.0)
    sums = np.bincount(idx, weights=dp, minlength=bins) if len(idx) else np.zeros(bins)
    with np.errstate(invalid="ignore"):
        mean = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    fig = FigureData("dp-by-p", "sampler p", "mean |Δp|")
    fig.columns = {
        "left": edges[:-1].tolist(),
        "right": edges[1:].tolist(),
        "mean": [v if math.isfinite(v) else 0.0 for v in mean.tolist()],
        "count": counts.tolist(),
    }
    fig.origin = _representatives(idx, bins, ts, ps)
    return fig


def confidence_by_label(traces: Sequence[Any], labels: Sequence[str], bins: int = 20) -> FigureData:
    """Histograms of each trace's mean p, one series per label value."""
    means = np.array(
        [t.stats.mean_prob if t.stats.mean_prob is not None else np.nan for t in traces]
    )
    fig = FigureData("confidence-by-label", "mean p of a trace", "traces")
    cols: dict[str, list[float]] = {"left": [], "right": [], "count": []}
    edges = np.linspace(0, 1, bins + 1)
    for label in dict.fromkeys(labels):
        rows = np.flatnonzero((np.asarray(labels) == label) & np.isfinite(means))
        counts, _ = np.histogram(means[rows], bins=edges)
        idx = np.clip(np.searchsorted(edges, means[rows], side="right") - 1, 0, bins - 1)
        reps = _representatives(idx, bins, rows, np.zeros(len(rows), dtype=np.int64))
        for b in range(bins):
            if counts[b]:
                cols["left"].append(float(edges[b]))
                cols["right"].append(float(edges[b + 1]))
                cols["count"].append(float(counts[b]))
                fig.origin.append(reps[b])
                fig.series.append(str(label))
    fig.columns = cols
    return fig


def figure_data(
    name: str, traces: Sequence[Any], labels: Sequence[str] | None = None
) -> FigureData:
    """The numbers of figure ``name`` over ``traces`` (ValueError for an unknown name)."""
    if name == "entropy-histogram":
        return entropy_histogram(traces)
    if name in ("entropy-by-position", "p-by-position"):
        return by_position(traces, name.split("-")[0])
    if name == "sampler-vs-trainer":
        return sampler_vs_trainer(traces)
    if name == "dp-by-p":
        return dp_by_p(traces)
    if name == "confidence-by-label":
        return confidence_by_label(traces, labels or ["all"] * len(traces))
    raise ValueError(f"unknown figure {name!r}; expected one of {', '.join(FIGURES)}")
