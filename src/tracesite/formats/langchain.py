"""LangChain messages and generations that carry a provider's logprobs.

``langchain_openai`` copies each choice's ``logprobs`` into the message's
``response_metadata["logprobs"]`` (and into ``generation_info["logprobs"]`` of the generation);
the object is the provider's own (Chat Completions ``{"content": [...], "refusal": null}``, or the
legacy ``{tokens, token_logprobs, top_logprobs}`` of the completions LLM). A saved message comes
in any of these envelopes:

- ``langchain_core.load.dumpd``/``dumps`` and LangChain.js ``JSON.stringify``:
  ``{"lc": 1, "type": "constructor", "id": [..., "AIMessage"], "kwargs": {...}}`` (Python's id
  is ``["langchain", "schema", "messages", ...]``, JS's ``["langchain_core", "messages", ...]``);
- ``messages_to_dict`` (chat histories): ``{"type": "ai", "data": {...}}``;
- ``message.model_dump()``: the fields themselves, ``{"content", "response_metadata", "type"}``;
- a ``Generation``/``ChatGeneration``: ``{"text", "generation_info": {"logprobs"...}}``
  (``generationInfo`` in LangChain.js ``LLMResult`` dumps).

The message's ``content`` (a string, or content blocks whose ``text`` parts are joined) is the
provider's text. A bare ``response_metadata`` dict needs no reader of its own: the search inside
records (``wrapped.py``) finds its ``logprobs`` object and takes ``model_name``, ``finish_reason``
and ``id`` beside it as metadata.
"""

from __future__ import annotations

from typing import Any

from tracesite.formats.builder import TraceBuilder
from tracesite.formats.common import describe, expect_dict, fail, optional_str, small_extra
from tracesite.formats.entries import read_entries
from tracesite.formats.openai_chat import read_chat_logprobs
from tracesite.formats.openai_completions import read_legacy_logprobs
from tracesite.model.trace import Trace, TraceMeta

FORMAT_NAME = "langchain"

#: ``response_metadata`` keys kept in ``TraceMeta.extra`` (Python and JS spellings).
METADATA_EXTRA = ("id", "system_fingerprint", "service_tier", "model_provider")
_USAGE = ("token_usage", "tokenUsage", "usage")
_AI_TYPES = ("ai", "AIMessage", "AIMessageChunk")


def _fields(obj: dict[str, Any]) -> tuple[dict[str, Any], str] | None:
    """The message fields of one of the envelopes, with the address suffix they sit at."""
    if obj.get("lc") == 1 and obj.get("type") == "constructor":
        ident, kwargs = obj.get("id"), obj.get("kwargs")
        ai = (
            isinstance(ident, list) and bool(ident) and ident[-1] in ("AIMessage", "AIMessageChunk")
        )
        return (kwargs, ".kwargs") if ai and isinstance(kwargs, dict) else None
    if obj.get("type") in _AI_TYPES and isinstance(obj.get("data"), dict):
        return obj["data"], ".data"
    if obj.get("type") in _AI_TYPES and "content" in obj:
        return obj, ""
    return None


def _info(obj: dict[str, Any]) -> tuple[dict[str, Any], str] | None:
    """A generation's ``generation_info`` (or JS ``generationInfo``) and its key."""
    for key in ("generation_info", "generationInfo"):
        info = obj.get(key)
        if isinstance(info, dict) and info.get("logprobs") is not None and "text" in obj:
            return info, key
    return None


def is_langchain(obj: Any) -> bool:
    """A saved LangChain AI message or generation whose metadata holds logprobs."""
    if not isinstance(obj, dict):
        return False
    if _info(obj) is not None:
        return True
    found = _fields(obj)
    if found is None:
        return False
    metadata = found[0].get("response_metadata")
    return isinstance(metadata, dict) and metadata.get("logprobs") is not None


def content_text(content: Any, addr: str) -> str | None:
    """A message's text: the string, or the ``text`` of its text blocks (and bare strings)."""
    if content is None or isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise fail(addr, f"expected a string or a list of content blocks, got {describe(content)}")
    parts = []
    for i, block in enumerate(content):
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, dict) and block.get("type") == "text":
            parts.append(optional_str(block.get("text"), f"{addr}[{i}].text") or "")
    return "".join(parts)


def _read_logprobs(lp: Any, addr: str, text: str | None, meta: dict[str, Any]) -> list[Trace]:
    """The provider's logprobs object, whichever shape it has."""
    if isinstance(lp, list):
        b = TraceBuilder()
        read_entries(lp, addr, b)
        b.mark_specials(text)
        return [b.build(TraceMeta(**meta, provider_text=text))]
    lp = expect_dict(lp, addr)
    if "tokens" in lp:  # the completions LLM's legacy object
        b = TraceBuilder()
        read_legacy_logprobs(lp, addr, b)
        b.mark_specials(text)
        return [b.build(TraceMeta(**meta, provider_text=text))]
    traces = read_chat_logprobs(lp, addr, {"content": text}, meta, FORMAT_NAME)
    if not traces:
        raise fail(f"{addr}.content", "no token list (content is null and there is no refusal)")
    return traces


def _metadata(md: dict[str, Any], addr: str) -> dict[str, Any]:
    extra = small_extra(md, METADATA_EXTRA)
    usage = next((md[k] for k in _USAGE if isinstance(md.get(k), dict)), None)
    if usage is not None:
        extra.update(small_extra({"usage": usage}, ("usage",)))
    model = md.get("model_name") or md.get("model")
    reason = md.get("finish_reason")
    return {
        "model": model if isinstance(model, str) else None,
        "finish_reason": reason if isinstance(reason, str) else None,
        "extra": extra,
    }


def read_langchain(obj: Any, source: str, addr: str = "$") -> list[Trace]:
    """The traces of a saved LangChain AI message or generation (see the module docstring)."""
    d = expect_dict(obj, addr)
    found = _info(d)
    if found is not None:
        info, key = found
        text = optional_str(d.get("text"), f"{addr}.text")
        meta = {"source": source, "format": FORMAT_NAME, **_metadata(info, f"{addr}.{key}")}
        return _read_logprobs(info["logprobs"], f"{addr}.{key}.logprobs", text, meta)
    fields = _fields(d)
    if fields is None:
        raise fail(addr, "not a LangChain AI message")
    message, at = fields
    maddr = f"{addr}{at}"
    md = expect_dict(message.get("response_metadata"), f"{maddr}.response_metadata")
    meta = {"source": source, "format": FORMAT_NAME, **_metadata(md, f"{maddr}.response_metadata")}
    usage = message.get("usage_metadata")
    if "usage" not in meta["extra"] and isinstance(usage, dict):
        meta["extra"].update(small_extra({"usage": usage}, ("usage",)))
    if isinstance(message.get("id"), str):
        meta["extra"]["message_id"] = message["id"]
    text = content_text(message.get("content"), f"{maddr}.content")
    return _read_logprobs(md["logprobs"], f"{maddr}.response_metadata.logprobs", text, meta)
