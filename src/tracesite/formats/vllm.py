"""vLLM's ``prompt_logprobs``: the model's logprobs of the *prompt* tokens, beside a response.

Asked with ``prompt_logprobs: k`` (a vLLM extension), ``/v1/completions`` puts them in each
``choices[i].prompt_logprobs`` and ``/v1/chat/completions`` at the top level
(``vllm/entrypoints/openai/protocol.py``). Each is a list with one entry per prompt token: the
first ``null`` (the first token has no context), the others ``{token_id: {"logprob", "rank",
"decoded_token"}}``. Which entry is the prompt token itself: the id at the same index of
``prompt_token_ids`` when the response has them (``return_token_ids``); otherwise the first key,
where vLLM >= 0.8 puts it (``vllm/logprobs.py``, ``append_logprobs_for_next_position``: the prompt
token first, with its true rank, then the top k; older v1 engines appended it last, only when it
was outside the top k).

They are not generated positions, so they never enter the generated trace or its statistics:
each trace of the response keeps them as ``trace.prompt_trace`` (a trace of their own, format
``"vllm_prompt"``, which its page shows as a "Prompt (prompt_logprobs)" segment before the
generated text, and the native format saves as ``prompt_tokens``) and gets
``meta.extra["prompt_logprobs"]``, a small summary (counts, mean p, perplexity, the prompt's
text) for ``inspect``; :func:`prompt_traces` builds the prompt's positions alone.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from tracesite.formats.builder import TraceBuilder
from tracesite.formats.common import describe, expect_dict, expect_list, fail
from tracesite.formats.entries import id_of, logprob_of
from tracesite.model.trace import Trace, TraceMeta

PROMPT_FORMAT = "vllm_prompt"
#: Characters of the prompt's text kept in the summary.
SUMMARY_TEXT = 500


def _lists(obj: dict[str, Any], addr: str) -> list[tuple[str, Any, Any]]:
    """(address, prompt_logprobs, prompt_token_ids) of a response: top level, else per choice."""
    if obj.get("prompt_logprobs") is not None:
        return [(f"{addr}.prompt_logprobs", obj["prompt_logprobs"], obj.get("prompt_token_ids"))]
    found = []
    choices = obj.get("choices")
    for ci, choice in enumerate(choices if isinstance(choices, list) else []):
        if isinstance(choice, dict) and choice.get("prompt_logprobs") is not None:
            caddr = f"{addr}.choices[{ci}]"
            found.append(
                (
                    f"{caddr}.prompt_logprobs",
                    choice["prompt_logprobs"],
                    choice.get("prompt_token_ids"),
                )
            )
    return found


def has_prompt_logprobs(obj: Any) -> bool:
    """Whether a chat or completions response carries vLLM prompt logprobs."""
    return isinstance(obj, dict) and bool(_lists(obj, "$"))


def _label(entry: dict[str, Any], token_id: int, addr: str) -> str:
    decoded = entry.get("decoded_token")
    if decoded is None:
        return f"token_id:{token_id}"  # vLLM without detokenisation, as return_tokens_as_token_ids
    if type(decoded) is not str:
        raise fail(f"{addr}.decoded_token", f"expected a string, got {describe(decoded)}")
    return decoded


def _token_id(key: Any, addr: str) -> int:
    if isinstance(key, str) and key.isdigit():
        return int(key)
    return id_of(key, addr)  # raises for anything but an integer >= 0


def read_prompt_logprobs(plp: Any, addr: str, ids: Any, meta: TraceMeta) -> Trace:
    """The prompt's positions: per token its logprob, and the listed entries as alternatives."""
    entries = expect_list(plp, addr)
    known_ids = ids if isinstance(ids, list) and len(ids) == len(entries) else None
    b = TraceBuilder()
    for i, raw in enumerate(entries):
        paddr = f"{addr}[{i}]"
        want = known_ids[i] if known_ids is not None and type(known_ids[i]) is int else None
        if raw is None:  # the first prompt token: no logprob
            b.add(
                "" if want is None else f"token_id:{want}", None, None, -1 if want is None else want
            )
            continue
        listed = expect_dict(raw, paddr)
        alts = []
        for key, value in listed.items():
            eaddr = f"{paddr}[{json.dumps(key)}]"
            tid = _token_id(key, eaddr)
            entry = expect_dict(value, eaddr)
            lp = logprob_of(entry.get("logprob"), f"{eaddr}.logprob")
            alts.append((_label(entry, tid, eaddr), lp, tid, entry.get("rank")))
        if not alts:
            raise fail(paddr, "expected the prompt token's entry, got an empty object")
        chosen = next((a for a in alts if a[2] == want), alts[0]) if want is not None else alts[0]
        pos = b.add(chosen[0], chosen[1], None, chosen[2])
        # The prompt token is listed even when it is outside the top k: when its true rank is
        # past the entries listed, it is not one of the alternatives (its rank is "outside", as
        # for a generated token); within them, the entries are the true top ones, it among them.
        outside = type(chosen[3]) is int and chosen[3] > len(alts)
        for a in alts:
            if not (outside and a is chosen):
                b.alt(pos, a[0], a[1], None, a[2])
    return b.build(meta)


def summary(prompt: Trace, by_ids: bool) -> dict[str, Any]:
    """What ``extra["prompt_logprobs"]`` holds: small, JSON-safe, no token lists."""
    stats = prompt.stats.as_dict()
    text = stats.pop("text")
    return {
        **{k: v for k, v in stats.items() if k != "n_outside_top_k"},
        "text": text[:SUMMARY_TEXT],
        "prompt_token": "prompt_token_ids" if by_ids else "first listed entry",
    }


def prompt_traces(obj: Any, source: str, addr: str = "$") -> list[Trace]:
    """The prompt positions of a vLLM response as traces (one per ``prompt_logprobs`` list)."""
    d = expect_dict(obj, addr)
    traces = []
    for paddr, plp, ids in _lists(d, addr):
        meta = TraceMeta(source=source, format=PROMPT_FORMAT, extra={"part": "prompt"})
        traces.append(read_prompt_logprobs(plp, paddr, ids, meta))
    return traces


def with_prompt_summary(traces: list[Trace], obj: dict[str, Any], addr: str) -> list[Trace]:
    """``traces`` of the response, each with the summary of its prompt's logprobs in ``extra``.

    Completions give each choice the same prompt (and so the same list); the first is read.
    """
    lists = _lists(obj, addr)
    if not lists or not traces:
        return traces
    paddr, plp, ids = lists[0]
    source = traces[0].meta.source
    prompt = read_prompt_logprobs(plp, paddr, ids, TraceMeta(source=source, format=PROMPT_FORMAT))
    by_ids = isinstance(ids, list) and len(ids) == len(plp)
    info = summary(prompt, by_ids)
    return [
        replace(
            t,
            meta=replace(t.meta, extra={**t.meta.extra, "prompt_logprobs": info}),
            prompt_trace=prompt,
        )
        for t in traces
    ]
