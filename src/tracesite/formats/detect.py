"""Format detection from content (never from the file extension) and dispatch to the readers.

A file is an ``.npz`` archive (zip magic), one JSON document, or a sequence of JSON values (SSE
text or JSON lines). A sequence is either a *stream* (chunks of one response: OpenAI chat,
completions, Responses, llama.cpp, TGI, Ollama) or independent documents (native JSONL, batch
output), each document read like a file of its own. Rollout tables (Parquet, Arrow/Feather by
their magic bytes, JSONL by their first line: :mod:`tracesite.core.tables`) go to
``rollouts.py``, which reads them column by column with pyarrow.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from typing import Any

from tracesite.core.errors import NotATraceError, TraceReadError
from tracesite.core.options import ReadOptions
from tracesite.core.tables import is_rollout_jsonl, is_rollout_row, table_kind
from tracesite.formats import (
    cohere,
    gemini,
    langchain,
    llamacpp,
    native,
    npz,
    ollama,
    openai_chat,
    openai_completions,
    openai_responses,
    rollouts,
    sglang,
    tgi,
    vllm,
    wrapped,
)
from tracesite.formats.common import Events, describe, fail
from tracesite.formats.containers import UNREAD, Parsed, decode, fast_document, parse_text
from tracesite.model.trace import Trace

#: The short, stable format names found in ``TraceMeta.format``.
FORMAT_NAMES = (
    native.FORMAT_NAME,
    openai_chat.CHAT,
    openai_chat.CHAT_STREAM,
    openai_completions.FORMAT_NAME,
    openai_responses.FORMAT_NAME,
    openai_responses.STREAM_FORMAT,
    llamacpp.FORMAT_NAME,
    gemini.FORMAT_NAME,
    gemini.STREAM_FORMAT,
    tgi.FORMAT_NAME,
    tgi.STREAM_FORMAT,
    ollama.FORMAT_NAME,
    npz.FORMAT_NAME,
    langchain.FORMAT_NAME,
    cohere.FORMAT_NAME,
    sglang.FORMAT_NAME,
    sglang.STREAM_FORMAT,
    *rollouts.FORMAT_NAMES,
)

#: What the "unknown format" error lists.
KNOWN_FORMATS = (
    'tracesite native ({"tracesite": 1, "tokens": [...]}, JSON or JSON lines)',
    "OpenAI chat completion (response, its logprobs object or content list)",
    "OpenAI chat stream (SSE or one chunk per line)",
    "OpenAI/vLLM completions (choices[].logprobs.tokens)",
    "OpenAI Responses (response, SSE stream or response.completed event)",
    "llama.cpp /completion (completion_probabilities, streamed or not)",
    "Gemini/Vertex (candidates[].logprobsResult or a bare logprobsResult)",
    "TGI /generate with details (or its stream)",
    "Ollama with logprobs",
    "numpy .npz",
    "LangChain AI messages and generations with logprobs (dumpd/dumps, JS JSON, messages_to_dict)",
    "Cohere v2 chat (logprobs: [{token_ids, text, logprobs}])",
    "any of these inside your own records (JSON, JSON lines): found and read with their path",
    "SGLang /generate (meta_info.output_token_logprobs, one, a list or a stream)",
    "rollout table: Parquet, Arrow/Feather or JSON lines with a token and a logprob list per row",
)

Reader = Callable[[Any, str, str], list[Trace]]
StreamReader = Callable[[Events, str], list[Trace]]


def _not_a_trace(addr: str, obj: Any) -> TraceReadError:
    """:func:`_unknown` for a whole document: nothing in it is a trace (the build warns)."""
    err = _unknown(addr, obj)
    return NotATraceError(err.message, path=err.path, address=err.address)


def _unknown(addr: str, obj: Any) -> TraceReadError:
    keys = ""
    if isinstance(obj, dict):
        names = sorted(obj)[:8]
        keys = " (top-level keys: " + ", ".join(describe(k) for k in names) + ")"
    elif not isinstance(obj, list):
        keys = f" (got {describe(obj)})"
    return fail(
        addr,
        "not a trace format tracesite knows"
        + keys
        + "; expected one of: "
        + "; ".join(KNOWN_FORMATS),
    )


def _is_chunk(d: dict[str, Any]) -> bool:
    if d.get("object") == "chat.completion.chunk":
        return True
    choices = d.get("choices")
    return isinstance(choices, list) and any(isinstance(c, dict) and "delta" in c for c in choices)


def _is_completions(d: dict[str, Any]) -> bool:
    if d.get("object") == "text_completion":
        return True
    choices = d.get("choices")
    return (
        bool(choices)
        and isinstance(choices, list)
        and isinstance(choices[0], dict)
        and "text" in choices[0]
    )


def _is_entry_list(obj: Any) -> bool:
    """An OpenAI-style token entry list (a bare ``logprobs.content``)."""
    return (
        isinstance(obj, list)
        and bool(obj)
        and isinstance(obj[0], dict)
        and "token" in obj[0]
        and "logprob" in obj[0]
    )


def _batch_body(d: dict[str, Any]) -> Any:
    """The response inside an OpenAI Batch API output line, or None."""
    response = d.get("response")
    if "custom_id" in d and isinstance(response, dict) and "body" in response:
        return response["body"]
    return None


def _document_reader(obj: Any, options: ReadOptions | None = None) -> Reader | None:
    if isinstance(obj, list):
        return openai_chat.read_bare_logprobs if _is_entry_list(obj) else None
    if not isinstance(obj, dict):
        return None
    if native.is_native(obj):
        return _native
    if sglang.is_sglang(obj):
        return functools.partial(sglang.read_sglang_response, options=options)
    if openai_responses.is_response_event(obj):
        return openai_responses.read_responses_response
    if "choices" in obj:
        if _is_chunk(obj):
            return _single_chunk
        if vllm.has_prompt_logprobs(obj):
            return _with_prompt_logprobs
        if _is_completions(obj):
            return openai_chat.read_completions_response
        return openai_chat.read_chat_response
    if isinstance(obj.get("output"), list) and (
        obj.get("object") == "response" or "created_at" in obj
    ):
        return openai_responses.read_responses_response
    if llamacpp.is_llamacpp(obj):
        return llamacpp.read_llamacpp_response
    if gemini.is_gemini_response(obj):
        return gemini.read_gemini_response
    if gemini.is_logprobs_result(obj):
        return gemini.read_bare_logprobs_result
    if tgi.is_tgi_response(obj):
        return tgi.read_tgi_response
    if ollama.is_ollama(obj):
        return ollama.read_ollama_response
    if _batch_body(obj) is not None:
        return _batch
    if _is_entry_list(obj.get("content")) or (
        set(obj) <= {"content", "refusal", "reasoning_content"} and "content" in obj
    ):
        return openai_chat.read_bare_logprobs
    if is_rollout_row(obj, options):
        return functools.partial(rollouts.read_rollout_document, options=options)
    return None


def _native(obj: Any, source: str, addr: str) -> list[Trace]:
    return [native.read_native(obj, source, addr=addr)]


def _single_chunk(obj: Any, source: str, addr: str) -> list[Trace]:
    return openai_chat.read_chat_stream([(addr, obj)], source)


def _batch(obj: Any, source: str, addr: str) -> list[Trace]:
    return wrapped.read_batch_line(obj, source, addr, read_document)


def _with_prompt_logprobs(obj: Any, source: str, addr: str) -> list[Trace]:
    """A vLLM response with ``prompt_logprobs``: read as usual, the prompt's summarised."""
    if _is_completions(obj):
        traces = openai_chat.read_completions_response(obj, source, addr)
    else:
        traces = openai_chat.read_chat_response(obj, source, addr)
    return vllm.with_prompt_summary(traces, obj, addr)


def _look_inside(
    obj: Any, source: str, addr: str, error: TraceReadError, options: ReadOptions | None
) -> list[Trace]:
    """The traces kept inside the user's own records (``wrapped.py``), else ``error``."""
    traces = wrapped.read_wrapped(
        obj,
        source,
        addr,
        lambda node: _document_reader(node, options),
        lambda events, src: _read_stream(events, src, sse=False, options=options),
    )
    if not traces:
        raise error
    return traces


def read_document(
    obj: Any, source: str, addr: str = "$", options: ReadOptions | None = None
) -> list[Trace]:
    """The traces of one JSON value: a known format, or an array of them."""
    reader = _document_reader(obj, options)
    if reader is not None:
        return reader(obj, source, addr)
    if isinstance(obj, list) and obj:
        # An array of responses (a dataset export, TGI's list answer) or of stream chunks
        # (a saved Gemini stream without SSE, chunks collected into a list).
        events = [(f"{addr}[{i}]", item) for i, item in enumerate(obj)]
        streamed = _read_stream(events, source, sse=False, options=options)
        if streamed is not None:
            return streamed
        first = _document_reader(obj[0], options)
        if first is None:
            # an array holding a known format after something else is a broken file (an error);
            # one holding none anywhere is not a trace (a warning, unless found inside records)
            broken = any(_document_reader(item, options) is not None for item in obj[1:64])
            unknown = _unknown if broken else _not_a_trace
            return _look_inside(obj, source, addr, unknown(f"{addr}[0]", obj[0]), options)
        traces: list[Trace] = []
        for item_addr, item in events:
            reader = _document_reader(item, options)
            if reader is None:
                traces += _look_inside(item, source, item_addr, _unknown(item_addr, item), options)
                continue
            traces.extend(reader(item, source, item_addr))
        return traces
    return _look_inside(obj, source, addr, _not_a_trace(addr, obj), options)


def _event_kind(obj: Any) -> str:
    if not isinstance(obj, dict):
        return "document"
    if "choices" in obj:
        return "chat" if _is_chunk(obj) else "completions" if _is_completions(obj) else "document"
    if openai_responses.is_response_event(obj):
        return "responses"
    if llamacpp.KEY in obj or ("stop" in obj and "content" in obj):
        return "llamacpp"
    if tgi.is_tgi_event(obj):
        return "tgi"
    if gemini.is_gemini_response(obj):
        return "gemini"
    if sglang.is_sglang(obj):
        return "sglang"
    if "done" in obj and ("response" in obj or "message" in obj):
        return "ollama"
    return "document"


_STREAM_READERS: dict[str, StreamReader] = {
    "chat": openai_chat.read_chat_stream,
    "completions": openai_completions.read_completions_stream,
    "responses": openai_responses.read_responses_stream,
    "llamacpp": llamacpp.read_llamacpp_stream,
    "tgi": tgi.read_tgi_stream,
    "ollama": ollama.read_ollama_stream,
    "gemini": gemini.read_gemini_stream,
}


def _is_stream(kind: str, events: Events, sse: bool) -> bool:
    """Whether same-kind values are chunks of one response rather than separate documents."""
    if not all(isinstance(obj, dict) for _, obj in events):
        return False  # a number or list among the values: separate documents, each judged alone
    if kind in ("chat", "responses", "tgi"):
        return True
    if kind == "llamacpp":
        return sse or llamacpp.is_llamacpp_stream(events)
    if kind == "ollama":
        return any(obj.get("done") is False for _, obj in events)
    if kind == "gemini":
        return (sse and len(events) > 1) or gemini.is_gemini_stream(events)
    if kind == "sglang":
        return sglang.is_sglang_stream(events)
    if kind == "completions":
        ids = {obj.get("id") for _, obj in events if isinstance(obj.get("id"), str | int)}
        return sse or (len(ids) <= 1 and len(events) > 1)
    return False


def _read_stream(
    events: Events, source: str, sse: bool, options: ReadOptions | None = None
) -> list[Trace] | None:
    """The traces of a stream, or None when the values are separate documents."""
    kinds = [_event_kind(obj) for _, obj in events]
    first = next((k for k in kinds if k != "document"), "document")
    if first == "document" or not _is_stream(first, events, sse):
        return None
    for (addr, obj), kind in zip(events, kinds, strict=True):
        if kind != first:
            raise fail(addr, f"not a {first} stream event like the ones before it: {describe(obj)}")
    if first == "sglang":
        return sglang.read_sglang_stream(events, source, options)
    return _STREAM_READERS[first](events, source)


def read_events(
    lines: Sequence[tuple[int, Any]],
    source: str,
    sse: bool = False,
    options: ReadOptions | None = None,
) -> list[Trace]:
    """The traces of a sequence of JSON values (SSE payloads or JSON lines, with line numbers)."""
    if not lines:
        raise TraceReadError("no JSON data in this file")
    events = [(f"line {line}: $", obj) for line, obj in lines]
    for addr, obj in events:
        if isinstance(obj, dict) and obj.get("error") is not None and len(obj) <= 3:
            raise fail(f"{addr}.error", f"the stream reports an error: {describe(obj['error'])}")
    streamed = _read_stream(events, source, sse, options)
    if streamed is not None:
        return streamed
    traces: list[Trace] = []
    for addr, obj in events:
        try:
            traces.extend(read_document(obj, source, addr, options))
        except NotATraceError as exc:  # one line of several: a broken file, not a non-trace
            raise TraceReadError(exc.message, path=exc.path, address=exc.address) from None
    return traces


def _numbered(traces: list[Trace], source: str) -> list[Trace]:
    """Give each trace its 0-based index within the file and the file as its source (a trace
    found inside a record keeps its JSON path after the file: ``history.json $[3].response``)."""
    return [
        dataclasses.replace(t, meta=dataclasses.replace(t.meta, index=i, source=_in(t, source)))
        for i, t in enumerate(traces)
    ]


def _in(trace: Trace, source: str) -> str:
    return trace.meta.source if trace.meta.source.startswith(source + " ") else source


def traces_from_object(obj: Any, source: str) -> list[Trace]:
    """The traces of an already-parsed JSON value (``Trace.from_openai`` and friends)."""
    try:
        return _numbered(read_document(obj, source), source)
    except TraceReadError as exc:
        raise exc.located(source) from None
    except RecursionError:
        raise TraceReadError("nested too deeply", path=source) from None


def table_rows(data: bytes, options: ReadOptions | None = None) -> int | None:
    """How many rows (traces) a rollout table holds, None for a file of another format."""
    if table_kind(data) is None and not is_rollout_jsonl(data, options):
        return None
    return rollouts.rows_in(data)


def read_bytes(
    data: bytes,
    source: str,
    options: ReadOptions | None = None,
    rows: tuple[int, int] | None = None,
) -> list[Trace]:
    """Every trace in a file's bytes, format detected from the content; with ``rows`` (start,
    stop), only the traces of those rows (numbered as in the whole file)."""
    try:
        if table_kind(data) is not None or is_rollout_jsonl(data, options):
            return rollouts.read_rollouts(data, source, options, rows)
        if data.startswith(npz.MAGIC):
            return _numbered(npz.read_npz(data, source), source)
        document = fast_document(data)
        if document is UNREAD:
            text = decode(data)
            del data  # hold only what is needed: a big file's bytes and text are freed once parsed
            if not text.strip():
                raise TraceReadError("empty file: no trace data")
            parsed = parse_text(text)
            del text
        else:
            del data
            parsed = Parsed(document=document)
        if parsed.events is None:
            traces = read_document(parsed.document, source, options=options)
        else:
            traces = read_events(parsed.events, source, parsed.sse, options)
        numbered = _numbered(traces, source)
        return numbered if rows is None else numbered[rows[0] : rows[1]]
    except TraceReadError as exc:
        raise exc.located(source) from None
    except RecursionError:
        raise TraceReadError("nested too deeply", path=source) from None
