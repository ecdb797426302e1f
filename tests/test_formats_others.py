"""Gemini/Vertex, TGI, llama.cpp, Ollama and .npz readers (quirk numbers from SOURCES.md)."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tracesite
from formats_helpers import fixture, read_json, read_text
from tracesite import Trace, TraceReadError
from tracesite.formats import read_bytes
from tracesite.formats.npz import save_npz, to_npz_arrays
from tracesite.model.checks import data_flags
from tracesite.model.trace import Candidate, Position, TraceMeta


def one(path: Any) -> Trace:
    traces = tracesite.load(path)
    assert len(traces) == 1
    return traces[0]


# ----------------------------------------------------------------------------- Gemini / Vertex


def test_gemini_padding_sentinel_is_unknown_quirk2() -> None:
    t = one(fixture("gemini/gemini-1.5-flash-002-toolcode-top3-logprobsResult.json"))
    assert t.meta.format == "gemini" and t.n_tokens == 58 and t.stats.top_k == 3
    pads = [j for j in range(len(t.alt_tokens)) if math.isnan(t.alt_logprobs[j])]
    assert len(pads) == 46 and {t.alt_tokens[j] for j in pads} == {"ont", " п"}
    # the real top candidate is the chosen token everywhere; padding never outranks it
    assert (t.position_stats.rank == 1).all()
    assert np.isfinite(t.position_stats.entropy).all()
    assert t.meta.provider_text is None  # a bare logprobsResult has no text


def test_gemini_chosen_only_text_and_integer_zero_quirk10_quirk17() -> None:
    path = fixture("gemini/gemini-1.5-flash-002-weather-chosen-only.json")
    raw = json.loads(path.read_text(encoding="utf-8"))
    t = one(path)
    assert '"logProbability": 0\n' in path.read_text(encoding="utf-8")  # integer 0 in the file
    assert t.n_tokens == 50 and t.stats.top_k == 0
    assert t.text == raw["candidates"][0]["content"]["parts"][0]["text"] == t.meta.provider_text
    assert t.meta.model == "gemini-1.5-flash-002" and t.meta.finish_reason == "STOP"
    assert (t.token_ids == -1).all()  # no tokenId in 1.5 responses
    assert float(t.logprobs.mean()) == pytest.approx(raw["candidates"][0]["avgLogprobs"], abs=1e-8)


def test_gemini_thinking_model_avg_logprobs_is_kept_not_used_quirk17() -> None:
    t = one(fixture("gemini/vertex-gemini-2.5-flash-2plus2-top5.json"))
    assert t.text == "2 + 2 = 4" and t.stats.top_k == 5
    assert t.token_ids.tolist()[:2] == [236778, 900]  # tokenId in 2.5 responses
    assert t.meta.extra["avgLogprobs"] == pytest.approx(-1.0858, abs=1e-4)
    assert math.log(t.stats.perplexity or 0) == pytest.approx(0.0099, abs=1e-4)  # our own mean
    assert t.meta.created == "2026-02-15T07:50:37.854117Z"
    assert t.meta.extra["usageMetadata"]["thoughtsTokenCount"] == 73


def test_gemini_without_top_candidates_and_with_top2() -> None:
    assert one(fixture("gemini/vertex-gemini-2.5-flash-2plus2-no-top.json")).stats.top_k == 0
    t = one(fixture("gemini/vertex-gemini-2.5-flash-hello-top2.json"))
    assert t.text == "Hello" and [a.text for a in t.alternatives(0)] == ["Hello", '"']


def test_gemini_sdk_snake_case_and_several_candidates() -> None:
    def cand(i: int, token: str) -> dict[str, Any]:
        return {
            "index": i,
            "content": {"parts": [{"text": "thinking", "thought": True}, {"text": token}]},
            "finish_reason": "STOP",
            "logprobs_result": {
                "chosen_candidates": [{"token": token, "log_probability": -0.5, "token_id": 7}],
                "top_candidates": [{"candidates": [{"token": token, "log_probability": -0.5}]}],
            },
        }

    traces = read_json({"candidates": [cand(0, "A"), cand(1, "B")], "model_version": "g"})
    assert [t.text for t in traces] == ["A", "B"]  # thought parts are not the text
    assert [t.meta.provider_text for t in traces] == ["A", "B"]
    assert traces[1].meta.model == "g" and traces[1].token_ids[0] == 7


def test_gemini_mismatched_lists_are_an_addressed_error() -> None:
    lr = {
        "chosenCandidates": [{"token": "a", "logProbability": -0.1}] * 3,
        "topCandidates": [{"candidates": []}] * 2,
    }
    with pytest.raises(TraceReadError) as err:
        read_json({"candidates": [{"logprobsResult": lr}]}, "g.json")
    assert str(err.value) == (
        "g.json: $.candidates[0].logprobsResult.topCandidates: has 2 entries but "
        "chosenCandidates has 3; they must pair up"
    )


# ----------------------------------------------------------------------------- TGI


@pytest.mark.parametrize(
    ("name", "n", "special"),
    [
        ("gemma3-100tok.json", 100, []),
        ("llama4-100tok-special.json", 100, ["<|header_end|>"]),
        ("w8a8-int-endoftext.json", 76, ["<|endoftext|>"]),
        ("llama-grammar-json.json", 30, ["</s>"]),
        ("deepseek-v2-eos-fullwidth.json", 4, ["<｜end▁of▁sentence｜>"]),
    ],
)
def test_tgi_specials_are_flagged_and_left_out_of_text_quirk13(
    name: str, n: int, special: list[str]
) -> None:
    t = one(fixture(f"tgi_generate/{name}"))
    assert t.meta.format == "tgi" and t.n_tokens == n and t.stats.top_k == 0
    assert [t.tokens[i] for i in np.flatnonzero(t.special)] == special
    assert all(s not in t.text for s in special)
    assert t.text == t.meta.provider_text


def test_tgi_prefill_is_the_prompt_not_positions_quirk18() -> None:
    path = fixture("tgi_generate/bloom-560m-french-prefill.json")
    raw = json.loads(path.read_text(encoding="utf-8"))
    t = one(path)
    assert t.n_tokens == 10 == raw["details"]["generated_tokens"]  # 11 prefill tokens not counted
    assert t.meta.prompt == "Pour déguster un ortolan, il faut tout d'abord"
    assert t.text == raw["generated_text"] and t.meta.finish_reason == "length"
    assert t.meta.extra["seed"] == 0


def test_tgi_full_text_prompt_is_split_off_quirk18() -> None:
    t = one(fixture("tgi_generate/deepseek-v2-eos-fullwidth.json"))
    assert t.meta.prompt == "Test request"
    assert t.meta.provider_text == " sent successfully." == t.text


def test_tgi_top_tokens_best_of_and_stream() -> None:
    def tok(text: str, lp: float, special: bool = False) -> dict[str, Any]:
        return {"id": 1, "text": text, "logprob": lp, "special": special}

    details = {
        "finish_reason": "eos_token",
        "generated_tokens": 2,
        "prefill": [],
        "tokens": [tok("Hi", -0.1), tok("</s>", -0.2, True)],
        "top_tokens": [[tok("Hello", -2.0), tok("Hi", -0.1)], [tok("</s>", -0.2, True)]],
        "best_of_sequences": [
            {
                "generated_text": "Yo",
                "finish_reason": "length",
                "generated_tokens": 1,
                "prefill": [],
                "tokens": [tok("Yo", -1.0)],
                "top_tokens": None,
            }
        ],
    }
    main, best = read_json([{"generated_text": "Hi", "details": details}])  # /generate's list
    assert main.text == "Hi" and [a.text for a in main.alternatives(0)] == ["Hi", "Hello"]
    assert main.position_stats.rank.tolist() == [1, 1]
    assert best.text == "Yo" and best.meta.extra["best_of"] == 0 and best.meta.index == 1
    events = [
        {
            "index": 1,
            "token": tok("Hi", -0.1),
            "top_tokens": [tok("Hi", -0.1)],
            "generated_text": None,
            "details": None,
        },
        {
            "index": 2,
            "token": tok("</s>", -0.2, True),
            "generated_text": "Hi",
            "details": {"finish_reason": "eos_token", "generated_tokens": 2},
        },
    ]
    stream = read_text("".join(f"data:{json.dumps(e)}\n\n" for e in events))[0]
    assert stream.meta.format == "tgi_stream" and stream.text == "Hi"
    assert stream.special.tolist() == [False, True] and stream.meta.finish_reason == "eos_token"


# ----------------------------------------------------------------------------- llama.cpp


def test_llamacpp_new_form_merged_bytes_matched_by_id_quirk8() -> None:
    path = fixture(
        "llamacpp/llamacpp-b6488-completion-stream-qwen3-cyrillic-partial-utf8.sse.jsonl"
    )
    t = one(path)
    assert t.meta.format == "llamacpp" and t.stats.top_k == 10
    assert t.tokens[1] == " щ" and t.token_bytes[1] == b" \xd1\x89" and t.token_ids[1] == 231
    top = t.alternatives(1)[0]
    assert (top.text, top.bytes, top.id) == ("�", b"\x89", 231)
    assert t.position_stats.rank.tolist() == [1, 1, 1]  # by id, not by string
    assert t.text == "овые щё" == t.meta.provider_text  # Cyrillic rebuilt from bytes (quirk 16)


def test_llamacpp_old_form_byte_tokens_and_linear_probs_quirk7_quirk9() -> None:
    t = one(fixture("llamacpp/ikllamacpp-completion-stream-oldform-byte-tokens.sse.jsonl"))
    assert t.tokens[1] == "byte: \\x89" and t.token_bytes[1] == b"\x89"
    assert t.alternatives(1)[1].bytes == b"\x91"
    assert t.logprobs[0] == pytest.approx(math.log(0.9999388456344604))
    assert t.position_stats.rank.tolist() == [1, 1, 1]
    assert t.text == "овые\ufffdё" == t.meta.provider_text  # a lone 0x89 byte, shown as U+FFFD


def test_llamacpp_probabilities_one_and_zero_quirk9() -> None:
    t = one(fixture("llamacpp/ikllamacpp-b66cecc-completion-stream-oldform-prob-1-0.sse.jsonl"))
    assert (t.logprobs == 0.0).all()
    zeros = t.alt_logprobs[t.alt_logprobs != 0.0]
    assert len(zeros) == 27 and (zeros == -math.inf).all()  # log 0: exact, not unknown
    assert t.stats.n_unknown == 0 and t.stats.mean_prob == 1.0
    # quirk 8: the event text (" щ", the server's merged bytes) differs from the entry
    # ("byte: \\x89"); the entry is the token, the events' text is the text (issue 15), the
    # tokens' own spelling is kept and the difference flagged
    assert t.meta.provider_text == "овые щё" == t.text and t.token_text == "овые\ufffdё"
    (flag,) = [f for f in data_flags(t) if f.code == "text_differs"]
    assert "character 4" in flag.message and flag.positions == (2,)


def test_llamacpp_non_streamed_and_post_sampling_forms() -> None:
    doc = {
        "content": "Hi!",
        "model": "qwen",
        "prompt": "Say hi",
        "stop": True,
        "stop_type": "eos",
        "completion_probabilities": [
            {
                "id": 1,
                "token": "Hi",
                "bytes": [72, 105],
                "prob": 0.9,
                "top_probs": [
                    {"id": 1, "token": "Hi", "bytes": [72, 105], "prob": 0.9},
                    {"id": 2, "token": "Yo", "bytes": [89, 111], "prob": 0.05},
                ],
            },
            {"id": 3, "token": "!", "bytes": [33], "prob": 1.0, "top_probs": []},
        ],
    }
    t = read_json(doc)[0]
    assert t.meta.format == "llamacpp" and t.text == "Hi!" and t.meta.prompt == "Say hi"
    assert t.meta.finish_reason == "eos" and t.meta.model == "qwen"
    assert t.logprobs[0] == pytest.approx(math.log(0.9))


def test_llamacpp_final_event_repeating_all_probabilities_is_not_double_counted() -> None:
    def ev(tok: str, stop: bool) -> dict[str, Any]:
        return {
            "content": tok,
            "stop": stop,
            "completion_probabilities": [
                {"content": tok, "probs": [{"tok_str": tok, "prob": 0.5}]}
            ],
        }

    final = {
        "content": "",
        "stop": True,
        "stopped_eos": True,
        "completion_probabilities": ev("a", True)["completion_probabilities"]
        + ev("b", True)["completion_probabilities"],
    }
    t = read_text("\n".join(json.dumps(e) for e in (ev("a", False), ev("b", False), final)))[0]
    assert t.tokens == ("a", "b") and t.meta.finish_reason == "eos"


# ----------------------------------------------------------------------------- Ollama


def test_ollama_generate_and_chat_stream() -> None:
    lp = [{"token": "Hi", "logprob": -0.1, "top_logprobs": [{"token": "Hi", "logprob": -0.1}]}]
    doc = {
        "model": "llama3",
        "created_at": "2025-11-20T10:00:00Z",
        "response": "Hi",
        "done": True,
        "done_reason": "stop",
        "logprobs": lp,
    }
    t = read_json(doc)[0]
    assert (t.meta.format, t.text, t.meta.model, t.meta.finish_reason) == (
        "ollama",
        "Hi",
        "llama3",
        "stop",
    )
    chunks = [
        {
            "model": "m",
            "created_at": "x",
            "message": {"role": "assistant", "content": "A"},
            "done": False,
            "logprobs": [{"token": "A", "logprob": -0.2}],
        },
        {
            "model": "m",
            "created_at": "x",
            "message": {"role": "assistant", "content": "B"},
            "done": False,
            "logprobs": [{"token": "B", "logprob": -0.3}],
        },
        {
            "model": "m",
            "created_at": "x",
            "message": {"role": "assistant", "content": ""},
            "done": True,
            "done_reason": "stop",
        },
    ]
    s = read_text("\n".join(json.dumps(c) for c in chunks))[0]
    assert s.tokens == ("A", "B") and s.text == "AB" and s.meta.finish_reason == "stop"


# ----------------------------------------------------------------------------- .npz


def sample_trace() -> Trace:
    positions = [
        Position(
            Candidate("Hel", -0.1, None, 5),
            [Candidate("Hel", -0.1, None, 5), Candidate("Hi", -2.5, None, 9)],
        ),
        Position(Candidate("lo", math.nan, None, -1), [Candidate("lo", -0.4)]),
        Position(Candidate("</s>", -0.01), [], special=True),
    ]
    return Trace.from_positions(positions, TraceMeta(model="m", prompt="p", provider_text="Hello"))


def test_npz_round_trip_and_documented_names(tmp_path: Path) -> None:
    t = sample_trace()
    path = tmp_path / "t.npz"
    save_npz(t, path)
    back = one(path)
    assert back.meta.format == "npz" and back == t
    assert back.text == "Hello" and back.special.tolist() == [False, False, True]
    assert set(to_npz_arrays(t)) >= {"tokens", "logprobs", "top_tokens", "top_logprobs"}


def test_npz_minimal_arrays_and_padding_without_counts() -> None:
    buf = io.BytesIO()
    np.savez(
        buf,
        tokens=np.array(["a", "b"]),
        probs=np.array([0.5, 1.0]),
        top_tokens=np.array([["a", "c"], ["b", ""]]),
        top_logprobs=np.array([[math.log(0.5), math.log(0.2)], [0.0, math.nan]]),
    )
    t = read_bytes(buf.getvalue(), "m.npz")[0]
    assert t.text == "ab" and t.logprobs[0] == pytest.approx(math.log(0.5))
    assert np.diff(t.alt_offsets).tolist() == [2, 1]  # ("", NaN) is padding


def test_npz_bad_values_are_addressed_errors() -> None:
    buf = io.BytesIO()
    np.savez(buf, tokens=np.array(["a", "b"]), logprobs=np.array([-0.1, 0.7]))
    with pytest.raises(TraceReadError) as err:
        read_bytes(buf.getvalue(), "bad.npz")
    assert str(err.value) == "bad.npz: logprobs[1]: a logprob must be <= 0, got 0.7"
    buf = io.BytesIO()
    np.savez(buf, tokens=np.array(["a"]), logprobs=np.array([-0.1, -0.2]))
    with pytest.raises(TraceReadError, match=r"logprobs: expected shape \(1,\), got \(2,\)"):
        read_bytes(buf.getvalue(), "bad.npz")
    with pytest.raises(TraceReadError, match=r"not a readable \.npz trace"):
        read_bytes(b"PK\x03\x04garbage", "bad.npz")


def test_gemini_stream_chunks_are_concatenated_sse_and_json_array() -> None:
    def chunk(token: str, last: bool) -> dict[str, Any]:
        cand: dict[str, Any] = {
            "content": {"parts": [{"text": token}], "role": "model"},
            "logprobsResult": {
                "chosenCandidates": [{"token": token, "logProbability": -0.1}],
                "topCandidates": [{"candidates": [{"token": token, "logProbability": -0.1}]}],
            },
        }
        out: dict[str, Any] = {
            "candidates": [cand],
            "modelVersion": "gemini-2.5-flash",
            "responseId": "r1",
        }
        if last:
            cand["finishReason"] = "STOP"
            out["usageMetadata"] = {"candidatesTokenCount": 2}
        return out

    chunks = [chunk("Hel", False), chunk("lo", True)]
    for traces in (
        read_text("".join(f"data: {json.dumps(c)}\r\n\r\n" for c in chunks)),  # alt=sse
        read_json(chunks),  # streamGenerateContent without alt=sse: a JSON array
    ):
        (t,) = traces
        assert t.meta.format == "gemini_stream" and t.tokens == ("Hel", "lo")
        assert t.text == "Hello" == t.meta.provider_text and t.meta.finish_reason == "STOP"
        assert t.meta.extra["usageMetadata"] == {"candidatesTokenCount": 2}
    # separate responses (different ids) in an array stay separate traces
    other = chunk("Hi", True) | {"responseId": "r2"}
    assert [t.text for t in read_json([chunks[1], other])] == ["lo", "Hi"]
