"""llama.cpp server ``/completion`` (and ik_llama.cpp): ``completion_probabilities[]``.

Three entry forms occur:

- new (b4000+): ``{id, token, bytes, logprob, top_logprobs: [{id, token, bytes, logprob}]}``;
- new with ``post_sampling_probs``: ``{id, token, bytes, prob, top_probs: [...]}`` (linear);
- old: ``{content, probs: [{tok_str, prob}]}``, linear ``prob`` where 0 and 1 occur (quirk 9),
  single bytes written ``"byte: \\x89"`` (quirk 7).

Streamed, each event carries the entries of its own tokens and its text in ``content``. When a
character spans tokens the new form merges the buffered bytes into the chosen entry (``" щ"``,
id 231) while the alternatives stay single bytes, so the model matches them by id (quirk 8). The
old form's event ``content`` can differ from its entry (``" щ"`` or ``"�"`` vs ``"byte: \\x89"``):
the entry is the token; the events' text is kept as the provider's text.
"""

from __future__ import annotations

from typing import Any

from tracesite.formats.builder import TraceBuilder
from tracesite.formats.common import (
    Events,
    describe,
    escaped_bytes,
    expect_dict,
    expect_list,
    expect_prob,
    fail,
    optional_str,
)
from tracesite.formats.entries import read_entries
from tracesite.model.trace import Trace, TraceMeta

FORMAT_NAME = "llamacpp"
KEY = "completion_probabilities"


def is_llamacpp(obj: Any) -> bool:
    return isinstance(obj, dict) and KEY in obj and "choices" not in obj


def _old_token(label: Any, addr: str) -> tuple[str, bytes | None]:
    if type(label) is not str:
        raise fail(addr, f"expected a string, got {describe(label)}")
    return label, escaped_bytes(label, "byte: ")


def _read_old(entries: list[Any], addr: str, b: TraceBuilder) -> None:
    for i, e in enumerate(entries):
        eaddr = f"{addr}[{i}]"
        if type(e) is not dict:
            raise fail(eaddr, f"expected an object, got {describe(e)}")
        label, raw = _old_token(e.get("content"), f"{eaddr}.content")
        probs = e.get("probs")
        probs = expect_list(probs, f"{eaddr}.probs") if probs is not None else []
        alts = []
        chosen_lp = None
        for j, a in enumerate(probs):
            aaddr = f"{eaddr}.probs[{j}]"
            if type(a) is not dict:
                raise fail(aaddr, f"expected an object, got {describe(a)}")
            alabel, araw = _old_token(a.get("tok_str"), f"{aaddr}.tok_str")
            alp = expect_prob(a.get("prob"), f"{aaddr}.prob")
            alts.append((alabel, alp, araw))
            if chosen_lp is None and alabel == label:
                chosen_lp = alp  # the old form gives no probability for the chosen token itself
        pos = b.add(label, chosen_lp, raw)
        for alabel, alp, araw in alts:
            b.alt(pos, alabel, alp, araw)


def read_probabilities(entries: Any, addr: str, b: TraceBuilder) -> None:
    """Append one ``completion_probabilities`` list, whichever form it is in."""
    entries = expect_list(entries, addr)
    if not entries:
        return
    first = entries[0]
    if (
        isinstance(first, dict)
        and "token" not in first
        and ("probs" in first or "content" in first)
    ):
        _read_old(entries, addr, b)
    elif isinstance(first, dict) and "prob" in first and "logprob" not in first:
        read_entries(entries, addr, b, linear=True)
    else:
        read_entries(entries, addr, b)


def _finish_reason(d: dict[str, Any]) -> str | None:
    stop_type = d.get("stop_type")
    if isinstance(stop_type, str):
        return stop_type
    for flag, name in (
        ("stopped_eos", "eos"),
        ("stopped_word", "word"),
        ("stopped_limit", "limit"),
    ):
        if d.get(flag) is True:
            return name
    return None


def _meta(d: dict[str, Any], addr: str, source: str, text: str | None) -> TraceMeta:
    prompt = d.get("prompt")
    extra = {k: d[k] for k in ("tokens_predicted", "tokens_evaluated") if type(d.get(k)) is int}
    return TraceMeta(
        source=source,
        format=FORMAT_NAME,
        model=optional_str(d.get("model"), f"{addr}.model") or None,
        prompt=prompt if isinstance(prompt, str) else None,
        finish_reason=_finish_reason(d),
        provider_text=text,
        extra=extra,
    )


def read_llamacpp_response(d: dict[str, Any], source: str, addr: str = "$") -> list[Trace]:
    """A non-streamed ``/completion`` response (or a single saved stream event)."""
    b = TraceBuilder()
    read_probabilities(d.get(KEY), f"{addr}.{KEY}", b)
    text = optional_str(d.get("content"), f"{addr}.content")
    b.mark_specials(text)
    return [b.build(_meta(d, addr, source, text))]


def is_llamacpp_stream(events: Events) -> bool:
    """Several llama.cpp events form a stream when any says ``stop: false``."""
    return any(isinstance(obj, dict) and obj.get("stop") is False for _, obj in events)


def read_llamacpp_stream(events: Events, source: str) -> list[Trace]:
    """A saved ``stream: true`` response, one trace per ``index`` (several prompts)."""
    lists: dict[int, list[tuple[str, Any]]] = {}
    texts: dict[int, list[str]] = {}
    final: dict[int, tuple[str, dict[str, Any]]] = {}
    for addr, obj in events:
        d = expect_dict(obj, addr)
        index = d.get("index", 0)
        index = index if type(index) is int else 0
        lists.setdefault(index, [])
        texts.setdefault(index, [])
        if d.get(KEY) is not None:
            lists[index].append((f"{addr}.{KEY}", d[KEY]))
        piece = d.get("content")
        if piece is not None:
            texts[index].append(optional_str(piece, f"{addr}.content") or "")
        final[index] = (addr, d)
    traces = []
    for index, parts in lists.items():
        last_addr, last = final[index]
        # Older servers repeat every token's probabilities in the final (stop) event: read
        # that list alone rather than counting each token twice.
        if last.get("stop") is True and len(parts) > 1 and parts[-1][0].startswith(last_addr):
            earlier = sum(len(p) if isinstance(p, list) else 0 for _, p in parts[:-1])
            final_list = parts[-1][1]
            if isinstance(final_list, list) and len(final_list) >= earlier > 0:
                parts = parts[-1:]
        b = TraceBuilder()
        for addr, entries in parts:
            read_probabilities(entries, addr, b)
        text = "".join(texts[index]) if texts[index] else None
        b.mark_specials(text)
        traces.append(b.build(_meta(last, last_addr, source, text)))
    return traces
