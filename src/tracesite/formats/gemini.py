"""Google Gemini / Vertex AI: ``candidates[i].logprobsResult.{chosenCandidates, topCandidates}``.

``chosenCandidates[i]`` pairs with ``topCandidates[i]`` (the lists must be the same length);
``topCandidates`` is absent without ``logprobs: k`` (quirk 4); padding alternatives carry the
sentinel ``-1.2676506e30`` with junk tokens (quirk 2). Keys are camelCase on the wire and
snake_case in the google-genai SDK's ``model_dump()``; both are read. The JSON follows proto3's
mapping, where a zero value may be left out, so a missing ``logProbability`` is 0 (p = 1).
``avgLogprobs`` is kept in ``extra`` but never used: for thinking models it also averages the
hidden thought tokens (quirk 17).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tracesite.formats.builder import TraceBuilder
from tracesite.formats.common import (
    describe,
    expect_dict,
    expect_list,
    fail,
    json_safe,
    optional_str,
)
from tracesite.formats.entries import id_of, logprob_of
from tracesite.model.trace import Trace, TraceMeta

FORMAT_NAME = "gemini"
STREAM_FORMAT = "gemini_stream"

_KEYS = {
    "logprobsResult": "logprobs_result",
    "chosenCandidates": "chosen_candidates",
    "topCandidates": "top_candidates",
    "logProbability": "log_probability",
    "tokenId": "token_id",
    "finishReason": "finish_reason",
    "modelVersion": "model_version",
    "createTime": "create_time",
    "responseId": "response_id",
    "avgLogprobs": "avg_logprobs",
    "usageMetadata": "usage_metadata",
}


def key_of(d: dict[str, Any], camel: str) -> str:
    """The spelling of ``camel`` that ``d`` uses (camelCase wire JSON or snake_case SDK dump)."""
    snake = _KEYS.get(camel, camel)
    return snake if snake in d and camel not in d else camel


def get(d: dict[str, Any], camel: str) -> Any:
    return d.get(key_of(d, camel))


def is_logprobs_result(obj: Any) -> bool:
    return isinstance(obj, dict) and any(
        k in obj
        for k in ("chosenCandidates", "chosen_candidates", "topCandidates", "top_candidates")
    )


def is_gemini_response(obj: Any) -> bool:
    return isinstance(obj, dict) and isinstance(obj.get("candidates"), list)


def _candidate(c: Any, addr: str) -> tuple[str, float | None, int]:
    if type(c) is not dict:
        raise fail(addr, f"expected an object, got {describe(c)}")
    token = c.get("token", "")
    if type(token) is not str:
        raise fail(f"{addr}.token", f"expected a string, got {describe(token)}")
    k = key_of(c, "logProbability")
    lp = logprob_of(c[k], f"{addr}.{k}") if k in c else 0.0
    k = key_of(c, "tokenId")
    return token, lp, id_of(c.get(k), f"{addr}.{k}")


def read_logprobs_result(
    lr: dict[str, Any], addr: str, b: TraceBuilder | None = None
) -> TraceBuilder:
    """The positions of one ``logprobsResult`` object (appended to ``b`` when given)."""
    ck, tk = key_of(lr, "chosenCandidates"), key_of(lr, "topCandidates")
    chosen = expect_list(lr.get(ck), f"{addr}.{ck}")
    tops = lr.get(tk)
    if tops is not None:
        tops = expect_list(tops, f"{addr}.{tk}")
        if len(tops) != len(chosen):
            raise fail(
                f"{addr}.{tk}",
                f"has {len(tops)} entries but {ck} has {len(chosen)}; they must pair up",
            )
    b = TraceBuilder() if b is None else b
    for i, c in enumerate(chosen):
        token, lp, tid = _candidate(c, f"{addr}.{ck}[{i}]")
        pos = b.add(token, lp, None, tid)
        if tops is None:
            continue
        entry = tops[i]
        eaddr = f"{addr}.{tk}[{i}]"
        if type(entry) is not dict:
            raise fail(eaddr, f"expected an object, got {describe(entry)}")
        alts = entry.get("candidates")
        for j, a in enumerate(expect_list(alts, f"{eaddr}.candidates") if alts is not None else []):
            atoken, alp, aid = _candidate(a, f"{eaddr}.candidates[{j}]")
            b.alt(pos, atoken, alp, None, aid)
    return b


def _text(candidate: dict[str, Any], addr: str) -> str | None:
    """The candidate's visible text: its parts' text, thought summaries left out."""
    content = candidate.get("content")
    if not isinstance(content, dict) or not isinstance(content.get("parts"), list):
        return None
    texts = []
    for i, part in enumerate(content["parts"]):
        if isinstance(part, dict) and part.get("text") is not None and not part.get("thought"):
            texts.append(optional_str(part["text"], f"{addr}.content.parts[{i}].text") or "")
    return "".join(texts) if texts else None


def _response_meta(d: dict[str, Any], addr: str) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    for camel in ("responseId", "usageMetadata"):
        value = get(d, camel)
        if isinstance(value, str) or (isinstance(value, dict) and json_safe(value)):
            extra[camel] = value  # NaN or huge nesting in usage never reaches the cache
    return {
        "model": optional_str(get(d, "modelVersion"), f"{addr}.{key_of(d, 'modelVersion')}"),
        "created": optional_str(get(d, "createTime"), f"{addr}.{key_of(d, 'createTime')}"),
        "extra": extra,
    }


def _candidate_meta(c: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    extra = dict(meta["extra"])
    avg = get(c, "avgLogprobs")
    if isinstance(avg, int | float) and not isinstance(avg, bool) and abs(avg) < 1e300:
        extra["avgLogprobs"] = avg
    reason = get(c, "finishReason")
    return {**meta, "extra": extra, "finish_reason": reason if isinstance(reason, str) else None}


def read_gemini_response(d: dict[str, Any], source: str, addr: str = "$") -> list[Trace]:
    """Every candidate with a ``logprobsResult`` of a ``generateContent`` response."""
    meta = _response_meta(d, addr)
    traces = []
    for ci, raw in enumerate(expect_list(d.get("candidates"), f"{addr}.candidates")):
        caddr = f"{addr}.candidates[{ci}]"
        c = expect_dict(raw, caddr)
        lk = key_of(c, "logprobsResult")
        if c.get(lk) is None:
            continue
        b = read_logprobs_result(expect_dict(c[lk], f"{caddr}.{lk}"), f"{caddr}.{lk}")
        cmeta = _candidate_meta(c, meta)
        traces.append(
            b.build(
                TraceMeta(source=source, format=FORMAT_NAME, provider_text=_text(c, caddr), **cmeta)
            )
        )
    if not traces:
        raise fail(f"{addr}.candidates", _NO_LOGPROBS)
    return traces


_NO_LOGPROBS = "no candidate has a logprobsResult (request responseLogprobs: true, logprobs: k)"


def is_gemini_stream(events: Sequence[tuple[str, Any]]) -> bool:
    """Several responses are chunks of one ``streamGenerateContent`` when they share a
    ``responseId`` (separate responses each have their own)."""
    if not all(isinstance(obj, dict) for _, obj in events):
        return False
    ids = {get(obj, "responseId") for _, obj in events}
    return len(events) > 1 and len(ids) == 1 and isinstance(next(iter(ids)), str)


def read_gemini_stream(events: Sequence[tuple[str, Any]], source: str) -> list[Trace]:
    """Saved ``streamGenerateContent`` chunks: each candidate's positions and text concatenated."""
    builders: dict[int, TraceBuilder] = {}
    texts: dict[int, list[str]] = {}
    metas: dict[int, dict[str, Any]] = {}
    meta: dict[str, Any] = {}
    for addr, obj in events:
        d = expect_dict(obj, addr)
        meta = _response_meta(d, addr)
        for ci, raw in enumerate(expect_list(d.get("candidates"), f"{addr}.candidates")):
            caddr = f"{addr}.candidates[{ci}]"
            c = expect_dict(raw, caddr)
            index = c.get("index", ci)
            index = index if type(index) is int else ci
            b = builders.setdefault(index, TraceBuilder())
            texts.setdefault(index, [])
            lk = key_of(c, "logprobsResult")
            if c.get(lk) is not None:
                read_logprobs_result(expect_dict(c[lk], f"{caddr}.{lk}"), f"{caddr}.{lk}", b)
            piece = _text(c, caddr)
            if piece is not None:
                texts[index].append(piece)
            metas[index] = _candidate_meta(c, meta)
    traces = []
    for index, b in builders.items():
        text = "".join(texts[index]) if texts[index] else None
        # usage and the like arrive with the last chunk; keep the latest of the response's
        extra = {**metas[index]["extra"], **meta.get("extra", {})}
        extra.pop("avgLogprobs", None)  # a per-chunk average, not the response's
        cmeta = {**metas[index], "extra": extra}
        traces.append(
            b.build(TraceMeta(source=source, format=STREAM_FORMAT, provider_text=text, **cmeta))
        )
    if not any(len(t) for t in traces):
        raise fail("$", _NO_LOGPROBS)
    return traces


def read_bare_logprobs_result(d: dict[str, Any], source: str, addr: str = "$") -> list[Trace]:
    """A saved ``logprobsResult`` object on its own (no response around it)."""
    return [read_logprobs_result(d, addr).build(TraceMeta(source=source, format=FORMAT_NAME))]
