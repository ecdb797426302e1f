"""The trace model: statistics, text rebuilt from bytes, and the fast builder readers use."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracesite.formats.builder import TraceBuilder
from tracesite.model.trace import RANK_NONE, RANK_OUTSIDE, Candidate, Position, Trace, TraceMeta


def trace(*positions: Position, **meta: object) -> Trace:
    return Trace.from_positions(list(positions), TraceMeta(**meta))  # type: ignore[arg-type]


def P(
    text: str, lp: float | None, alts: list[tuple[str, float]] | None = None, **kw: object
) -> Position:
    return Position(Candidate(text, lp), [Candidate(t, a) for t, a in (alts or [])], **kw)  # type: ignore[arg-type]


L = math.log


def test_rank_outside_and_no_alternatives() -> None:
    t = trace(
        P("a", L(0.5), [("a", L(0.5)), ("b", L(0.3))]),
        P("c", L(0.1), [("a", L(0.6)), ("c", L(0.1))]),  # listed out of order: sorted, rank 2
        P("z", L(0.05), [("a", L(0.6)), ("b", L(0.3))]),
        P("q", L(0.9)),
    )
    assert t.position_stats.rank.tolist() == [1, 2, RANK_OUTSIDE, RANK_NONE]
    assert t.stats.n_outside_top_k == 1  # a position with no alternatives is not "outside"
    assert t.stats.top_k == 2


def test_chosen_matched_by_id_then_by_bytes_not_by_label() -> None:
    merged = Position(
        Candidate(" щ", -0.01, b" \xd1\x89", 231),
        [Candidate("\ufffd", -0.01, b"\x89", 231), Candidate("\ufffd", -9.0, b"\x91", 239)],
    )
    nbsp = Position(
        Candidate(" ", -0.5, b"\xc2\xa0"),  # same label as the alternative, different bytes
        [Candidate(" ", -0.2, b" "), Candidate("x", -2.0, b"x")],
    )
    t = trace(merged, nbsp)
    assert t.position_stats.rank.tolist() == [1, RANK_OUTSIDE]


def test_unknown_positions_are_left_out_of_averages_and_counted() -> None:
    t = trace(P("a", L(0.5)), P("b", -9999.0), P("c", None), P("d", L(0.25)))
    s = t.stats
    assert s.n_unknown == 2
    assert s.mean_prob == pytest.approx(0.375)
    assert s.perplexity == pytest.approx(math.exp(-(L(0.5) + L(0.25)) / 2))
    assert s.min_prob == pytest.approx(0.25)
    assert math.isnan(t.position_stats.surprisal[1])


def test_exact_zero_probability_is_known_and_makes_perplexity_infinite() -> None:
    s = trace(P("a", 0.0), P("b", -math.inf)).stats
    assert s.n_unknown == 0 and s.min_prob == 0.0 and s.mean_prob == 0.5
    assert s.perplexity is None  # infinite: reported as absent, never as a bogus number


def test_a_mean_logprob_past_float_range_gives_no_perplexity_not_a_crash() -> None:
    """Found by atheris: one token with logprob -881 made math.exp overflow in stats."""
    s = trace(P("a", -881.175535036847)).stats
    assert s.perplexity is None and s.mean_prob == 0.0
    assert trace(P("a", -700.0)).stats.perplexity == pytest.approx(math.exp(700.0))


def test_entropy_lower_bound_and_rest_bucket() -> None:
    t = trace(P("a", L(0.5), [("a", L(0.5)), ("b", L(0.25))]), P("z", L(0.1), [("a", L(0.6))]))
    ps = t.position_stats
    # position 0: 0.5, 0.25 listed, rest 0.25
    assert ps.rest[0] == pytest.approx(0.25)
    assert ps.entropy[0] == pytest.approx(1.5)
    # position 1: the chosen token (0.1) joins the listed 0.6; rest 0.3
    expected = -(0.6 * math.log2(0.6) + 0.1 * math.log2(0.1) + 0.3 * math.log2(0.3))
    assert ps.rest[1] == pytest.approx(0.3) and ps.entropy[1] == pytest.approx(expected)
    assert ps.margin[0] == pytest.approx(0.25) and ps.margin[1] == pytest.approx(0.5)


def test_sentinel_alternatives_do_not_count_as_probability_mass() -> None:
    t = trace(P("a", 0.0, [("a", 0.0), ('"', -9999.0), ("!", -9999.0)]))
    assert t.position_stats.rest[0] == 0.0 and t.position_stats.entropy[0] == 0.0
    assert [a.text for a in t.alternatives(0)] == ["a", '"', "!"]  # ties keep provider order
    assert np.isnan(t.alt_logprobs[1:]).all()


def test_stable_sort_keeps_ties_in_provider_order() -> None:
    t = trace(P("x", -1.78, [("b", -1.7822266), ("a", -1.7822266), ("c", -0.5), ("d", -1.7822266)]))
    assert [a.text for a in t.alternatives(0)] == ["c", "b", "a", "d"]


def test_text_rebuilt_across_partial_utf8_and_around_specials() -> None:
    t = trace(
        Position(Candidate("\\xf0\\x9f", -0.1, b"\xf0\x9f")),
        Position(Candidate("\\x98\\x80", -0.1, b"\x98\x80")),
        Position(Candidate("<|end|>", -0.1, None), special=True),
    )
    assert t.text == "😀" and t.pieces == ("", "😀", "<|end|>")
    # bytes still pending when a special token comes belong to the text before it
    t2 = trace(
        Position(Candidate("\\xf0", -0.1, b"\xf0")), Position(Candidate("</s>", -0.1), special=True)
    )
    assert t2.text == "\ufffd" and t2.pieces == ("\ufffd", "</s>")


def test_empty_trace_has_empty_statistics() -> None:
    s = trace().stats
    assert (s.n_tokens, s.top_k, s.mean_prob, s.perplexity, s.n_unknown, s.text) == (
        0,
        0,
        None,
        None,
        0,
        "",
    )


def test_equality_ignores_provenance_and_slice() -> None:
    a = trace(P("a", -0.1, [("a", -0.1)]), P("b", -0.2), model="m")
    b = a.replace_meta(source="other.json", index=3, format="native")
    assert a == b
    assert a != a.replace_meta(model="n")
    s = a.slice(1, 2)
    assert s.tokens == ("b",) and s.alt_offsets.tolist() == [0, 0]


# ----------------------------------------------------------------------------- builder == from_positions

cands = st.builds(
    Candidate,
    st.text(max_size=4),
    st.none()
    | st.just(math.nan)
    | st.just(-9999.0)
    | st.just(-math.inf)
    | st.floats(-30, 0)
    | st.just(5e-7),
    st.none() | st.binary(max_size=4),
    st.just(-1) | st.integers(0, 1000),
)
positions = st.builds(Position, cands, st.lists(cands, max_size=5), st.booleans())


@settings(max_examples=200, deadline=None)
@given(st.lists(positions, max_size=15))
def test_builder_builds_the_same_trace_as_from_positions(ps: list[Position]) -> None:
    b = TraceBuilder()
    for p in ps:
        b.add_position(p)
    built = b.build(TraceMeta())
    expected = Trace.from_positions(ps, TraceMeta())
    assert built == expected
    assert built.alt_ids.dtype == expected.alt_ids.dtype == np.int64
