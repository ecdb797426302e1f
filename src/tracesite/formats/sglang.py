"""SGLang's native ``/generate`` responses with ``return_logprob`` (one, a batch list, or a saved
stream).

The shape, as SGLang's ``TokenizerManager`` builds it (``python/sglang/srt/managers/
tokenizer_manager.py``, ``_handle_batch_output`` and ``detokenize_logprob_tokens``)::

    {"text": "...", "output_ids": [...],
     "meta_info": {"id": "...", "finish_reason": {"type": "stop", "matched": 151645},
                   "prompt_tokens": 12, "completion_tokens": 40, "cached_tokens": 0,
                   "output_token_logprobs": [[logprob, token_id, token_text], ...],
                   "output_top_logprobs": [[[logprob, token_id, token_text], ...], ...]}}

``token_text`` is ``null`` unless the request set ``return_text_in_logprobs``; it comes from
decoding each id alone (``tokenizer.batch_decode``), which loses a SentencePiece token's leading
space and turns half a UTF-8 character into U+FFFD. With a local tokenizer configured
(``[rollouts] tokenizer``) the ids are decoded to their real bytes instead; without one, token
texts are lined up against ``text`` to put lost leading spaces back. A position without top
logprobs has ``null`` in ``output_top_logprobs``. Some versions clamp a logprob of -inf to
-999999999.0, which tracesite reads as unknown (a sentinel). Streams send every chunk with the
whole list so far, or (``--incremental-streaming-output``) only the new tokens: both are read.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from tracesite.core.options import ReadOptions
from tracesite.formats.builder import TraceBuilder
from tracesite.formats.common import (
    Events,
    describe,
    expect_dict,
    expect_list,
    fail,
    looks_special,
    small_extra,
)
from tracesite.formats.entries import id_of, logprob_of
from tracesite.formats.token_ids import NO_TOKENIZER, IdDecoder, id_label, load_decoder
from tracesite.model.trace import Trace, TraceMeta

FORMAT_NAME = "sglang"
STREAM_FORMAT = "sglang_stream"
_EXTRA = ("id", "prompt_tokens", "completion_tokens", "cached_tokens", "weight_version")


def is_sglang(obj: Any) -> bool:
    """A ``/generate`` response (or stream chunk) carrying output logprobs."""
    if not isinstance(obj, dict):
        return False
    meta = obj.get("meta_info")
    return isinstance(meta, dict) and isinstance(meta.get("output_token_logprobs"), list)


def _triple(entry: Any, addr: str) -> tuple[float | None, int, str | None]:
    """``[logprob, token_id, token_text | null]``."""
    if type(entry) is not list or len(entry) not in (2, 3):
        raise fail(addr, f"expected [logprob, token_id, text], got {describe(entry)}")
    text = entry[2] if len(entry) == 3 else None
    if text is not None and type(text) is not str:
        raise fail(f"{addr}[2]", f"expected a string or null, got {describe(text)}")
    return logprob_of(entry[0], f"{addr}[0]"), id_of(entry[1], f"{addr}[1]"), text


def _piece(text: str | None, tid: int, decoder: IdDecoder | None) -> tuple[str, bytes | None]:
    if decoder is not None and tid >= 0:
        label, raw, _ = decoder.piece(tid)
        return label, raw
    if text is not None:
        return text, None
    return id_label(tid), None


def _respace(labels: list[str], text: str) -> list[str] | None:
    """Token texts with the leading spaces decoding each token alone dropped put back, when
    lining them up against the response's text shows where; None when they do not line up."""
    out, at = [], 0
    for label in labels:
        if text.startswith(label, at):
            at += len(label)
        elif label and text.startswith(" " + label, at):
            label = " " + label
            at += len(label)
        elif not looks_special(label):
            return None
        out.append(label)
    return out if at == len(text) else None


def _finish(meta: dict[str, Any], addr: str) -> tuple[str | None, dict[str, Any]]:
    """The finish reason's type ("stop", "length", "abort") and what it matched."""
    reason = meta.get("finish_reason")
    if reason is None or isinstance(reason, str):
        return reason, {}
    fr = expect_dict(reason, f"{addr}.meta_info.finish_reason")
    kind = fr.get("type")
    extra = small_extra(fr, ("matched", "length"))
    return (kind if isinstance(kind, str) else None), ({f"finish_{k}": v for k, v in extra.items()})


def _decoder(options: ReadOptions | None) -> IdDecoder | None:
    if options is None or not options.tokenizer_path:
        return None
    return load_decoder(options.tokenizer_path, options.tokenizer_digest, options.tokenizer)


def _trace(
    obj: dict[str, Any], addr: str, source: str, options: ReadOptions | None, fmt: str
) -> Trace:
    meta = expect_dict(obj.get("meta_info"), f"{addr}.meta_info")
    entries_addr = f"{addr}.meta_info.output_token_logprobs"
    entries = expect_list(meta.get("output_token_logprobs"), entries_addr)
    tops = meta.get("output_top_logprobs")
    tops_addr = f"{addr}.meta_info.output_top_logprobs"
    if tops is not None:
        tops = expect_list(tops, tops_addr)
    decoder = _decoder(options)
    text = obj.get("text") if isinstance(obj.get("text"), str) else None
    read = [_triple(e, f"{entries_addr}[{i}]") for i, e in enumerate(entries)]
    pieces = [_piece(t, tid, decoder) for _, tid, t in read]
    labels = [label for label, _ in pieces]
    if decoder is None and text is not None and "".join(labels) != text:
        labels = _respace(labels, text) or labels
    b = TraceBuilder()
    for i, ((lp, tid, _), (_, raw), label) in enumerate(zip(read, pieces, labels, strict=True)):
        special = decoder is not None and tid >= 0 and decoder.piece(tid)[2]
        pos = b.add(label, lp, raw, tid, special)
        top = tops[i] if tops is not None and i < len(tops) else None
        if top is None:
            continue
        for j, alt in enumerate(expect_list(top, f"{tops_addr}[{i}]")):
            alp, aid, atext = _triple(alt, f"{tops_addr}[{i}][{j}]")
            alabel, araw = _piece(atext, aid, decoder)
            b.alt(pos, alabel, alp, araw, aid)
    if decoder is None:
        b.mark_specials(text)
    reason, finish_extra = _finish(meta, addr)
    provenance: dict[str, Any] = {"engine": "sglang"}
    if decoder is not None:
        provenance["tokenizer"] = decoder.name
    elif read and all(t is None for _, _, t in read):
        provenance["tokenizer"] = NO_TOKENIZER
    return b.build(
        TraceMeta(
            source=source,
            format=fmt,
            finish_reason=reason,
            provider_text=text,
            extra={**small_extra(meta, _EXTRA), **finish_extra},
            provenance=provenance,
        )
    )


def read_sglang_response(
    obj: dict[str, Any], source: str, addr: str = "$", options: ReadOptions | None = None
) -> list[Trace]:
    """One ``/generate`` response."""
    return [_trace(obj, addr, source, options, FORMAT_NAME)]


def is_sglang_stream(events: Events) -> bool:
    """Chunks of one request (one ``meta_info.id``), not a batch of separate responses."""
    ids = {
        obj["meta_info"].get("id")
        for _, obj in events
        if isinstance(obj, dict) and isinstance(obj.get("meta_info"), dict)
    }
    return len(events) > 1 and len(ids) == 1


def _cumulative(lists: list[list[Any]]) -> bool:
    """Whether each chunk repeats the tokens before it (SGLang's default) rather than only
    adding new ones (``--incremental-streaming-output``)."""
    for prev, cur in pairwise(lists):
        if len(cur) < len(prev) or (prev and cur[len(prev) - 1] != prev[-1]):
            return False
    return True


def read_sglang_stream(
    events: Events, source: str, options: ReadOptions | None = None
) -> list[Trace]:
    """A saved ``/generate`` stream (``"stream": true``): one trace."""
    chunks = [(addr, expect_dict(obj, addr)) for addr, obj in events]
    metas = [expect_dict(c.get("meta_info"), f"{a}.meta_info") for a, c in chunks]
    lists = [
        expect_list(m.get("output_token_logprobs"), f"{a}.meta_info.output_token_logprobs")
        for (a, _), m in zip(chunks, metas, strict=True)
    ]
    last_addr, last = chunks[-1]
    if _cumulative(lists):
        texts = [c["text"] for _, c in chunks if isinstance(c.get("text"), str)]
        merged = {**last, "text": texts[-1] if texts else None}
    else:
        tops: list[Any] = []
        for m, entries in zip(metas, lists, strict=True):
            got = m.get("output_top_logprobs")
            tops += got if isinstance(got, list) else [None] * len(entries)
        text = "".join(c["text"] for _, c in chunks if isinstance(c.get("text"), str))
        meta = {
            **metas[-1],
            "output_token_logprobs": [e for entries in lists for e in entries],
            "output_top_logprobs": tops,
        }
        merged = {**last, "text": text, "meta_info": meta}
    return [_trace(merged, last_addr, source, options, STREAM_FORMAT)]
