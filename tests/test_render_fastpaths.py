"""The renderers' whole-trace passes give what a token-by-token reading gives.

``Trace.token_table`` (shared by ``chosen_alt_index`` and the heatmap's string table) interns
tokens by bytes in C-level passes; ``Trace.pieces`` decodes valid UTF-8 in one go; the text
view escapes a clean text in one pass and finds its block ends with numpy. Each is compared
here with the plain per-token definition.
"""

from __future__ import annotations

import codecs
import math
from html import escape
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tracesite.model.trace import Candidate, Position, Trace, TraceMeta
from tracesite.render.textview import CHUNK, _block_ends, _clean, _escaped, _pieces, shown_pieces

LABELS = ["a", " b", "<|end|>", "\n", "é", "\ud800", "\x00", "&<>", "\u202e", "x\n"]
RAW: list[bytes | None] = [None, b"a", b" b", b"\xf0\x9f", b"<|end|>", b"\n", b""]


@st.composite
def traces(draw: Any) -> Trace:
    def cand() -> Candidate:
        return Candidate(
            draw(st.sampled_from(LABELS)),
            draw(st.sampled_from([None, -0.1, -2.0, -9999.0, -math.inf])),
            draw(st.sampled_from(RAW)),
            draw(st.sampled_from([-1, 3])),
        )

    positions = []
    for _ in range(draw(st.integers(0, 40))):
        chosen = cand()
        alts = draw(st.lists(st.builds(cand), max_size=4))
        if alts and draw(st.booleans()):
            alts.insert(draw(st.integers(0, len(alts))), chosen)
        positions.append(Position(chosen, alts, draw(st.booleans())))
    return Trace.from_positions(positions, TraceMeta())


def naive_table(t: Trace) -> tuple[list[tuple[str, bytes | None]], list[int], list[int]]:
    index: dict[tuple[str, bytes | None], int] = {}
    chosen = [index.setdefault(k, len(index)) for k in zip(t.tokens, t.token_bytes, strict=True)]
    alts = [index.setdefault(k, len(index)) for k in zip(t.alt_tokens, t.alt_bytes, strict=True)]
    return list(index), chosen, alts


def naive_chosen_alt_index(t: Trace) -> list[int]:
    def same(i: int, j: int) -> bool:
        if t.token_ids[i] >= 0 and t.alt_ids[j] >= 0:
            return bool(t.token_ids[i] == t.alt_ids[j])
        mine = t.token_bytes[i]
        if mine is None:
            mine = t.tokens[i].encode("utf-8", "surrogatepass")
        theirs = t.alt_bytes[j]
        if theirs is None:
            theirs = t.alt_tokens[j].encode("utf-8", "surrogatepass")
        return mine == theirs

    out = []
    for i in range(t.n_tokens):
        lo, hi = int(t.alt_offsets[i]), int(t.alt_offsets[i + 1])
        out.append(next((j for j in range(lo, hi) if same(i, j)), -1))
    return out


@settings(max_examples=300, deadline=None)
@given(traces())
def test_token_table_and_chosen_alternative_match_the_per_token_definition(t: Trace) -> None:
    entries, chosen, alts = naive_table(t)
    table = t.token_table
    assert table.entries == entries
    assert table.chosen.tolist() == chosen and table.alts.tolist() == alts
    assert t.chosen_alt_index.tolist() == naive_chosen_alt_index(t)


def decoded_token_by_token(t: Trace) -> tuple[str, ...]:
    dec = codecs.getincrementaldecoder("utf-8")(errors="replace")
    raw = [t.tokens[i].encode() if b is None else b for i, b in enumerate(t.token_bytes)]
    out = [dec.decode(b) for b in raw]
    return (*out[:-1], out[-1] + dec.decode(b"", final=True)) if out else ()


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab \n\té€😀中\u00a0\ufffd"), st.lists(st.integers(0, 200)), st.booleans())
def test_pieces_of_a_text_cut_anywhere_match_incremental_decoding(
    text: str, cuts: list[int], broken: bool
) -> None:
    data = text.encode()
    at = sorted({c % (len(data) + 1) for c in cuts})
    raw = [data[a:b] for a, b in zip([0, *at], [*at, len(data)], strict=True)]
    if broken and raw:
        raw[len(raw) // 2] += b"\xff"  # not UTF-8: decoded token by token instead
    t = Trace.from_positions([Position(Candidate("?", -0.1, b)) for b in raw], TraceMeta())
    assert t.pieces == decoded_token_by_token(t)
    assert t.text == b"".join(raw).decode("utf-8", "replace")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.sampled_from([*LABELS, "&", "q", "\udc00", "\x7f"])).map("".join)))
def test_text_view_escapes_like_one_piece_at_a_time(pieces: list[str]) -> None:
    shown = [_clean(p) for p in pieces]  # what shown_pieces() hands to _escaped()
    assert _escaped(shown) == [escape(p, quote=False) for p in shown]


@settings(max_examples=300, deadline=None)
@given(traces())
def test_shown_pieces_are_each_piece_cleaned(t: Trace) -> None:
    # shown_pieces() skips the per-piece pass when nothing needs a code; it must still give
    # every control, bidi override and lone surrogate as its code
    assert shown_pieces(t) == [_clean(p) for p in _pieces(t)]


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 12 * CHUNK), st.lists(st.integers(0, 12 * CHUNK), max_size=40))
def test_text_view_blocks_end_where_the_token_loop_ended_them(n: int, newlines: list[int]) -> None:
    pieces = tuple("x\n" if i in newlines else "x" for i in range(n))
    cuts, in_block = [], 0
    for i, piece in enumerate(pieces):
        in_block += 1
        ready = i < len(pieces) - 1 and in_block >= CHUNK
        if ready and (piece.endswith("\n") or in_block >= 8 * CHUNK):
            cuts.append(i)
            in_block = 0
    assert _block_ends(pieces) == cuts
