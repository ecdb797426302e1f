"""Split a file's text into JSON values: one document, JSON lines, or Server-Sent Events.

Saved streams are not one JSON document (quirk 20): OpenAI's are SSE text (``data: {...}``,
blank line, ... ``data: [DONE]``), Responses add ``event:`` lines, llama.cpp and Ollama excerpts
are one JSON object per line. Every value keeps the 1-based line it starts on, for addresses
such as ``line 17: $.choices[0].logprobs.content[0].logprob``.

JSON is parsed with orjson, about 3x faster than the json module on trace files, wherever orjson
reads a text exactly as json would; everywhere else json reads it, so values and error messages
are json's (see :func:`fast_loads`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import orjson

from tracesite.core.errors import TraceReadError

_SSE_FIELDS = ("data:", "event:", "id:", "retry:", ":")
_DECODER = json.JSONDecoder()
#: Python's json module raises these besides JSONDecodeError: RecursionError on deep nesting,
#: ValueError on integers past its 4300-digit limit.
_JSON_ERRORS = (ValueError, RecursionError)
_BOM = b"\xef\xbb\xbf"
_LEADING_SPACE = re.compile(rb"[ \t\r\n]*")

#: ``bytes.translate`` table for :func:`_may_hold_big_integer`: digits become ``0``, the
#: characters a float's digits follow (``.``, ``e``, ``E``) become ``.``, all else a space.
_DIGIT_CLASSES = bytes(
    ord("0") if chr(b).isdigit() and b < 128 else ord(".") if chr(b) in ".eE" else ord(" ")
    for b in range(256)
)
_LONG_INTEGER = b"0" * 19  # 2**63 has 19 digits


class _Unread:
    """What :func:`fast_loads` returns when json must read the text."""


UNREAD = _Unread()


def _may_hold_big_integer(data: bytes) -> bool:
    """Whether ``data`` may hold a JSON integer outside 64 bits: orjson silently reads one as a
    float (orjson issue 308) where json gives the exact int. Any run of 19 or more digits that
    does not follow ``.``, ``e`` or ``E`` counts (a fraction's digits do not; digits in a string
    may, which only costs the slower path). ~0.5 ms a 400 KB file, a quarter of orjson's time."""
    classes = data.translate(_DIGIT_CLASSES)
    return classes.startswith(_LONG_INTEGER) or b" " + _LONG_INTEGER in classes


def fast_loads(data: bytes) -> Any:
    """orjson's reading of one JSON value (UTF-8 bytes, no BOM), or :data:`UNREAD` where it
    could differ from json's: orjson refuses NaN and Infinity, lone surrogates, invalid UTF-8,
    more than 1,024 levels of nesting and anything after the value (JSON lines), and reads
    integers past 64 bits as floats. Nesting between json's limit (the recursion limit less the
    stack in use, ~970) and orjson's 1,024 is read here where json would refuse it; the reader
    then refuses the file instead, with another message."""
    if _may_hold_big_integer(data):
        return UNREAD
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return UNREAD


@dataclass(frozen=True)
class Parsed:
    """A file's JSON values: ``document`` for one JSON value, else ``events`` with line numbers."""

    document: Any = None
    events: tuple[tuple[int, Any], ...] | None = None
    sse: bool = False


def _json_error(exc: Exception, first_line: int, line_offset: int = 0) -> TraceReadError:
    """The error for a value starting on ``first_line`` that json could not read; a syntax
    error names its own line (``line_offset`` turns a payload's line into the file's)."""
    if isinstance(exc, json.JSONDecodeError):
        return TraceReadError(
            f"not valid JSON: {exc.msg} (column {exc.colno})",
            address=f"line {exc.lineno + line_offset}",
        )
    if isinstance(exc, RecursionError):
        return TraceReadError("not readable JSON: nested too deeply", address=f"line {first_line}")
    message = str(exc)
    if "integer string conversion" in message:  # Python's 4300-digit limit on JSON integers
        message = "a number has too many digits"
    return TraceReadError(f"not readable JSON: {message}", address=f"line {first_line}")


def is_sse(text: str) -> bool:
    """Whether text looks like Server-Sent Events (its first line is an SSE field)."""
    first = text.lstrip("\r\n \t")[:8]
    return first.startswith(_SSE_FIELDS)


def parse_sse(text: str) -> list[tuple[int, Any]]:
    """The JSON ``data`` payloads of an SSE stream, with the line each starts on.

    Consecutive ``data:`` lines of one event are joined with newlines (SSE spec); ``[DONE]``,
    comments and ``event:``/``id:``/``retry:`` fields are skipped.
    """
    events: list[tuple[int, Any]] = []
    data: list[str] = []
    start = 0

    def flush() -> None:
        if not data:
            return
        payload = "\n".join(data)
        data.clear()
        if payload.strip() in ("[DONE]", ""):
            return
        value = fast_loads(payload.encode())  # decoded from UTF-8: no lone surrogates
        if value is UNREAD:
            try:
                value = json.loads(payload)
            except _JSON_ERRORS as exc:
                raise _json_error(exc, start, start - 1) from None
        events.append((start, value))

    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            flush()
            continue
        if line.startswith("data:"):
            if not data:
                start = number
            value = line[5:]
            data.append(value[1:] if value.startswith(" ") else value)
        elif line.startswith(("event:", "id:", "retry:", ":")):
            continue
        elif line.lstrip().startswith(("{", "[")) and not data:
            # a JSON line inside an SSE file (some loggers drop the prefix): read it as data
            start = number
            data.append(line)
            flush()
        else:
            raise TraceReadError(
                "not a Server-Sent Events line (expected data:, event:, id: or a comment)",
                address=f"line {number}",
            )
    flush()
    return events


def _json_lines(text: str) -> list[tuple[int, Any]] | None:
    """One JSON value per non-blank line, read by orjson; None when some line is not exactly
    one value orjson reads as json would (then :func:`parse_json_values` reads the text)."""
    events: list[tuple[int, Any]] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip(" \t\r"):
            continue
        value = fast_loads(line.encode())
        if value is UNREAD:
            return None
        events.append((number, value))
    return events


def parse_json_values(text: str) -> list[tuple[int, Any]]:
    """Consecutive JSON values (JSON lines, or pretty-printed objects one after another)."""
    fast = _json_lines(text)
    if fast is not None:
        return fast
    events: list[tuple[int, Any]] = []
    pos, line, end = 0, 1, len(text)
    ws = " \t\r\n"
    while True:
        start = pos
        while pos < end and text[pos] in ws:
            pos += 1
        line += text.count("\n", start, pos)
        if pos >= end:
            return events
        try:
            value, after = _DECODER.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise TraceReadError(
                f"not valid JSON: {exc.msg} (column {exc.colno})", address=f"line {exc.lineno}"
            ) from None
        except _JSON_ERRORS as exc:
            raise _json_error(exc, line) from None
        events.append((line, value))
        line += text.count("\n", pos, after)
        pos = after


def parse_text(text: str) -> Parsed:
    """A decoded file: one JSON document, or a sequence of events (SSE or JSON lines)."""
    if is_sse(text):
        return Parsed(events=tuple(parse_sse(text)), sse=True)
    try:
        return Parsed(document=json.loads(text))
    except json.JSONDecodeError as exc:
        if exc.msg != "Extra data":
            raise TraceReadError(
                f"not valid JSON: {exc.msg} (column {exc.colno})", address=f"line {exc.lineno}"
            ) from None
    except _JSON_ERRORS as exc:
        first_line = text.count("\n", 0, len(text) - len(text.lstrip())) + 1
        raise _json_error(exc, first_line) from None
    return Parsed(events=tuple(parse_json_values(text)))


def fast_document(data: bytes) -> Any:
    """A file's bytes read as one JSON document by orjson (most files), or :data:`UNREAD`:
    then decode them and let :func:`parse_text` read streams, JSON lines, NaN and errors."""
    body = data[len(_BOM) :] if data.startswith(_BOM) else data
    space = _LEADING_SPACE.match(body)  # not body.lstrip(): that copies a big file
    start = space.end() if space else 0
    if body[start : start + 1] not in (b"{", b"["):  # SSE, or not a trace document
        return UNREAD
    return fast_loads(body)


def decode(data: bytes) -> str:
    """UTF-8 text of a file (a BOM is allowed), or an error naming the line of the bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise TraceReadError(
            f"not UTF-8 text: byte 0x{data[exc.start]:02x} at offset {exc.start}",
            address=f"line {line}",
        ) from None
