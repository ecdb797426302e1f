"""Traces kept inside users' own records (issue 15): look into a document no reader knows.

Users save responses inside records of their own: ``{"timestamp", "prompt", "response": <a
completions response>}``, ``{"message": ..., "logprobs": <a chat logprobs object>}``, app
exports, LangChain messages. When a document's top level is no known format, :func:`read_wrapped`
walks it in document order for values that are one (detect.py's recognisers, plus the shapes
below that only occur inside records), reads each, and takes the scalar fields of the records
around it as metadata: ``model``, ``prompt``, ``created`` (``timestamp``...) and
``finish_reason`` where the names say so and the trace has none of its own, the rest into
``meta.extra``. A trace's source names the JSON path it came from (``history.json
$[3].response``) and errors inside it are addressed by that path.

The walk is bounded: values nested deeper than :data:`MAX_DEPTH` are not looked into, a record
(the document, or each element of a top-level array) is searched for at most :data:`MAX_NODES`
values and :data:`MAX_TRACES` traces, a file for at most :data:`MAX_FILE_NODES` objects and
arrays (a scalar is not looked into, and an array of scalars is skipped whole). When a
bound stops the search, the traces found say so (a ``search_stopped`` data flag). A document
with no trace anywhere is left to the caller's "not a trace format" error.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from tracesite.core.errors import TraceReadError
from tracesite.formats import cohere, langchain
from tracesite.formats.builder import TraceBuilder
from tracesite.formats.common import Events, fail, iso_time, json_safe
from tracesite.formats.entries import read_entries
from tracesite.formats.openai_chat import CHAT, read_bare_logprobs, read_chat_logprobs
from tracesite.formats.openai_completions import FORMAT_NAME as COMPLETIONS
from tracesite.formats.openai_completions import read_legacy_logprobs
from tracesite.model.trace import Trace, TraceMeta

Reader = Callable[[Any, str, str], list[Trace]]
Recognise = Callable[[Any], Reader | None]
StreamOf = Callable[[Events, str], list[Trace] | None]

MAX_DEPTH = 8  # levels below the record looked into
MAX_NODES = 5_000  # values looked at per record
MAX_TRACES = 1_000  # traces taken from one record
MAX_FILE_NODES = 50_000  # objects and arrays looked at per document (an array of records)
MAX_STRING = 2_000  # longer strings of a record are not copied into extra (prompt excepted)
MAX_FIELDS = 50  # record fields copied into one trace's extra

#: Record field names read into TraceMeta fields (the first present wins, nearest record first).
FIELDS = {
    "model": ("model", "model_name", "modelName", "model_id"),
    "prompt": ("prompt", "input", "question", "query", "instruction"),
    "created": ("created", "created_at", "createdAt", "timestamp", "time", "date", "datetime"),
    "finish_reason": ("finish_reason", "finishReason"),
}
_FIELD_OF = {name: field for field, names in FIELDS.items() for name in names}
#: Beside a bare logprobs object, the record's field holding the text it spells.
TEXT_FIELDS = ("content", "text", "completion", "response", "output", "message")
USAGE_FIELDS = ("usage", "token_usage", "tokenUsage", "usage_metadata")
_DATE = re.compile(r"\d{4}-\d\d-\d\d")
#: A chat choice has at least one of these; a quiz's or a menu's "choices" has none.
_CHOICE_KEYS = ("message", "text", "delta", "logprobs")


@dataclass
class _Budget:
    """Values left to look at, for the file and for the record being searched."""

    file: int
    record: int
    stopped: str = ""  # why the search stopped early, for the flag

    def take(self, path: str, container: bool = True) -> bool:
        """Count one value (objects and arrays count for the file too); False once over."""
        self.file -= container
        self.record -= 1
        if self.file < 0 or self.record < 0:
            limit = MAX_FILE_NODES if self.file < 0 else MAX_NODES
            what = "objects and arrays" if self.file < 0 else "values in one record"
            self.stopped = f"the search for traces stopped at {path} after {limit:,} {what}"
            return False
        return True


@dataclass(frozen=True)
class _Found:
    path: str
    node: Any
    reader: Reader
    records: tuple[dict[str, Any], ...]  # the dicts around the value, nearest first


def _key_path(path: str, key: str) -> str:
    return f"{path}.{key}" if key.isidentifier() else f"{path}[{json.dumps(key)}]"


def _is_legacy_logprobs(node: Any) -> bool:
    """A legacy Completions ``logprobs`` object saved on its own (without its choice): token
    strings (a list of token ids with logprobs is a rollout row, read by ``rollouts.py``)."""
    tokens = node.get("tokens") if isinstance(node, dict) else None
    return (
        isinstance(tokens, list)
        and isinstance(node.get("token_logprobs"), list)
        and (not tokens or isinstance(tokens[0], str))
    )


def _all_dicts_with(value: Any, keys: tuple[str, ...]) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, dict) and any(k in v for k in keys) for v in value)
    )


def _plausible(node: dict[str, Any]) -> bool:
    """Whether a value a recogniser of detect.py accepts really is a trace, not a record that
    shares a key with one (a quiz's "choices", a message's "content", a vote's "candidates")."""
    if "tracesite" in node or str(node.get("type", "")).startswith("response."):
        return True
    if "choices" in node:
        return _all_dicts_with(node["choices"], _CHOICE_KEYS)
    if "candidates" in node and "completion_probabilities" not in node:
        return _all_dicts_with(node["candidates"], ("content", "logprobsResult", "finishReason"))
    if set(node) <= {"content", "refusal", "reasoning_content"}:
        return any(isinstance(v, list) for v in node.values())
    return True


def _match(node: Any, recognise: Recognise) -> Reader | None:
    """How to read ``node`` if it is a trace; None to look inside it."""
    if langchain.is_langchain(node):
        return langchain.read_langchain
    if cohere.is_cohere(node):
        return cohere.read_cohere
    if _is_legacy_logprobs(node):
        return _read_legacy_alone
    reader = recognise(node)
    if reader is not None and (isinstance(node, list) or _plausible(node)):
        return reader
    return None


def _read_legacy_alone(obj: Any, source: str, addr: str) -> list[Trace]:
    return [_legacy(obj, addr, source, None)]


def _holds_more(value: Any) -> bool:
    """Whether a value may be or hold a trace: a non-empty object, or an array of them."""
    if isinstance(value, dict):
        return bool(value)
    return isinstance(value, list) and bool(value) and isinstance(value[0], dict | list)


def _children(node: Any, path: str) -> Iterator[tuple[str, Any]]:
    """A container's values in document order, each with its path (containers only: a
    scalar's path is never needed, and a record may hold many scalars)."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield (_key_path(path, str(key)) if isinstance(value, dict | list) else ""), value
    else:
        for i, value in enumerate(node):
            yield (f"{path}[{i}]" if isinstance(value, dict | list) else ""), value


@dataclass
class _Search:
    """One walk: what it looks for, where the traces go, what it may still look at."""

    source: str
    addr: str
    recognise: Recognise
    stream_of: StreamOf
    budget: _Budget
    found: list[tuple[_Found | None, list[Trace]]]  # a value to read, or a stream already read

    def where(self, path: str) -> str:
        """A trace's source: the file, and the path inside it unless the trace is the record."""
        return self.source if path == self.addr else f"{self.source} {path}"

    def stream(self, node: list[Any], path: str, records: tuple[dict[str, Any], ...]) -> bool:
        """Read ``node`` as one stream's chunks kept in a list, if it is one."""
        if len(node) < 2 or not isinstance(node[0], dict) or self.recognise(node[0]) is None:
            return False
        events = [(f"{path}[{i}]", item) for i, item in enumerate(node)]
        traces = self.stream_of(events, self.where(path))
        if traces is None:
            return False
        self.found.append((None, [with_record(t, records, set()) for t in traces]))
        return True

    def record(self, root: Any, path: str) -> None:
        """The traces in one record, depth first in document order, within the budget."""
        reader = _match(root, self.recognise)
        if reader is not None:
            self.found.append((_Found(path, root, reader, ()), []))
            return
        if not isinstance(root, dict | list) or (
            isinstance(root, list) and self.stream(root, path, ())
        ):
            return
        stack: list[tuple[Any, Iterator[tuple[str, Any]]]] = [(root, _children(root, path))]
        taken = 0
        while stack:
            step = next(stack[-1][1], None)
            if step is None:
                stack.pop()
                continue
            child_path, child = step
            more = _holds_more(child)  # token ids, numbers, strings: never a trace
            if not self.budget.take(child_path or path, more):
                return
            if not more:
                continue
            records = tuple(c for c, _ in reversed(stack) if isinstance(c, dict))
            reader = _match(child, self.recognise)
            if reader is not None:
                self.found.append((_Found(child_path, child, reader, records), []))
            elif not (isinstance(child, list) and self.stream(child, child_path, records)):
                if len(stack) < MAX_DEPTH:
                    stack.append((child, _children(child, child_path)))
                continue
            taken += 1
            if taken >= MAX_TRACES:
                self.budget.stopped = f"the search stopped after {MAX_TRACES:,} traces in a record"
                return


def _created(value: Any) -> str | None:
    """A record's timestamp as ISO 8601: Unix seconds or milliseconds (JavaScript's
    ``Date.now()``) after 1973, or a string starting with a date; None for anything else (a
    ``time`` of 1.5 is a duration, not a moment)."""
    if isinstance(value, str):
        return value if _DATE.match(value) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 1e8 <= value < 1e14:
        return None
    try:
        return iso_time(value / 1000 if value >= 1e11 else value, "$")
    except TraceReadError:
        return None


def _text_beside(record: dict[str, Any] | None) -> str | None:
    """The text a bare logprobs object spells, from the record holding it."""
    if record is None:
        return None
    message = record.get("message")
    if isinstance(message, dict) and isinstance(message.get("content"), str):
        return str(message["content"])
    return next((record[k] for k in TEXT_FIELDS if isinstance(record.get(k), str)), None)


def _scalar(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):
        return len(value) <= MAX_STRING
    return isinstance(value, int | bool)


def with_record(trace: Trace, records: tuple[dict[str, Any], ...], skip: set[str]) -> Trace:
    """``trace`` with the scalar fields of the records around it as metadata (nearest first;
    the trace's own metadata wins, a clashing record field is kept as ``record.<name>``)."""
    m = trace.meta
    fields: dict[str, Any] = {}
    extra = dict(m.extra)
    added = 0
    for record in records:
        for key, value in record.items():
            if key in skip or value is None or added >= MAX_FIELDS:
                continue
            if isinstance(value, dict | list):
                if key in USAGE_FIELDS and "usage" not in extra and json_safe(value):
                    extra["usage"] = value
                continue
            field = _FIELD_OF.get(key)
            own = getattr(m, field) if field is not None else None
            if field is not None and field not in fields and own is None:
                v = _created(value) if field == "created" else value
                if isinstance(v, str) and (field == "prompt" or len(v) <= MAX_STRING):
                    fields[field] = v
                    continue
            if not _scalar(value) or value == own:
                continue
            clash = key in extra or (key == field and own is not None)
            name = f"record.{key}" if clash else key
            if name not in extra:
                extra[name] = value
                added += 1
    return dataclasses.replace(trace, meta=dataclasses.replace(m, extra=extra, **fields))


def _read_found(f: _Found, where: str) -> list[Trace]:
    """Read one trace-holding value; a bare logprobs object takes its text from its record."""
    record = f.records[0] if f.records else None
    if f.reader is read_bare_logprobs:
        text = _text_beside(record)
        traces = _read_bare(f.node, f.path, where, text)
        skip = {"message", *TEXT_FIELDS} if text is not None else set()
    elif f.reader is _read_legacy_alone and record is not None:
        text = record.get("text") if isinstance(record.get("text"), str) else None
        traces = [_legacy(f.node, f.path, where, text)]
        skip = {"text"} if text is not None else set()
    else:
        traces, skip = f.reader(f.node, where, f.path), set()
    return [with_record(t, f.records, skip) for t in traces]


def _read_bare(node: Any, path: str, where: str, text: str | None) -> list[Trace]:
    """A chat ``logprobs`` object (or its ``content`` list) with the text of its record."""
    if isinstance(node, list):
        b = TraceBuilder()
        read_entries(node, path, b)
        b.mark_specials(text)
        return [b.build(TraceMeta(source=where, format=CHAT, provider_text=text))]
    meta: dict[str, Any] = {"source": where, "extra": {}}
    traces = read_chat_logprobs(node, path, {"content": text}, meta, CHAT)
    if not traces:
        raise fail(f"{path}.content", "no token list (content is null and there is no refusal)")
    return traces


def _legacy(node: Any, path: str, where: str, text: str | None) -> Trace:
    """A legacy Completions ``logprobs`` object, with its choice's text when the record has it."""
    b = TraceBuilder()
    read_legacy_logprobs(node, path, b)
    b.mark_specials(text)
    return b.build(TraceMeta(source=where, format=COMPLETIONS, provider_text=text))


def _stopped(traces: list[Trace], why: str) -> list[Trace]:
    flag = {"code": "search_stopped", "message": why + "; later traces, if any, were not read"}
    out = []
    for t in traces:
        prov = dict(t.meta.provenance)
        prov["flags"] = [*prov.get("flags", ()), flag]
        out.append(dataclasses.replace(t, meta=dataclasses.replace(t.meta, provenance=prov)))
    return out


def read_wrapped(
    obj: Any, source: str, addr: str, recognise: Recognise, stream_of: StreamOf
) -> list[Trace]:
    """Every trace inside ``obj`` (a document no reader knows), or [] when it holds none.

    ``recognise`` is detect.py's recogniser of one value, ``stream_of`` its reader of a list of
    values that may be one stream's chunks (None when they are not).
    """
    search = _Search(source, addr, recognise, stream_of, _Budget(MAX_FILE_NODES, MAX_NODES), [])
    if isinstance(obj, list) and _match(obj, recognise) is None:
        # an array of records: each record searched on its own
        for i, item in enumerate(obj):
            if not _holds_more(item):
                continue
            search.budget.record = MAX_NODES
            if not search.budget.take(f"{addr}[{i}]"):
                break
            search.record(item, f"{addr}[{i}]")
            if search.budget.stopped:
                break
    else:
        search.record(obj, addr)
    traces: list[Trace] = []
    for found, read in search.found:
        traces += read if found is None else _read_found(found, search.where(found.path))
    return _stopped(traces, search.budget.stopped) if traces and search.budget.stopped else traces


def read_batch_line(line: dict[str, Any], source: str, addr: str, read: Reader) -> list[Trace]:
    """One OpenAI Batch API output line, ``{"id", "custom_id", "response": {"status_code",
    "request_id", "body"}, "error"}``: the body read by ``read``, the custom id kept in
    ``extra`` and as the trace's slug (``extra["slug"]``; ``-2``, ``-3``... for further traces
    of the same line, as for a response's further choices)."""
    response = line["response"]
    body = response["body"]
    baddr = f"{addr}.response.body"
    status = response.get("status_code")
    if isinstance(body, dict) and "error" in body and isinstance(status, int) and status >= 400:
        error = body["error"]
        message = error.get("message") if isinstance(error, dict) else error
        raise fail(f"{baddr}.error", f"this batch request failed (HTTP {status}): {message}")
    traces = read(body, source, baddr)
    custom = line.get("custom_id")
    out = []
    for i, t in enumerate(traces):
        extra = dict(t.meta.extra)
        for key, value in (("batch_request_id", line.get("id")), ("custom_id", custom)):
            if isinstance(value, str):
                extra.setdefault(key, value)
        if isinstance(custom, str) and custom:
            extra["slug"] = custom if i == 0 else f"{custom}-{i + 1}"
        out.append(t.replace_meta(extra=extra))
    return out
