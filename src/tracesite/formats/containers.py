"""Split a file's text into JSON values: one document, JSON lines, or Server-Sent Events.

Saved streams are not one JSON document (quirk 20): OpenAI's are SSE text (``data: {...}``,
blank line, ... ``data: [DONE]``), Responses add ``event:`` lines, llama.cpp and Ollama excerpts
are one JSON object per line. Every value keeps the 1-based line it starts on, for addresses
such as ``line 17: $.choices[0].logprobs.content[0].logprob``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tracesite.errors import TraceReadError

_SSE_FIELDS = ("data:", "event:", "id:", "retry:", ":")
_DECODER = json.JSONDecoder()
#: Python's json module raises these besides JSONDecodeError: RecursionError on deep nesting,
#: ValueError on integers past its 4300-digit limit.
_JSON_ERRORS = (ValueError, RecursionError)


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
        try:
            events.append((start, json.loads(payload)))
        except _JSON_ERRORS as exc:
            raise _json_error(exc, start, start - 1) from None

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


def parse_json_values(text: str) -> list[tuple[int, Any]]:
    """Consecutive JSON values (JSON lines, or pretty-printed objects one after another)."""
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
