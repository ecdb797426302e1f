"""The text view beside the heatmap: plain, escaped HTML, one span per token."""

from __future__ import annotations

import math
from html.parser import HTMLParser

from test_heatmap import HOSTILE, synthetic_trace
from tracesite.core.options import HeatmapOptions
from tracesite.model.trace import Candidate, Position, Trace, TraceMeta
from tracesite.render.cells import pack_trace
from tracesite.render.textview import render_text_view


class Spans(HTMLParser):
    """Collects every element's tag and attributes and the text inside each token span."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.spans: list[dict[str, str | None]] = []
        self.text: list[str] = []
        self.links: list[tuple[str | None, str]] = []
        self._in_link: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "span":
            self.spans.append(a)
            self.text.append("")
        if tag == "a":
            self._in_link = a.get("href")
            self.links.append((a.get("href"), ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._in_link = None

    def handle_data(self, data: str) -> None:
        if self.text:
            self.text[-1] += data
        if self._in_link is not None:
            href, label = self.links[-1]
            self.links[-1] = (href, label + data)


def parse(html: str) -> Spans:
    p = Spans()
    p.feed(html)
    p.close()
    return p


def trace_of(*positions: Position) -> Trace:
    return Trace.from_positions(list(positions), TraceMeta())


def test_one_span_per_token_with_id_colour_class_and_low_p_title() -> None:
    trace = synthetic_trace(60, seed=2)
    view = parse(render_text_view(trace, HeatmapOptions()))
    assert [s["id"] for s in view.spans] == [f"tok-{i}" for i in range(1, 61)]
    for span, p in zip(view.spans, trace.position_stats.p, strict=True):
        assert span.get("title") == (f"p={p:.2f}" if p < 0.5 else None)
        classes = (span["class"] or "").split()
        assert classes[0] == f"q{round(p * 10)}"
        assert ("lc" in classes) == (p < 0.5)
    # reading the spans in order gives the generated text: selectable, copyable, screen-readable
    assert "".join(view.text) == trace.text


def test_it_is_static_html_that_needs_no_script() -> None:
    html = render_text_view(synthetic_trace(30), HeatmapOptions())
    assert {tag for tag, _ in parse(html).tags} == {"div", "span"}
    assert "<script" not in html and "style=" not in html


def test_hostile_text_is_escaped() -> None:
    trace = trace_of(Position(Candidate(HOSTILE, -0.1)), Position(Candidate(" & <b>x</b>", -0.2)))
    html = render_text_view(trace, HeatmapOptions())
    view = parse(html)
    assert {tag for tag, _ in view.tags} == {"div", "span"}
    assert "".join(view.text) == HOSTILE + " & <b>x</b>"


def test_special_unknown_and_invisible_tokens_stay_visible() -> None:
    trace = trace_of(
        Position(Candidate("Hi", -0.1)),
        Position(Candidate("\u200b", -0.2)),  # zero-width space: kept as text, not lost
        Position(
            Candidate("there", -9999.0), [Candidate(" the", -1.0), Candidate(" a", -2.5)]
        ),  # sentinel: p unknown, below the listed ones
        Position(Candidate("<|endoftext|>", 0.0), special=True),
    )
    view = parse(render_text_view(trace, HeatmapOptions()))
    assert view.text == ["Hi", "\u200b", "there", "<|endoftext|>"]
    assert view.spans[2]["class"] == "qu"
    assert view.spans[2]["title"] == f"p < {math.exp(-2.5):.2f} (not given)"
    assert view.spans[3]["class"] == "sp" and "special token" in (view.spans[3]["title"] or "")


def test_incomplete_utf8_is_attributed_to_the_token_that_completes_it() -> None:
    emoji = "🙂".encode()
    trace = trace_of(
        Position(Candidate(" \\xf0\\x9f", -0.1, b" " + emoji[:2])),
        Position(Candidate("\\x99\\x82", -0.1, emoji[2:])),
    )
    assert parse(render_text_view(trace, HeatmapOptions())).text == [" ", "🙂"]


def test_lone_surrogates_show_as_their_code_as_in_the_heatmap() -> None:
    trace = trace_of(
        Position(Candidate("a\ud83db", -0.1)), Position(Candidate("\udc00", 0.0), special=True)
    )
    html = render_text_view(trace, HeatmapOptions())
    html.encode("utf-8")  # would raise on a lone surrogate
    assert parse(html).text == ["a⟨U+D83D⟩b", "⟨U+DC00⟩"]
    # the heatmap's cells and tooltip read the same form from the embed's string table
    cols = pack_trace(trace, HeatmapOptions(), "tsh-x")
    blob, so = cols["sb"].tobytes(), cols["so"]  # type: ignore[union-attr]
    assert blob[so[0] : so[1]].decode() == "a⟨U+D83D⟩b"  # type: ignore[index]
    assert blob[so[1] : so[2]].decode() == "⟨U+DC00⟩"  # type: ignore[index]


def test_position_offset_numbers_a_slice_like_the_whole_trace() -> None:
    view = parse(render_text_view(synthetic_trace(5), HeatmapOptions(position_offset=40)))
    assert [s["id"] for s in view.spans] == [f"tok-{i}" for i in range(41, 46)]
