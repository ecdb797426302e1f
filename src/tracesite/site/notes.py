"""Markdown notes: YAML front matter, Markdown to HTML, and the ```` ```trace ```` embed block."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import markdown
import yaml
from markdown.preprocessors import Preprocessor

from tracesite.core.errors import NoteError
from tracesite.core.options import Highlight

_FRONT = re.compile(
    r"\A(?:\ufeff)?---[ \t]*\r?\n(.*?)(?:\r?\n)?^(?:---|\.\.\.)[ \t]*$\r?\n?", re.S | re.M
)
_KNOWN_KEYS = {
    "title": "a string",
    "description": "a string",
    "tags": "a list of strings",
    "date": "a date",
    "highlight": "a list of {from, to, label}",
    "draft": "true or false",
    # metadata overrides for a trace (SPEC §6)
    "model": "a string",
    "prompt": "a string",
    "finish_reason": "a string",
    "created": "a date",
    # rollouts (SPEC §15, §16): the trace's group, and what its numbers mean where the source
    # does not say (the source's own provenance wins)
    "group": "a string",
    "provenance": "a mapping of engine, engine_version, logprobs, sampling, entropy, tokenizer",
}
PROVENANCE_KEYS = ("engine", "engine_version", "logprobs", "sampling", "entropy", "tokenizer")
EMBED_MARKER = "<!--tracesite-embed:{}-->"
_EMBED_RE = re.compile(r"<!--tracesite-embed:(\d+)-->")


@dataclass(frozen=True)
class TraceEmbed:
    """A ```` ```trace ```` block: a trace (or a slice of one) shown inside a note."""

    src: str  # path under content/
    start: int | None  # 1-based inclusive, None for the whole trace
    end: int | None
    index: int  # which trace of the file (0-based)
    line: int  # line of the block in the note


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
    warnings: tuple[NoteError, ...] = ()


def _date(value: Any) -> str | None:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return (
                dt.datetime.fromisoformat(value).isoformat()
                if "T" in value
                else dt.date.fromisoformat(value).isoformat()
            )
        except ValueError:
            return None
    return None


class _TraceBlocks(Preprocessor):
    """Replace ```` ```trace ```` fences with markers before fenced_code sees them."""

    def __init__(
        self, md: markdown.Markdown, sink: list[TraceEmbed], errors: list[tuple[int, str]]
    ):
        super().__init__(md)
        self.sink = sink
        self.errors = errors
        self.line_offset = 0

    def run(self, lines: list[str]) -> list[str]:
        out: list[str] = []
        i = 0
        while i < len(lines):
            line = lines[i]
            if re.match(r"^\s*(```|~~~)\s*trace\s*$", line):
                fence = line.strip()[:3]
                start_line = i + 1 + self.line_offset
                body: list[str] = []
                i += 1
                while i < len(lines) and lines[i].strip() != fence:
                    body.append(lines[i])
                    i += 1
                i += 1  # closing fence
                embed = self._parse(body, start_line)
                if embed is not None:
                    self.sink.append(embed)
                    out.extend(["", EMBED_MARKER.format(len(self.sink) - 1), ""])
                continue
            out.append(line)
            i += 1
        return out

    def _parse(self, body: list[str], line: int) -> TraceEmbed | None:
        try:
            spec = yaml.safe_load("\n".join(body)) or {}
        except yaml.YAMLError as exc:
            self.errors.append((line, f"trace block: {getattr(exc, 'problem', None) or exc}"))
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


def _markdown() -> markdown.Markdown:
    return markdown.Markdown(
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


def _front_matter(text: str, path: Path) -> tuple[dict[str, Any], str, int, str]:
    """Split front matter from the body.

    Returns (data, body, line number where the body starts, the raw front matter text).
    """
    m = _FRONT.match(text)
    if not m:
        if text.lstrip("\ufeff").startswith("---\n"):
            raise NoteError("front matter: no closing --- line", path=str(path), address="1")
        return {}, text, 1, ""
    raw = m.group(1)
    try:
        data = yaml.safe_load(raw) if raw.strip() else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = (mark.line + 2) if mark is not None else 1  # +1 for the opening ---, +1 one-based
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise NoteError(f"front matter: {problem}", path=str(path), address=str(line)) from None
    if not isinstance(data, dict):
        raise NoteError("front matter: expected key: value pairs", path=str(path), address="2")
    return data, text[m.end() :], text[: m.end()].count("\n") + 1, raw


def _key_line(raw: str, key: str) -> str:
    """The line of a top-level front-matter key (line 1 is the opening ``---``), for addresses."""
    pattern = re.compile(rf"""^(['"]?){re.escape(key)}\1[ \t]*:""")
    for number, line in enumerate(raw.splitlines(), start=2):
        if pattern.match(line):
            return str(number)
    return "1"


def _shown(value: Any) -> str:
    """A front-matter value as page text. NUL (``"\\0"`` in YAML) becomes U+FFFD, as an HTML
    parser would make it in an attribute; in element text it would vanish without a trace."""
    return str(value).replace("\x00", "\ufffd")


def _validate(
    data: dict[str, Any], path: Path, raw: str = ""
) -> tuple[dict[str, Any], list[NoteError]]:
    """Check front-matter types; return clean values and warnings (unknown keys).

    Each problem is addressed with the line of its key, as YAML syntax errors are.
    """
    p = str(path)
    clean: dict[str, Any] = {}
    warnings: list[NoteError] = []
    for key, value in data.items():
        key = str(key)
        line = _key_line(raw, key)
        if key not in _KNOWN_KEYS:
            warnings.append(
                NoteError(f"front matter: unknown key {key!r} (ignored)", path=p, address=line)
            )
            continue
        bad = NoteError(
            f"front matter: {key} must be {_KNOWN_KEYS[key]}, got {value!r}"[:200],
            path=p,
            address=line,
        )
        if key == "provenance":
            if not isinstance(value, dict) or any(
                str(k) not in PROVENANCE_KEYS
                or not (
                    isinstance(v, str | int | float) or (k == "sampling" and isinstance(v, dict))
                )
                for k, v in value.items()
            ):
                raise bad
            clean[key] = {
                str(k): (
                    {_shown(a): _shown(b) for a, b in v.items()}
                    if isinstance(v, dict)
                    else _shown(v)
                )
                for k, v in value.items()
            }
        elif key in ("title", "description", "model", "prompt", "finish_reason", "group"):
            if value is None:
                continue
            if not isinstance(value, str | int | float) or isinstance(value, bool):
                raise bad
            clean[key] = _shown(value)
        elif key in ("date", "created"):
            d = _date(value)
            if d is None:
                raise bad
            clean[key] = d
        elif key == "draft":
            if not isinstance(value, bool):
                raise bad
            clean[key] = value
        elif key == "tags":
            if isinstance(value, str):
                value = [t.strip() for t in value.split(",") if t.strip()]
            if not isinstance(value, list) or not all(isinstance(t, str | int) for t in value):
                raise bad
            clean[key] = tuple(dict.fromkeys(_shown(t).strip() for t in value if str(t).strip()))
        elif key == "highlight":
            clean[key] = _highlights(value, bad)
    return clean, warnings


def _highlights(value: Any, bad: NoteError) -> tuple[Highlight, ...]:
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise bad
    out = []
    for item in value:
        if not isinstance(item, dict):
            raise bad
        start, end = item.get("from"), item.get("to", item.get("from"))
        if not isinstance(start, int) or not isinstance(end, int) or start < 1 or end < start:
            raise bad
        out.append(Highlight(start=start, end=end, label=_shown(item.get("label", "") or "")))
    return tuple(out)


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
    """Parse one note. Raises NoteError (with the file and line) on bad front matter or blocks."""
    if text is None:
        text = _read_text(path)
    data, body, body_line, raw = _front_matter(text, path)
    clean, warnings = _validate(data, path, raw)
    md = _markdown()
    embeds: list[TraceEmbed] = []
    block_errors: list[tuple[int, str]] = []
    pre = _TraceBlocks(md, embeds, block_errors)
    pre.line_offset = body_line - 1
    md.preprocessors.register(pre, "tracesite_trace_blocks", 40)  # before fenced_code (25)
    html = md.convert(body)
    if block_errors:
        line, msg = block_errors[0]
        raise NoteError(msg, path=str(path), address=str(line))
    title = clean.get("title")
    if title is None:  # fall back to the first level-1 heading
        m = re.search(r"^#\s+(.+?)\s*#*\s*$", body, re.M)
        title = m.group(1) if m else None
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
        warnings=tuple(warnings),
    )


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
