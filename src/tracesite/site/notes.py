"""Markdown notes: YAML front matter (read and checked in :mod:`tracesite.site.frontmatter`),
Markdown to HTML with its work bounded (:mod:`tracesite.site.mdlimits`), and the
```` ```trace ```` embed block. Every problem is a :class:`NoteError` with the note and a line."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import markdown
from markdown.preprocessors import Preprocessor

from tracesite.core.errors import NoteError
from tracesite.core.options import Highlight
from tracesite.site.frontmatter import PROVENANCE_KEYS, load_yaml, read_front_matter
from tracesite.site.mdlimits import TooSlow, convert_bounded, deepest_line, scan_cost

__all__ = [
    "PROVENANCE_KEYS",
    "FigureBlock",
    "Note",
    "TraceEmbed",
    "fill_figures",
    "read_note",
    "split_embeds",
]
EMBED_MARKER = "<!--tracesite-embed:{}-->"
_EMBED_RE = re.compile(r"<!--tracesite-embed:(\d+)-->")
FIGURE_MARKER = "<!--tracesite-figure:{}-->"
_FIGURE_RE = re.compile(r"<!--tracesite-figure:(\d+)-->")


@dataclass(frozen=True)
class FigureBlock:
    """A ```` ```figure ```` block (SPEC §16): a paper figure over some of the gallery's traces.

    Which traces: ``src`` (paths or globs under content/), else ``section``, else the whole
    gallery. A block whose YAML is wrong keeps its ``error``: the build shows it in its place and
    reports it, and the rest of the note renders."""

    number: int  # 1-based, among the note's figure blocks ("figure block 2")
    line: int  # line of the block in the note
    figure: str = ""  # a name of model.figures.FIGURES
    src: tuple[str, ...] = ()  # paths or globs under content/
    section: str | None = None  # a folder under content/ ("" for the top level)
    channel: str | None = None  # the values drawn (entropy-histogram, by-position figures)
    label: str | None = None  # confidence-by-label: the scalar or metadata field to split by
    title: str | None = None
    caption: str = ""
    error: str | None = None  # what is wrong with the block itself


@dataclass(frozen=True)
class TraceEmbed:
    """A ```` ```trace ```` block: a trace (or a slice of one) shown inside a note."""

    src: str  # path under content/
    start: int | None  # 1-based inclusive, None for the whole trace
    end: int | None
    index: int  # which trace of the file (0-based)
    line: int  # line of the block in the note
    compare: str | None = None  # a ```compare``` block: B's path under content/ (src is A)
    compare_index: int = 0  # which trace of B
    figure: FigureBlock | None = None  # a ```figure``` block's embed (build/figblocks.py)


@dataclass(frozen=True)
class Note:
    """A parsed Markdown file: the note of a trace or a standalone page."""

    path: Path
    title: str | None = None
    description: str = ""
    tags: tuple[str, ...] = ()
    date: str | None = None
    highlights: tuple[Highlight, ...] = ()
    draft: bool = False
    overrides: dict[str, str] = field(default_factory=dict)  # model, prompt, finish_reason, created
    provenance: dict[str, Any] = field(default_factory=dict)  # front matter's (SPEC §15)
    html: str = ""  # rendered Markdown; embeds appear as EMBED_MARKER comments
    toc_html: str = ""
    embeds: tuple[TraceEmbed, ...] = ()
    figures: tuple[FigureBlock, ...] = ()  # ```figure``` blocks, filled at FIGURE_MARKER
    warnings: tuple[NoteError, ...] = ()


class _TraceBlocks(Preprocessor):
    """Replace ```` ```trace ```` fences with markers before fenced_code sees them."""

    def __init__(
        self, md: markdown.Markdown, sink: list[TraceEmbed], errors: list[tuple[int, str]]
    ):
        super().__init__(md)
        self.sink = sink
        self.errors = errors
        self.figures: list[FigureBlock] = []
        self.line_offset = 0

    def run(self, lines: list[str]) -> list[str]:
        out: list[str] = []
        i = 0
        while i < len(lines):
            line = lines[i]
            kind = re.match(r"^\s*(```|~~~)\s*(trace|compare|figure)\s*$", line)
            if kind:
                fence = line.strip()[:3]
                start_line = i + 1 + self.line_offset
                body: list[str] = []
                i += 1
                while i < len(lines) and lines[i].strip() != fence:
                    body.append(lines[i])
                    i += 1
                i += 1  # closing fence
                if kind.group(2) == "figure":
                    self.figures.append(parse_figure(body, start_line, len(self.figures) + 1))
                    out.extend(["", FIGURE_MARKER.format(len(self.figures) - 1), ""])
                    continue
                parse = self._parse_compare if kind.group(2) == "compare" else self._parse
                embed = parse(body, start_line)
                if embed is not None:
                    self.sink.append(embed)
                    out.extend(["", EMBED_MARKER.format(len(self.sink) - 1), ""])
                continue
            out.append(line)
            i += 1
        return out

    def _parse_compare(self, body: list[str], line: int) -> TraceEmbed | None:
        """```` ```compare ```` with ``a:`` and ``b:`` (paths under content/), and optionally
        ``a_index:``/``b_index:`` (which trace of each file, 0-based)."""
        try:
            spec = load_yaml("\n".join(body), first_line=line + 1, what="compare block") or {}
        except NoteError as exc:
            self.errors.append((line, exc.message))
            return None
        if not (
            isinstance(spec, dict)
            and isinstance(spec.get("a"), str)
            and isinstance(spec.get("b"), str)
        ):
            self.errors.append((line, "compare block: expected `a: one.json` and `b: other.json`"))
            return None
        idx = [spec.get("a_index", 0), spec.get("b_index", 0)]
        if not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in idx):
            self.errors.append(
                (line, "compare block: a_index and b_index must be whole numbers >= 0")
            )
            return None
        return TraceEmbed(
            src=spec["a"],
            start=None,
            end=None,
            index=idx[0],
            line=line,
            compare=spec["b"],
            compare_index=idx[1],
        )

    def _parse(self, body: list[str], line: int) -> TraceEmbed | None:
        try:
            spec = load_yaml("\n".join(body), first_line=line + 1, what="trace block") or {}
        except NoteError as exc:
            self.errors.append((line, exc.message))
            return None
        if not isinstance(spec, dict) or not isinstance(spec.get("src"), str):
            self.errors.append((line, "trace block: expected `src: path/under/content.json`"))
            return None
        start = end = None
        positions = spec.get("positions")
        if positions is not None:
            m = re.fullmatch(r"\s*(\d+)\s*[-–]\s*(\d+)\s*", str(positions))
            if not m or int(m.group(1)) < 1 or int(m.group(2)) < int(m.group(1)):
                self.errors.append(
                    (line, f"trace block: positions must look like 40-80, got {positions!r}")
                )
                return None
            start, end = int(m.group(1)), int(m.group(2))
        index = spec.get("index", 0)
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            self.errors.append((line, "trace block: index must be a whole number >= 0"))
            return None
        return TraceEmbed(src=spec["src"], start=start, end=end, index=index, line=line)


_FIGURE_KEYS = ("figure", "src", "section", "gallery", "channel", "label", "title", "caption")


def parse_figure(body: list[str], line: int, number: int) -> FigureBlock:
    """A ```` ```figure ```` block's YAML; its problem, if any, kept on the block (only that
    block fails)."""
    where = f"figure block {number}"
    try:
        spec = load_yaml("\n".join(body), first_line=line + 1, what=where) or {}
    except NoteError as exc:
        return FigureBlock(number, line, error=exc.message)
    if not isinstance(spec, dict) or not isinstance(spec.get("figure"), str):
        return FigureBlock(number, line, error=f"{where}: expected `figure: entropy-histogram`")
    unknown = [str(k) for k in spec if k not in _FIGURE_KEYS]
    if unknown:
        known = ", ".join(_FIGURE_KEYS)
        return FigureBlock(
            number, line, error=f"{where}: unknown key {unknown[0]!r}; known: {known}"
        )
    try:
        return FigureBlock(
            number,
            line,
            figure=spec["figure"],
            src=_figure_srcs(spec.get("src"), where),
            section=_figure_section(spec, where),
            channel=_optional_text(spec, "channel", where),
            label=_optional_text(spec, "label", where),
            title=_optional_text(spec, "title", where),
            caption=_optional_text(spec, "caption", where) or "",
        )
    except ValueError as exc:
        return FigureBlock(number, line, figure=spec["figure"], error=str(exc))


def _figure_srcs(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, str) and v.strip() for v in values):
        raise ValueError(f"{where}: src must be a path or glob under content/, or a list of them")
    return tuple(v.strip() for v in values)


def _figure_section(spec: dict[str, Any], where: str) -> str | None:
    """The section asked for: ``section: name``; None for ``src`` or the whole gallery."""
    chosen = [k for k in ("src", "section", "gallery") if spec.get(k) not in (None, False)]
    if len(chosen) > 1:
        raise ValueError(
            f"{where}: give one of src, section and gallery, not {' and '.join(chosen)}"
        )
    gallery = spec.get("gallery")
    if gallery not in (None, True, False):
        raise ValueError(f"{where}: gallery must be true or false")
    section = spec.get("section")
    if section is None:
        return None
    if not isinstance(section, str):
        raise ValueError(f"{where}: section must be a folder name under content/")
    return section.strip().strip("/")


def _optional_text(spec: dict[str, Any], key: str, where: str) -> str | None:
    value = spec.get(key)
    if value is None:
        return None
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise ValueError(f"{where}: {key} must be text")
    return str(value)


def fill_figures(html: str, figures: list[str]) -> str:
    """Note HTML with its figure placeholders replaced by ``figures`` (one per block)."""
    if not figures:
        return html
    return _FIGURE_RE.sub(
        lambda m: figures[int(m.group(1))] if int(m.group(1)) < len(figures) else "", html
    )


def _markdown() -> markdown.Markdown:
    """A Markdown renderer for one note. ``\\<`` escapes a tag (``\\<img ...>`` is text, as in
    CommonMark); Python-Markdown's own list of escapable characters leaves ``<`` out."""
    md = markdown.Markdown(
        extensions=[
            "tables",
            "fenced_code",
            "codehilite",
            "footnotes",
            "toc",
            "sane_lists",
            "smarty",
        ],
        extension_configs={
            "codehilite": {"guess_lang": False, "css_class": "highlight"},
            "toc": {"permalink": False, "toc_depth": "2-4"},
        },
    )
    md.ESCAPED_CHARS = [*md.ESCAPED_CHARS, "<"]
    return md


def _read_text(path: Path) -> str:
    """A note's text (a BOM is allowed); bad bytes are reported with their line, as for traces."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise NoteError(f"cannot read note: {exc.strerror or exc}", path=str(path)) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise NoteError(
            f"cannot read note: not UTF-8 text: byte 0x{data[exc.start]:02x} at offset {exc.start}",
            path=str(path),
            address=str(line),
        ) from None


def read_note(path: Path, text: str | None = None) -> Note:
    """Parse one note. Raises NoteError (with the file and line) on bad front matter or blocks,
    and on Markdown that would take too long or nest too deeply to render."""
    if text is None:
        text = _read_text(path)
    front = read_front_matter(text, str(path))
    clean = front.values
    md = _markdown()
    embeds: list[TraceEmbed] = []
    block_errors: list[tuple[int, str]] = []
    pre = _TraceBlocks(md, embeds, block_errors)
    pre.line_offset = front.body_line - 1
    md.preprocessors.register(pre, "tracesite_trace_blocks", 40)  # before fenced_code (25)
    html = _render(md, front.body, front.body_line, str(path))
    if block_errors:
        line, msg = block_errors[0]
        raise NoteError(msg, path=str(path), address=str(line))
    title = clean.get("title")
    if title is None:  # fall back to the first level-1 heading
        title = _first_heading(front.body)
    toc = getattr(md, "toc", "")
    return Note(
        path=path,
        title=title,
        description=clean.get("description", ""),
        tags=clean.get("tags", ()),
        date=clean.get("date"),
        highlights=clean.get("highlight", ()),
        draft=clean.get("draft", False),
        overrides={
            k: clean[k]
            for k in ("model", "prompt", "finish_reason", "created", "group")
            if k in clean
        },
        provenance=clean.get("provenance", {}),
        html=html,
        toc_html=toc if isinstance(toc, str) and "<li>" in toc else "",
        embeds=tuple(embeds),
        figures=tuple(pre.figures),
        warnings=front.warnings,
    )


def _render(md: markdown.Markdown, body: str, body_line: int, path: str) -> str:
    """The body's HTML, its work bounded (site/mdlimits.py); problems addressed to the note."""
    too_costly = scan_cost(body, body_line)
    if too_costly is not None:
        raise NoteError(too_costly[1], path=path, address=str(too_costly[0]))
    try:
        return convert_bounded(md, body)
    except TooSlow:
        message = "Markdown: the note took too long to render; split it or simplify it"
    except RecursionError:
        line = deepest_line(body, body_line)
        message = "Markdown: lists, quotes or tags nested too deeply to render"
        raise NoteError(message, path=path, address=str(line)) from None
    except NoteError:
        raise
    except Exception as exc:  # a bug in a Markdown extension: this note fails, the build goes on
        message = f"Markdown: internal error ({type(exc).__name__}: {exc}); please report it"
    raise NoteError(message, path=path, address=str(body_line))


_HEADING = re.compile(r"#[ \t]+(\S.*)")
_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")


def _first_heading(body: str) -> str | None:
    """The text of the first level-1 ATX heading (``# Title #``), Markdown escapes undone. A
    line scan: the regex it replaces backtracked cubically on a heading with long runs of
    spaces."""
    for line in body.split("\n"):
        m = _HEADING.match(line)
        if m is None:
            continue
        title = m.group(1).rstrip()
        closed = title.rstrip("#")
        if closed != title and (not closed or closed[-1] in " \t"):
            title = closed.rstrip()
        return _ESCAPED.sub(r"\1", title) or None
    return None


def split_embeds(html: str) -> list[str | int]:
    """Split note HTML into literal chunks and embed indexes, for the build to fill in."""
    parts: list[str | int] = []
    pos = 0
    for m in _EMBED_RE.finditer(html):
        parts.append(html[pos : m.start()])
        parts.append(int(m.group(1)))
        pos = m.end()
    parts.append(html[pos:])
    return parts
