"""Hugging Face TGI ``/generate`` with ``details: true`` (and its SSE stream, ``/generate_stream``).

Generated positions are ``details.tokens[]`` (``id``, ``text``, ``logprob``, ``special``);
``details.top_tokens`` (null unless ``top_n_tokens`` was asked) holds their alternatives;
``details.prefill`` is the *prompt* (first logprob null, quirk 18), never generated positions.
``best_of_sequences`` are further traces. ``generated_text`` leaves special tokens out and, with
``return_full_text``, starts with the prompt: the provider text kept is the generated part.
"""

from __future__ import annotations

from typing import Any

from tracesite.formats.builder import TraceBuilder
from tracesite.formats.common import Events, describe, expect_dict, expect_list, fail, optional_str
from tracesite.formats.entries import id_of, logprob_of
from tracesite.model.trace import Trace, TraceMeta

FORMAT_NAME = "tgi"
STREAM_FORMAT = "tgi_stream"


def is_tgi_response(obj: Any) -> bool:
    return (
        isinstance(obj, dict)
        and isinstance(obj.get("details"), dict)
        and "tokens" in obj["details"]
        and "generated_text" in obj
    )


def is_tgi_event(obj: Any) -> bool:
    return isinstance(obj, dict) and isinstance(obj.get("token"), dict) and "generated_text" in obj


def _token(t: Any, addr: str) -> tuple[str, float | None, int, bool]:
    if type(t) is not dict:
        raise fail(addr, f"expected an object, got {describe(t)}")
    text = t.get("text")
    if type(text) is not str:
        raise fail(f"{addr}.text", f"expected a string, got {describe(text)}")
    special = t.get("special", False)
    if type(special) is not bool:
        raise fail(f"{addr}.special", f"expected true or false, got {describe(special)}")
    return (
        text,
        logprob_of(t.get("logprob"), f"{addr}.logprob"),
        id_of(t.get("id"), f"{addr}.id"),
        special,
    )


def _add(b: TraceBuilder, tok: Any, top: Any, addr: str, top_addr: str) -> None:
    text, lp, tid, special = _token(tok, addr)
    pos = b.add(text, lp, None, tid, special)
    if top is None:
        return
    for j, a in enumerate(expect_list(top, top_addr)):
        atext, alp, aid, _ = _token(a, f"{top_addr}[{j}]")
        b.alt(pos, atext, alp, None, aid)


def _split_text(
    generated: str | None, b: TraceBuilder, prompt: str | None
) -> tuple[str | None, str | None]:
    """(provider text of the generated part, prompt) from ``generated_text``.

    ``return_full_text`` prefixes the prompt (``deepseek-v2-eos-fullwidth.json``: "Test request"
    + " sent successfully."). When ``generated_text`` is the prompt followed by exactly the
    tokens' text, the prompt part is split off; otherwise it is kept whole, so a disagreement
    stays visible.
    """
    if generated is None:
        return None, prompt
    rebuilt = "".join(t for t, s in zip(b.c_tok, b.c_special, strict=True) if not s)
    if generated == rebuilt or not rebuilt or not generated.endswith(rebuilt):
        return generated, prompt
    head = generated[: len(generated) - len(rebuilt)]
    if prompt is None or prompt == head:
        return rebuilt, head
    return generated, prompt


def _details_trace(d: dict[str, Any], addr: str, source: str, extra: dict[str, Any]) -> Trace:
    """One sequence: the response's ``details`` or an entry of ``best_of_sequences``."""
    tokens = expect_list(d.get("tokens"), f"{addr}.tokens")
    tops = d.get("top_tokens")
    if tops is not None:
        tops = expect_list(tops, f"{addr}.top_tokens")
        if len(tops) != len(tokens):
            raise fail(
                f"{addr}.top_tokens",
                f"has {len(tops)} entries but tokens has {len(tokens)}; they must pair up",
            )
    b = TraceBuilder()
    for i, tok in enumerate(tokens):
        top = tops[i] if tops is not None else None
        _add(b, tok, top, f"{addr}.tokens[{i}]", f"{addr}.top_tokens[{i}]")
    prompt = None
    prefill = d.get("prefill")
    if prefill:
        texts = [
            _token(t, f"{addr}.prefill[{i}]")[0]
            for i, t in enumerate(expect_list(prefill, f"{addr}.prefill"))
        ]
        prompt = "".join(texts)
    generated = optional_str(d.get("generated_text"), f"{addr}.generated_text")
    text, prompt = _split_text(generated, b, prompt)
    meta_extra = dict(extra)
    for key in ("seed", "generated_tokens"):
        if type(d.get(key)) is int:
            meta_extra[key] = d[key]
    return b.build(
        TraceMeta(
            source=source,
            format=FORMAT_NAME,
            prompt=prompt,
            finish_reason=optional_str(d.get("finish_reason"), f"{addr}.finish_reason"),
            provider_text=text,
            extra=meta_extra,
        )
    )


def read_tgi_response(d: dict[str, Any], source: str, addr: str = "$") -> list[Trace]:
    """The main sequence, then every ``best_of_sequences`` entry."""
    details = expect_dict(d.get("details"), f"{addr}.details")
    main = _details_trace(
        {**details, "generated_text": d.get("generated_text")}, f"{addr}.details", source, {}
    )
    traces = [main]
    best = details.get("best_of_sequences")
    for k, seq in enumerate(expect_list(best, f"{addr}.details.best_of_sequences") if best else []):
        saddr = f"{addr}.details.best_of_sequences[{k}]"
        traces.append(_details_trace(expect_dict(seq, saddr), saddr, source, {"best_of": k}))
    return traces


def read_tgi_stream(events: Events, source: str) -> list[Trace]:
    """``/generate_stream`` events: one token (and its ``top_tokens``) per event."""
    b = TraceBuilder()
    generated: str | None = None
    details: dict[str, Any] = {}
    for addr, obj in events:
        ev = expect_dict(obj, addr)
        _add(b, ev.get("token"), ev.get("top_tokens"), f"{addr}.token", f"{addr}.top_tokens")
        if ev.get("generated_text") is not None:
            generated = optional_str(ev["generated_text"], f"{addr}.generated_text")
        if isinstance(ev.get("details"), dict):
            details = ev["details"]
    text, prompt = _split_text(generated, b, None)
    reason = details.get("finish_reason")
    extra = {k: details[k] for k in ("seed", "generated_tokens") if type(details.get(k)) is int}
    return [
        b.build(
            TraceMeta(
                source=source,
                format=STREAM_FORMAT,
                prompt=prompt,
                finish_reason=reason if isinstance(reason, str) else None,
                provider_text=text,
                extra=extra,
            )
        )
    ]
