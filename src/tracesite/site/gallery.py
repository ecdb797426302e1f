"""Gallery-wide pieces: cards, trace URLs, tag pages, the search index, the sitemap."""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from math import inf
from pathlib import Path

from markupsafe import Markup

from tracesite.model.summary import TraceSummary
from tracesite.site.discover import TraceSource
from tracesite.site.notes import Note
from tracesite.site.pages import Card, Section, TracePage, format_number, trace_marks
from tracesite.site.sections import IntroFill, read_section, section_order
from tracesite.site.urls import root_for, trace_url


@dataclass(frozen=True)
class TraceEntry:
    """One trace of the gallery: where it came from, its card, where its page is cached.

    Small on purpose (~2 KB): a build holds one per trace until the index is written. The full
    :class:`TraceSummary` (statistics, metadata, marks) is read back from the cache entry when
    the trace's page is rendered.
    """

    source: TraceSource
    index: int  # the trace's position in its file
    cache_key: str
    note: Note | None
    card: Card


def _title(source: TraceSource, s: TraceSummary, note: Note | None) -> str:
    base = note.title if note is not None and note.title else source.path.name
    return base if s.n_in_file == 1 else f"{base} #{s.index + 1}"


def sparkline_svg(points: str) -> Markup:
    """Inline SVG from numeric points only (nothing from the trace text reaches it)."""
    if not points:
        return Markup("")
    return Markup(
        '<svg class="spark" viewBox="0 0 120 24" preserveAspectRatio="none" aria-hidden="true">'
        '<line x1="0" y1="1" x2="120" y2="1" class="spark-top"/>'
        f'<polyline points="{html.escape(points, quote=False)}"/></svg>'
    )


def _scalar_text(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    return format_number(value, 3) if isinstance(value, float) else format_number(value)


def card_scalars(scalars: Mapping[str, object]) -> tuple[tuple[tuple[str, str], ...], str]:
    """A card's scalars as (name, shown) pairs, and the numeric ones as JSON for sorting."""
    shown = tuple((str(k), _scalar_text(v)) for k, v in scalars.items() if v is not None)
    numeric = {
        str(k): v
        for k, v in scalars.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v and abs(v) != inf
    }
    return shown, js_json(numeric) if numeric else ""


def make_card(source: TraceSource, s: TraceSummary, note: Note | None) -> Card:
    slug, url = trace_url(source.slug, s.index, s.n_in_file)
    model = (note.overrides.get("model") if note else None) or s.model or ""
    date = (note.date if note else None) or (note.overrides.get("created") if note else None)
    date = date or s.created or ""
    shown, numeric = card_scalars(s.scalars)
    return Card(
        title=_title(source, s, note),
        url=url,
        slug=slug,
        section=source.section,
        source=source.rel,
        model=model,
        date=date[:10],
        tags=note.tags if note else (),
        description=note.description if note else "",
        n_tokens=int(s.stats["n_tokens"]),
        mean_prob=s.stats["mean_prob"],
        perplexity=s.stats["perplexity"],
        sparkline=sparkline_svg(s.sparkline),
        excerpt=s.excerpt,
        group=(note.overrides.get("group") if note else None) or s.group or "",
        scalars=shown,
        scalar_json=numeric,
        n_flags=len(s.flags),
    )


def _short(x: float | None) -> float | None:
    return None if x is None else float(f"{x:.5g}")


def compact_sparkline(points: str) -> str:
    """SVG polyline points as a card shard keeps them: ``~x0,dx:y y ...`` when the x are evenly
    spaced (every bucket has a p: the usual case; gallery.js expands it), else the points as
    they are. A sort's page of 60 cards comes from up to 60 card shards: the points were 70% of
    a card's bytes."""
    pairs = [pt.split(",") for pt in points.split()]
    if len(pairs) < 3 or any(len(pt) != 2 for pt in pairs):
        return points
    xs = [float(x) for x, _ in pairs]
    dx = round(xs[1] - xs[0], 1)
    if any(abs(b - a - dx) > 0.051 for a, b in pairwise(xs)):
        return points
    ys = " ".join(f"{float(y):g}" for _, y in pairs)
    return f"~{xs[0]:g},{dx:g}:{ys}"


def card_record(card: Card, summary: TraceSummary) -> dict[str, object]:
    """A card as the ``cards-K`` shards hold it (docs/scale.md), without its id and URL, which
    the write stage gives it once the gallery's order is known."""
    return {
        "t": card.title,
        "m": card.model,
        "d": card.date,
        "s": card.section,
        "g": list(card.tags),
        "n": card.n_tokens,
        "p": _short(card.mean_prob),  # the columns (col-p, col-q) keep full precision
        "q": _short(card.perplexity),
        "sc": json.loads(card.scalar_json) if card.scalar_json else {},
        "sp": compact_sparkline(summary.sparkline),
        "f": card.n_flags,
        "gr": card.group,
    }


def sections(entries: Sequence[TraceEntry], fill: IntroFill | None = None) -> tuple[Section, ...]:
    """Cards grouped by the first folder under content/: the top level first, then sections by
    the ``weight`` of their ``_section.md``/``index.md``, then by name (site/sections.py), each
    titled and introduced by that file. ``fill``: how its body becomes the index's HTML."""
    groups: dict[str, list[Card]] = {}
    files: dict[str, Path | None] = {}
    for e in entries:
        groups.setdefault(e.card.section, []).append(e.card)
        files.setdefault(e.card.section, e.source.section_file)
    infos = {name: read_section(name, files[name], fill) for name in groups}
    order = sorted(groups, key=lambda name: section_order(name, infos[name]))
    return tuple(
        Section(
            name=name,
            title=infos[name].title,
            cards=tuple(groups[name]),
            description=infos[name].description,
            intro_html=infos[name].intro_html,
            weight=infos[name].weight,
        )
        for name in order
    )


def tag_counts(entries: Iterable[TraceEntry]) -> dict[str, list[Card]]:
    tags: dict[str, list[Card]] = {}
    for e in entries:
        for tag in e.card.tags:
            tags.setdefault(tag, []).append(e.card)
    return dict(sorted(tags.items(), key=lambda kv: kv[0].lower()))


def stat_rows(s: TraceSummary, low_confidence: float) -> tuple[tuple[str, str], ...]:
    st = s.stats
    rows = [
        ("Tokens", format_number(int(st["n_tokens"]))),
        ("Alternatives listed (top-k)", str(st["top_k"])),
        ("Mean p", format_number(st["mean_prob"], 3)),
        ("Perplexity", format_number(st["perplexity"], 3)),
        ("Lowest p", format_number(st["min_prob"], 3)),
        (f"Positions with p < {low_confidence:g}", format_number(s.n_low_confidence)),
        ("Chosen token outside top-k", format_number(int(st["n_outside_top_k"]))),
    ]
    if st["top_k"]:  # with no alternatives the bound says nothing about the distribution
        rows.insert(5, ("Mean entropy (top-k lower bound, bits)", format_number(s.mean_entropy, 3)))
    if st["n_unknown"]:
        rows.append(("Unknown p (left out of averages)", format_number(int(st["n_unknown"]))))
    for name, value in s.scalars.items():
        rows.append((str(name), _scalar_text(value)))
    return tuple(rows)


def channel_rows(s: TraceSummary) -> tuple[tuple[str, str, str, str], ...]:
    """Per channel (SPEC §15): its title, mean, min and max."""
    from tracesite.model.channels import channel_info

    def num(v: float | None) -> str:
        return format_number(v, 4)

    return tuple(
        (channel_info(name).title, num(st["mean"]), num(st["min"]), num(st["max"]))
        for name, st in s.channels.items()
    )


_PROVENANCE_LABELS = {
    "engine": "Engine",
    "engine_version": "Engine version",
    "logprobs": "Logprobs",
    "sampling": "Sampling",
    "n_alternatives": "Alternatives listed",
    "entropy": "Entropy",
    "tokenizer": "Tokenizer",
}


def provenance_rows(s: TraceSummary, note: Note | None = None) -> tuple[tuple[str, str], ...]:
    """What the trace's numbers mean, where its source or configuration says (SPEC §15); the
    note's front matter fills in what the source does not say."""
    rows = []
    given = {**(note.provenance if note is not None else {}), **s.provenance}
    for key, value in given.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} = {v}" for k, v in value.items())
        elif key == "logprobs" and value == "processed":
            value = "processed (after temperature/top-p; not the model's raw distribution)"
        rows.append((_PROVENANCE_LABELS.get(key, str(key)), str(value)))
    return tuple(rows)


def flag_rows(s: TraceSummary) -> tuple[tuple[str, str], ...]:
    """The data checks that fired, each with a link to its first position."""
    return tuple(
        (str(f["message"]), f"#pos-{f['positions'][0]}" if f.get("positions") else "")
        for f in s.flags
    )


def metadata_rows(e: TraceEntry, s: TraceSummary) -> tuple[tuple[str, str], ...]:
    ov = e.note.overrides if e.note else {}
    rows = [
        ("Model", ov.get("model") or s.model or ""),
        ("Created", ov.get("created") or s.created or ""),
        ("Format", s.format),
        ("Finish reason", ov.get("finish_reason") or s.finish_reason or ""),
        (
            "Source",
            e.source.rel + (f" (trace {s.index + 1} of {s.n_in_file})" if s.n_in_file > 1 else ""),
        ),
        ("Prompt", ov.get("prompt") or s.prompt or ""),
    ]
    usage = s.extra.get("usage")
    if isinstance(usage, dict):
        rows.append(
            ("Usage", ", ".join(f"{k}: {v}" for k, v in usage.items() if not isinstance(v, dict)))
        )
    return tuple((k, str(v)) for k, v in rows if v)


def search_index_js(entries: Sequence[TraceEntry]) -> str:
    """The gallery's search index as a ``.js`` file, so it loads from ``file://`` too.

    JSON inside a script: ``<``, ``>`` and ``&`` are written as ``\\u003c``... so a token such as
    ``</script>`` can never close the element (SPEC §13).
    """
    items = (
        {
            "u": e.card.url,
            "t": e.card.title,
            "m": e.card.model,
            "d": e.card.date,
            "g": list(e.card.tags),
            "s": e.card.section,
            "n": e.card.n_tokens,
            "p": e.card.mean_prob,
            "q": e.card.perplexity,
            "x": (e.card.description + " " + e.card.excerpt).strip(),
        }
        for e in entries
    )  # one item at a time: a list of 2,000 dicts was a 7 MB peak for a 1 MB file
    return "window.TRACESITE_INDEX = [" + ",".join(js_json(i) for i in items) + "];\n"


def js_json(value: object) -> str:
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def sitemap_xml(base_url: str, urls: Iterable[str]) -> str:
    base = base_url if base_url.endswith("/") else base_url + "/"
    lines = ['<?xml version="1.0" encoding="UTF-8"?>']
    lines.append('<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">')
    for url in urls:
        loc = url[: -len("index.html")] if url.endswith("index.html") else url
        lines.append(f"  <url><loc>{html.escape(base + loc, quote=False)}</loc></url>")
    lines.append("</urlset>")
    return "\n".join(lines) + "\n"


def make_trace_page(
    entry: TraceEntry,
    summary: TraceSummary,
    fragment: Mapping[str, str],
    *,
    note_html: Markup,
    low_confidence: float,
    url: str | None = None,
    previous: Card | None = None,
    next: Card | None = None,
) -> TracePage:
    """The ``page`` of one trace, from its entry, its summary and its rendered ``fragment``
    (``script``, ``div``, ``text_view``): the same for a site page and for a single file."""
    url = entry.card.url if url is None else url
    note = entry.note
    return TracePage(
        title=entry.card.title,
        root=root_for(url),
        url=url,
        kind="trace",
        description=entry.card.description,
        card=entry.card,
        heatmap_script=Markup(fragment["script"]),
        heatmap_div=Markup(fragment["div"]),
        text_view=Markup(fragment["text_view"]),
        prompt_view=Markup(fragment.get("prompt_view", "")),
        stats=stat_rows(summary, low_confidence),
        metadata=metadata_rows(entry, summary),
        note_html=note_html,
        toc_html=Markup(note.toc_html) if note else Markup(""),
        previous=previous,
        next=next,
        marks=trace_marks(note.highlights if note else (), summary, low_confidence),
        index_in_file=entry.index,
        channels=channel_rows(summary),
        provenance=provenance_rows(summary, note),
        flags=flag_rows(summary),
    )
