"""Compare (SPEC §16, issue 14 point 2): the alignment and the differences are exact."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tracesite import Trace
from tracesite.model.align import (
    CHANGED,
    ONLY_A,
    ONLY_B,
    SAME,
    align,
    difference,
    provenance_differences,
    shared_channels,
)


def tr(tokens: list[str], lps: list[float] | None = None, **channels: list[float]) -> Trace:
    return Trace(tokens=tokens, logprobs=lps or [-0.5] * len(tokens), channels=channels)


def test_equal_runs_match_and_a_divergence_is_a_diff() -> None:
    a = tr(["The", " sky", " is", " blue", "."], [-0.1, -0.2, -0.3, -0.4, -0.5])
    b = tr(["The", " sky", " looks", " very", " blue", "."], [-0.1, -0.3, -1.0, -2.0, -0.6, -0.5])
    al = align(a, b)
    assert al.kind == (SAME, SAME, CHANGED, ONLY_B, SAME, SAME)
    assert al.a.tolist() == [0, 1, 2, -1, 3, 4] and al.b.tolist() == [0, 1, 2, 3, 4, 5]
    assert al.first_difference == 3 and al.n_same == 4
    d = difference(a, b, al, "logprob")
    np.testing.assert_allclose(d[[0, 1, 2, 4, 5]], [0.0, -0.1, -0.7, -0.2, 0.0])
    assert math.isnan(d[3])


def test_shared_channels_and_provenance_differences() -> None:
    a = tr(["x"], entropy=[1.0], advantage=[0.5])
    b = tr(["x"], entropy=[2.0])
    assert shared_channels(a, b) == ("logprob", "entropy")
    assert difference(a, b, align(a, b), "entropy").tolist() == [1.0]
    said = provenance_differences({"logprobs": "raw"}, {"logprobs": "processed"})
    assert said == ["logprobs: raw (A) vs processed (B)"]
    assert provenance_differences({"engine": "vllm"}, {"engine": "vllm"}) == []


toks = st.lists(st.sampled_from(["a", "b", "c", " d"]), max_size=12)


@settings(max_examples=300, deadline=None)
@given(toks, toks)
def test_every_token_appears_once_in_order_and_same_columns_agree(
    ta: list[str], tb: list[str]
) -> None:
    a, b = tr(ta), tr(tb)
    al = align(a, b)
    assert [i for i in al.a.tolist() if i >= 0] == list(range(len(ta)))
    assert [j for j in al.b.tolist() if j >= 0] == list(range(len(tb)))
    for i, j, k in zip(al.a.tolist(), al.b.tolist(), al.kind, strict=True):
        if k == SAME:
            assert ta[i] == tb[j]
        elif k == CHANGED:
            assert i >= 0 and j >= 0
        elif k == ONLY_A:
            assert j == -1
        else:
            assert k == ONLY_B and i == -1
    assert (al.first_difference is None) == (ta == tb)


def test_the_comparison_is_a_trace_coloured_by_the_difference() -> None:
    from tracesite.model.align import compare_trace

    a = tr(["The", " sky", " is", " blue"], [-0.1, -0.2, -0.3, -0.4], entropy=[1, 2, 3, 4])
    b = tr(
        ["The", " sky", " looks", " blue", "."],
        [-0.1, -0.3, -1, -0.5, -0.1],
        entropy=[1, 2, 3, 4, 5],
    )
    c = compare_trace(a, b)
    assert c.tokens == ("The", " sky", " is →  looks", " blue", "∅ → .")
    assert c.text == a.text
    np.testing.assert_allclose(c.channel("diff_logprob")[:4], [0.0, -0.1, -0.7, -0.1])
    assert math.isnan(c.channel("diff_logprob")[4])
    assert c.channel("b_entropy")[4] == 5 and math.isnan(c.channel("a_entropy")[4])
    assert c.channel_names[:3] == ("logprob", "diff_logprob", "diff_entropy")
