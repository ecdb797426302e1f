"""The text view beside the heatmap, and the list of marked positions: plain, escaped HTML."""

from __future__ import annotations

import math
from html.parser import HTMLParser

from test_heatmap import HOSTILE, synthetic_trace
from tracesite.core.options import HeatmapOptions, Highlight
from tracesite.model.trace import Candidate, Position, Trace, TraceMeta
from tracesite.render.textview import MAX_LOW_MARKS, render_marks, render_text_view


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


def test_lone_surrogates_do_not_break_the_page() -> None:
    trace = trace_of(
        Position(Candidate("a\ud83db", -0.1)), Position(Candidate("\udc00", 0.0), special=True)
    )
    html = render_text_view(trace, HeatmapOptions())
    html.encode("utf-8")  # would raise on a lone surrogate
    text = parse(html).text
    assert text[0].startswith("a\ufffd") and text[0].endswith("b") and text[1] == "\ufffd"


def test_position_offset_numbers_a_slice_like_the_whole_trace() -> None:
    view = parse(render_text_view(synthetic_trace(5), HeatmapOptions(position_offset=40)))
    assert [s["id"] for s in view.spans] == [f"tok-{i}" for i in range(41, 46)]


# ------------------------------------------------------------------------------------ marks
def test_marks_link_highlights_and_low_confidence_positions() -> None:
    trace = synthetic_trace(80, seed=4)
    opts = HeatmapOptions(highlights=(Highlight(3, 9, "a span"), Highlight(12, 12, HOSTILE)))
    html = render_marks(trace, opts)
    view = parse(html)
    assert ("#pos-3", "3–9") in view.links and ("#pos-12", "12") in view.links
    assert HOSTILE in html.replace("&lt;", "<").replace("&gt;", ">")  # shown, as text
    assert "<img" not in html
    low = [i + 1 for i, p in enumerate(trace.position_stats.p) if p < 0.5]
    assert low, "the synthetic trace has low-confidence positions"
    low_links = [h for h, _ in view.links if h not in ("#pos-3", "#pos-12")]
    assert low_links == [f"#pos-{i}" for i in low]


def test_marks_list_at_most_the_lowest_positions_of_a_long_trace() -> None:
    trace = synthetic_trace(5000, seed=8)
    p = trace.position_stats.p
    n_low = int((p < 0.9).sum())
    assert n_low > MAX_LOW_MARKS
    html = render_marks(trace, HeatmapOptions(low_confidence=0.9))
    listed = [int(h.removeprefix("#pos-")) for h, _ in parse(html).links]
    assert len(listed) == MAX_LOW_MARKS and listed == sorted(listed)
    threshold = sorted(p[p < 0.9])[MAX_LOW_MARKS - 1]
    assert all(p[i - 1] <= threshold for i in listed)
    assert f"showing the {MAX_LOW_MARKS} lowest of {n_low}" in html
