"""Cohere v2 chat (``POST /v2/chat`` with ``logprobs: true``; cohere-python's ``V2ChatResponse``).

``logprobs`` is a list of text chunks, ``[{"text", "token_ids": [...], "logprobs": [...]}]``
(cohere-python ``types/logprob_item.py``): each chunk holds the ids and logprobs of the tokens
that spell its text, one chunk usually being one token. A chunk of several tokens (a character
spread over byte tokens) gives one position per token; its text goes to the last of them, the one
that completes it, and the earlier ones spell nothing (empty label and bytes), as tracesite
attributes a UTF-8 character to the token that completes it. No alternatives are returned.
The provider's text is the ``text`` items of ``message.content`` (``thinking`` items left out).
"""

from __future__ import annotations

from typing import Any

from tracesite.formats.builder import TraceBuilder
from tracesite.formats.common import (
    describe,
    expect_dict,
    expect_list,
    fail,
    optional_str,
    small_extra,
)
from tracesite.formats.entries import id_of, logprob_of
from tracesite.model.trace import Trace, TraceMeta

FORMAT_NAME = "cohere"


def _is_items(value: Any) -> bool:
    """A list of Cohere logprob items (``token_ids`` is the one required key)."""
    return (
        isinstance(value, list)
        and bool(value)
        and isinstance(value[0], dict)
        and "token_ids" in value[0]
        and "token" not in value[0]
    )


def is_cohere(obj: Any) -> bool:
    """A v2 chat response with logprobs, or its bare ``logprobs`` list."""
    if isinstance(obj, list):
        return _is_items(obj)
    return isinstance(obj, dict) and _is_items(obj.get("logprobs")) and "choices" not in obj


def _read_items(items: list[Any], addr: str, b: TraceBuilder) -> None:
    for i, raw in enumerate(items):
        iaddr = f"{addr}[{i}]"
        item = expect_dict(raw, iaddr)
        ids = expect_list(item.get("token_ids"), f"{iaddr}.token_ids")
        values = item.get("logprobs")
        if values is not None:
            values = expect_list(values, f"{iaddr}.logprobs")
            if len(values) != len(ids):
                raise fail(
                    f"{iaddr}.logprobs",
                    f"has {len(values)} entries but token_ids has {len(ids)}; they must pair up",
                )
        if not ids:
            raise fail(f"{iaddr}.token_ids", f"expected at least one token id, got {describe(ids)}")
        text = optional_str(item.get("text"), f"{iaddr}.text") or ""
        last = len(ids) - 1
        for j, tid in enumerate(ids):
            lp = None if values is None else logprob_of(values[j], f"{iaddr}.logprobs[{j}]")
            b.add(text if j == last else "", lp, None, id_of(tid, f"{iaddr}.token_ids[{j}]"))


def _message_text(message: Any, addr: str) -> str | None:
    """The joined ``text`` items of ``message.content`` (a string is taken as it is)."""
    if message is None:
        return None
    message = expect_dict(message, addr)
    content = message.get("content")
    if content is None or isinstance(content, str):
        return content
    parts = []
    for i, part in enumerate(expect_list(content, f"{addr}.content")):
        if isinstance(part, dict) and part.get("type", "text") == "text":
            parts.append(optional_str(part.get("text"), f"{addr}.content[{i}].text") or "")
    return "".join(parts)


def read_cohere(obj: Any, source: str, addr: str = "$") -> list[Trace]:
    """A Cohere v2 chat response with ``logprobs`` (or the bare list): one trace."""
    b = TraceBuilder()
    if isinstance(obj, list):
        _read_items(obj, addr, b)
        return [b.build(TraceMeta(source=source, format=FORMAT_NAME))]
    d = expect_dict(obj, addr)
    _read_items(expect_list(d.get("logprobs"), f"{addr}.logprobs"), f"{addr}.logprobs", b)
    text = _message_text(d.get("message"), f"{addr}.message")
    return [
        b.build(
            TraceMeta(
                source=source,
                format=FORMAT_NAME,
                model=optional_str(d.get("model"), f"{addr}.model") or None,
                finish_reason=optional_str(d.get("finish_reason"), f"{addr}.finish_reason"),
                provider_text=text,
                extra=small_extra(d, ("id", "usage")),
            )
        )
    ]
