"""YAML front matter and ```` ```trace ```` block bodies, read with the work bounded.

PyYAML's ``safe_load`` runs no code, but it still lets one value end a build: a date YAML accepts
and Python cannot build (``2024-02-30``, ``2024-13-01``, hour 25) or a tag on garbage
(``!!float abc``, ``!!timestamp x``) raises ``ValueError``/``AttributeError`` with no line;
nesting thousands of levels deep raises ``RecursionError``; nine aliases of nine aliases (an alias
bomb) make a value of 9⁹ items that any ``repr`` or walk over it expands. Here every one of them is
a :class:`NoteError` with the line of the value and the key it belongs to
(``content/x.md:3: front matter: date: day is out of range for month``), the nesting depth and the
values that aliases expand to are bounded before anything is built, and messages show values
through a bounded ``repr``.
"""

from __future__ import annotations

import datetime as dt
import re
import reprlib
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from tracesite.core.errors import NoteError
from tracesite.core.options import Highlight
from tracesite.core.safetext import safe_text
from tracesite.site.urls import slugify

#: Deeper YAML is refused before it is built (PyYAML's composer recurses once per level).
MAX_DEPTH = 50
#: Values a document may expand to when every alias is followed (a front matter has tens).
MAX_VALUES = 100_000

_SHOWN = reprlib.Repr()
_SHOWN.maxlevel, _SHOWN.maxstring, _SHOWN.maxother = 3, 80, 80
_SHOWN.maxlist = _SHOWN.maxtuple = _SHOWN.maxdict = _SHOWN.maxset = 6


def shown_value(value: Any) -> str:
    """A value as messages show it: a ``repr`` cut to a few items and ~80 characters each."""
    try:
        return _SHOWN.repr(value)
    except Exception:  # a repr that fails must not turn a bad value into a crash
        return f"<{type(value).__name__}>"


class _Loader(yaml.SafeLoader):
    """``SafeLoader`` that refuses deep nesting while composing and addresses what it cannot
    construct with the value's line."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                problem = f"nested more than {MAX_DEPTH} levels deep"
                raise yaml.composer.ComposerError(None, None, problem, mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, AttributeError, OverflowError, KeyError, IndexError) as exc:
            raise yaml.constructor.ConstructorError(
                None, None, _why(node, exc), node.start_mark
            ) from None


def _why(node: Node, exc: Exception) -> str:
    """What was wrong with a value PyYAML could not build: Python's reason when it is one a
    person can act on ("day is out of range for month"), else what the value was meant to be."""
    text = str(exc)
    tag = node.tag.rpartition(":")[2] or "value"
    too_long = "set_int_max_str_digits" in text
    if isinstance(exc, ValueError) and text and not too_long and "could not convert" not in text:
        return text
    if too_long:
        return f"not a valid {tag}: a number with too many digits"
    value = node.value if isinstance(node, ScalarNode) else f"a {type(node).__name__}"
    return f"not a valid {tag}: {shown_value(value)}"


def _expanded_size(root: Node) -> int:
    """How many values ``root`` holds with every alias followed (counted once per node, so the
    count itself is cheap); raises ValueError for an alias that contains itself."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()

    def size(node: Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_nodes:
            raise ValueError("an alias refers to a value that contains it")
        open_nodes.add(key)
        total = 1
        if isinstance(node, SequenceNode):
            total += sum(size(child) for child in node.value)
        elif isinstance(node, MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        open_nodes.discard(key)
        sizes[key] = total = min(total, MAX_VALUES + 1)
        return total

    return size(root)


def _line(mark: Any, first_line: int) -> int:
    return (mark.line + first_line) if mark is not None else first_line


def _yaml_error(exc: yaml.YAMLError, first_line: int) -> tuple[int, str]:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return _line(mark, first_line), problem


def load_yaml(text: str, *, first_line: int, what: str, path: str = "") -> Any:
    """The value of the YAML document ``text``, whose first line is line ``first_line`` of its
    file; every problem a :class:`NoteError` ``what: problem`` addressed with its line. A mapping
    is built key by key, so a value's problem names its key (``date: day is out of range``)."""
    try:
        loader = _Loader(text)  # checks the characters first: a ReaderError
    except yaml.reader.ReaderError as exc:
        line = first_line + text.count("\n", 0, max(exc.position, 0))
        raise NoteError(
            f"{what}: {str(exc).splitlines()[0]}", path=path, address=str(line)
        ) from None
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        try:
            if _expanded_size(root) > MAX_VALUES:
                raise ValueError(
                    f"its aliases expand to more than {MAX_VALUES:,} values (an alias bomb?)"
                )
        except ValueError as exc:
            raise NoteError(f"{what}: {exc}", path=path, address=str(first_line)) from None
        if not isinstance(root, MappingNode):
            return loader.construct_document(root)
        return _construct_mapping(loader, root, first_line, what, path)
    except yaml.YAMLError as exc:
        line, problem = _yaml_error(exc, first_line)
        raise NoteError(f"{what}: {problem}", path=path, address=str(line)) from None
    except RecursionError:  # aliases of aliases can chain deeper than any one value nests
        raise NoteError(
            f"{what}: nested too deeply (through its aliases)", path=path, address=str(first_line)
        ) from None
    finally:
        loader.dispose()


def _construct_mapping(
    loader: _Loader, root: MappingNode, first_line: int, what: str, path: str
) -> dict[Any, Any]:
    loader.flatten_mapping(root)  # ``<<: *base`` merges, as SafeLoader builds them
    out: dict[Any, Any] = {}
    for key_node, value_node in root.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, Hashable) or isinstance(key, list | dict):
            line = _line(key_node.start_mark, first_line)
            raise NoteError(
                f"{what}: a key must be a plain value, got {shown_value(key)}",
                path=path,
                address=str(line),
            )
        try:
            out[key] = loader.construct_object(value_node, deep=True)
        except yaml.YAMLError as exc:
            line, problem = _yaml_error(exc, first_line)
            raise NoteError(f"{what}: {key}: {problem}", path=path, address=str(line)) from None
    return out


# -- a note's front matter: split, read, checked ---------------------------------------------------

_FRONT = re.compile(
    r"\A(?:\ufeff)?---[ \t]*\r?\n(.*?)(?:\r?\n)?^(?:---|\.\.\.)[ \t]*$\r?\n?", re.S | re.M
)
KNOWN_KEYS = {
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
    # a section's _section.md or index.md: its place among the sections (lower first)
    "weight": "a number",
}
PROVENANCE_KEYS = ("engine", "engine_version", "logprobs", "sampling", "entropy", "tokenizer")
#: A tag names a page (``tags/<slug>/``): longer ones would not fit a file name.
MAX_TAG_LENGTH = 100


@dataclass(frozen=True)
class FrontMatter:
    """A note's checked front matter, the Markdown after it and where that starts."""

    values: dict[str, Any]  # known keys only, with clean values
    warnings: tuple[NoteError, ...]
    body: str
    body_line: int  # the line of the note the body starts on


def read_front_matter(text: str, path: str) -> FrontMatter:
    """Split and check the front matter of a note's ``text``; raises NoteError with the line."""
    m = _FRONT.match(text)
    if not m:
        if text.lstrip("\ufeff").startswith("---\n"):
            raise NoteError("front matter: no closing --- line", path=path, address="1")
        return FrontMatter({}, (), text, 1)
    raw = m.group(1)
    data = load_yaml(raw, first_line=2, what="front matter", path=path) if raw.strip() else {}
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise NoteError("front matter: expected key: value pairs", path=path, address="2")
    values, warnings = _validate(data, path, raw)
    return FrontMatter(values, tuple(warnings), text[m.end() :], text[: m.end()].count("\n") + 1)


def _date(value: Any) -> str | None:
    if isinstance(value, dt.datetime | dt.date):
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


def _key_line(raw: str, key: str) -> str:
    """The line of a top-level front-matter key (line 1 is the opening ``---``), for addresses."""
    quoted = ("", "'", '"')
    for number, line in enumerate(raw.splitlines(), start=2):
        for q in quoted:
            head = f"{q}{key}{q}"
            if line.startswith(head) and line[len(head) :].lstrip(" \t").startswith(":"):
                return str(number)
    return "1"


def shown(value: Any) -> str:
    """A front-matter value as page text: a lone surrogate (``"\\ud800"`` in YAML) shown as its
    code (it cannot be written as UTF-8), NUL (``"\\0"``) as U+FFFD, as an HTML parser would
    make it in an attribute; in element text it would vanish without a trace."""
    return safe_text(str(value)).replace("\x00", "\ufffd")


def _validate(
    data: dict[Any, Any], path: str, raw: str = ""
) -> tuple[dict[str, Any], list[NoteError]]:
    """Check front-matter types; return clean values and warnings (unknown keys).

    Each problem is addressed with the line of its key, as YAML syntax errors are.
    """
    clean: dict[str, Any] = {}
    warnings: list[NoteError] = []
    for key, value in data.items():
        key = str(key)
        line = _key_line(raw, key)
        if key not in KNOWN_KEYS:
            warnings.append(
                NoteError(
                    f"front matter: unknown key {shown_value(key)} (ignored)",
                    path=path,
                    address=line,
                )
            )
            continue
        bad = NoteError(
            f"front matter: {key} must be {KNOWN_KEYS[key]}, got {shown_value(value)}",
            path=path,
            address=line,
        )
        if key == "provenance":
            clean[key] = _provenance(value, bad)
        elif key in ("title", "description", "model", "prompt", "finish_reason", "group"):
            if value is None:
                continue
            if not isinstance(value, str | int | float) or isinstance(value, bool):
                raise bad
            clean[key] = shown(value)
        elif key in ("date", "created"):
            d = _date(value)
            if d is None:
                raise bad
            clean[key] = d
        elif key == "draft":
            if not isinstance(value, bool):
                raise bad
            clean[key] = value
        elif key == "weight":
            if not isinstance(value, int | float) or isinstance(value, bool) or value != value:
                raise bad
            clean[key] = float(value)
        elif key == "tags":
            clean[key] = _tags(value, bad, path, line, warnings)
        elif key == "highlight":
            clean[key] = _highlights(value, bad)
    return clean, warnings


def _tags(
    value: Any, bad: NoteError, path: str, line: str, warnings: list[NoteError]
) -> tuple[str, ...]:
    """The note's tags: stripped, each once; two that would share a tag page (``LLM``, ``llm``)
    are one tag, the first spelling kept, with a warning."""
    if isinstance(value, str):
        value = [t.strip() for t in value.split(",") if t.strip()]
    if not isinstance(value, list) or not all(
        isinstance(t, str | int) and not isinstance(t, bool) for t in value
    ):
        raise bad
    tags: dict[str, str] = {}  # slug -> the first spelling
    for item in value:
        tag = shown(item).strip()
        if not tag:
            continue
        if len(tag) > MAX_TAG_LENGTH:
            raise NoteError(
                f"front matter: tags: a tag is at most {MAX_TAG_LENGTH} characters, got "
                f"{len(tag):,} ({shown_value(tag)})",
                path=path,
                address=line,
            )
        first = tags.setdefault(slugify(tag), tag)
        if first != tag:
            warnings.append(
                NoteError(
                    f"front matter: tags {first!r} and {tag!r} share one tag page "
                    f"(tags/{slugify(tag)}/); kept {first!r}",
                    path=path,
                    address=line,
                )
            )
    return tuple(tags.values())


def _provenance(value: Any, bad: NoteError) -> dict[str, Any]:
    if not isinstance(value, dict) or any(
        str(k) not in PROVENANCE_KEYS
        or not (isinstance(v, str | int | float) or (k == "sampling" and isinstance(v, dict)))
        for k, v in value.items()
    ):
        raise bad
    return {
        str(k): ({shown(a): shown(b) for a, b in v.items()} if isinstance(v, dict) else shown(v))
        for k, v in value.items()
    }


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
        if (
            not isinstance(start, int)
            or not isinstance(end, int)
            or isinstance(start, bool)
            or isinstance(end, bool)
            or start < 1
            or end < start
        ):
            raise bad
        out.append(Highlight(start=start, end=end, label=shown(item.get("label", "") or "")))
    return tuple(out)
