"""The numbers behind the figures (SPEC §16, issue 14 point 3) against numpy on the same arrays."""

from __future__ import annotations

import numpy as np
import pytest

from tracesite import Trace
from tracesite.model.figures import FIGURES, figure_data

rng = np.random.default_rng(3)


def rollouts(n: int = 6, length: int = 50) -> list[Trace]:
    out = []
    for k in range(n):
        m = length - 3 * k
        s = np.log(rng.uniform(0.01, 1, m))
        t = np.minimum(s + rng.normal(0, 0.3, m), -1e-6)
        e = rng.uniform(0, 4, m)
        e[5] = np.nan  # unknown entropy at one position
        out.append(Trace(tokens=["x"] * m, logprobs=s, channels={"train_logprob": t, "entropy": e}))
    return out


def test_entropy_histogram_and_its_80th_percentile() -> None:
    ts = rollouts()
    pooled = np.concatenate([t.channels["entropy"] for t in ts])
    pooled = pooled[np.isfinite(pooled)]
    fig = figure_data("entropy-histogram", ts)
    counts, edges = np.histogram(pooled, bins=40)
    assert fig.columns["count"] == counts.tolist()
    np.testing.assert_allclose(fig.columns["left"], edges[:-1])
    assert fig.notes["p80"] == pytest.approx(np.percentile(pooled, 80))
    # each bar's origin is a position whose entropy falls in that bar
    for (k, pos), lo, hi, c in zip(
        fig.origin, fig.columns["left"], fig.columns["right"], counts, strict=True
    ):
        if c:
            v = ts[k].channels["entropy"][pos - 1]
            assert lo <= v <= hi


def test_by_position_means_ignore_unknown_values_and_ended_traces() -> None:
    ts = rollouts()
    fig = figure_data("entropy-by-position", ts)
    i = 5  # 0-based position whose entropy is unknown in every trace
    assert i + 1 not in fig.columns["x"]
    j = 45  # only the traces long enough reach it
    have = [t.channels["entropy"][j] for t in ts if t.n_tokens > j]
    k = fig.columns["x"].index(j + 1)
    assert fig.columns["y"][k] == pytest.approx(np.mean(have)) and fig.columns["n"][k] == len(have)
    p = figure_data("p-by-position", ts)
    assert p.columns["y"][0] == pytest.approx(np.mean([np.exp(t.logprobs[0]) for t in ts]))


def test_sampler_vs_trainer_2d_histogram_and_dp_by_p() -> None:
    ts = rollouts()
    s = np.concatenate([np.exp(t.logprobs) for t in ts])
    tr = np.concatenate([np.exp(t.channels["train_logprob"]) for t in ts])
    fig = figure_data("sampler-vs-trainer", ts)
    counts, _, _ = np.histogram2d(s, tr, bins=25, range=[[0, 1], [0, 1]])
    assert sum(fig.columns["count"]) == counts.sum() == len(s)
    assert sorted(fig.columns["count"]) == sorted(counts[counts > 0].tolist())
    dp = figure_data("dp-by-p", ts)
    edges = np.linspace(0, 1, 21)
    which = np.clip(np.searchsorted(edges, s, side="right") - 1, 0, 19)
    for b in range(20):
        sel = which == b
        if sel.any():
            assert dp.columns["mean"][b] == pytest.approx(np.abs(tr - s)[sel].mean())


def test_confidence_by_label_splits_traces() -> None:
    ts = rollouts()
    labels = ["correct", "wrong"] * 3
    fig = figure_data("confidence-by-label", ts, labels)
    assert set(fig.series) == {"correct", "wrong"}
    total = {
        lab: sum(c for c, s in zip(fig.columns["count"], fig.series, strict=True) if s == lab)
        for lab in ("correct", "wrong")
    }
    assert total == {"correct": 3, "wrong": 3}


def test_every_figure_has_numbers_and_unknown_names_are_errors() -> None:
    ts = rollouts()
    for name in FIGURES:
        fig = figure_data(name, ts, ["a"] * len(ts))
        assert fig.columns and len(fig.origin) == len(next(iter(fig.columns.values())))
    with pytest.raises(ValueError, match="unknown figure 'nope'"):
        figure_data("nope", ts)
