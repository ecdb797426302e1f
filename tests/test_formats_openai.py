"""OpenAI-shaped readers: chat (response, stream, bare lists), legacy completions, Responses.

Real files first (quirk numbers refer to ../shared/corpus/real/SOURCES.md), then small
documented shapes that no licensed real file shows.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

import tracesite
from formats_helpers import (
    chat_response,
    corpus_file,
    entry,
    fixture,
    read_json,
    read_text,
    sse,
)
from tracesite import Trace, TraceReadError
from tracesite.model.trace import RANK_OUTSIDE

PIZZA = "openai_chat/gpt-4o-mini-pizza-844tok-top3.json"
PIZZA_STREAM = "openai_chat/gpt-4o-mini-pizza-stream-top3.sse.txt"
RESP_STREAM = "openai_responses/gpt-4o-mini-what-are-logprobs-stream-top3.sse.txt"
RESP_COMPLETED = "openai_responses/gpt-4o-mini-what-are-logprobs-stream-completed-top3.json"


def one(path: Any) -> Trace:
    traces = tracesite.load(path)
    assert len(traces) == 1
    return traces[0]


# ----------------------------------------------------------------------------- chat, real files


def test_pizza_chat_response_reads_with_metadata_and_exact_text() -> None:
    path = fixture(PIZZA)
    t = one(path)
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert t.meta.format == "openai_chat"
    assert t.meta.source == str(path) and t.meta.index == 0
    assert t.n_tokens == 844 and t.stats.top_k == 3
    assert t.meta.model == "gpt-4o-mini-2024-07-18"
    assert t.meta.created == "2026-02-13T02:45:41Z"  # Unix 1770950741, as UTC ISO 8601
    assert t.meta.finish_reason == "stop"
    assert t.text == raw["choices"][0]["message"]["content"] == t.meta.provider_text
    assert t.meta.extra["usage"] == raw["usage"]
    assert t.meta.extra["id"] == raw["id"]
    json.dumps(dict(t.meta.extra))  # metadata stays JSON-serialisable


def test_quirk1_sentinel_9999_is_unknown_and_left_out_of_averages() -> None:
    t = one(fixture(PIZZA))
    assert t.tokens[291] == " blends"
    assert math.isnan(t.logprobs[291]) and math.isnan(t.position_stats.p[291])
    assert t.stats.n_unknown == 1
    known = np.delete(np.exp(t.logprobs), 291)
    assert t.stats.mean_prob == pytest.approx(float(known.mean()))
    assert t.stats.min_prob is not None and t.stats.min_prob > 0


def test_quirk3_chosen_outside_top_k_counts_match_sources_md() -> None:
    pizza = one(fixture(PIZZA))
    assert pizza.stats.n_outside_top_k == 43  # "43 of 844 positions in the pizza file"
    stream = one(fixture(RESP_STREAM))
    assert stream.stats.n_outside_top_k == 14  # "14 of 422 in the Responses stream"
    # never assume top_logprobs[0] is the chosen token: the chosen entry keeps its own logprob
    outside = np.flatnonzero(pizza.position_stats.rank == RANK_OUTSIDE)
    i = int(outside[0])
    assert pizza.tokens[i] not in [a.text for a in pizza.alternatives(i)]


def test_pizza_stream_sse_concatenates_chunks_quirk19() -> None:
    path = fixture(PIZZA_STREAM)
    t = one(path)
    deltas = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("data: {"):
            for c in json.loads(line[6:])["choices"]:
                deltas.append(c["delta"].get("content") or "")
    assert t.meta.format == "openai_chat_stream"
    assert t.n_tokens == 829 and t.stats.top_k == 3
    assert t.text == "".join(deltas) == t.meta.provider_text
    assert t.meta.finish_reason == "stop"  # from the finish chunk, whose logprobs are null
    assert t.meta.extra["usage"]["completion_tokens"] == 829  # from the usage-only chunk
    assert t.stats.n_unknown == 3  # three -9999.0 in the stream (quirk 1)


def test_quirk6_null_bytes_special_alternative_is_kept() -> None:
    t = one(fixture(PIZZA_STREAM))
    ends = [j for j, a in enumerate(t.alt_tokens) if a == "<|end|>"]
    assert ends and all(t.alt_bytes[j] is None for j in ends)


def test_chat_stream_as_json_lines_equals_sse(tmp_path: Any) -> None:
    text = fixture(PIZZA_STREAM).read_text(encoding="utf-8")
    lines = [ln[6:] for ln in text.splitlines() if ln.startswith("data: {")]
    jsonl = tmp_path / "stream.jsonl"
    jsonl.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert one(jsonl) == one(fixture(PIZZA_STREAM))
    assert one(jsonl).meta.format == "openai_chat_stream"


def test_no_top_logprobs_requested_quirk4() -> None:
    path = fixture("openai_chat/gpt-4o-perplexity-475tok-no-top.json")
    t = one(path)
    assert t.n_tokens == 475 and t.stats.top_k == 0 and t.stats.n_outside_top_k == 0
    assert (t.position_stats.rank == -1).all()
    assert (
        t.text == json.loads(path.read_text(encoding="utf-8"))["choices"][0]["message"]["content"]
    )
    assert "\\[ P(w_1" in t.text  # LaTeX backslashes survive


def test_bare_logprobs_object_and_content_list_read_like_the_response(tmp_path: Any) -> None:
    raw = json.loads(fixture(PIZZA).read_text(encoding="utf-8"))
    full = one(fixture(PIZZA))
    lp = raw["choices"][0]["logprobs"]
    (tmp_path / "lp.json").write_text(json.dumps(lp), encoding="utf-8")
    (tmp_path / "content.json").write_text(json.dumps(lp["content"]), encoding="utf-8")
    for name in ("lp.json", "content.json"):
        bare = one(tmp_path / name)
        assert bare.meta.format == "openai_chat"
        assert bare.tokens == full.tokens and bare.text == full.text
        np.testing.assert_array_equal(bare.alt_logprobs, full.alt_logprobs)


# ----------------------------------------------------------------------------- chat, corpus only


def test_gpt41_escaped_partial_utf8_labels_keep_bytes_quirk7() -> None:
    t = one(corpus_file("openai_chat/gpt-4.1-hello-top20.json"))
    j = t.alt_tokens.index(" \\xf0\\x9f\\x91")
    assert t.alt_bytes[j] == bytes([32, 240, 159, 145])
    assert t.text == "Hello! How can I assist you today?"


def test_stored_completion_token_is_a_label_bytes_are_the_truth_quirk14() -> None:
    t = one(corpus_file("openai_chat/gpt-4.1-hi-top20-stored-completion.json"))
    pairs = set(zip(t.alt_tokens, t.alt_bytes, strict=True))
    assert (" ", bytes([194, 160])) in pairs  # label U+0020, bytes NBSP
    assert ("", bytes([239, 187, 191])) in pairs  # empty label, BOM bytes
    assert t.text == "Hi! How can I help you today?"


def test_vllm_sentinel_padding_and_reasoning_text_quirk1() -> None:
    path = corpus_file("vllm_chat/qwq-32b-awq-int4-reasoning-100tok-top3.json")
    t = one(path)
    sentinels = np.isnan(t.alt_logprobs)
    assert int(sentinels.sum()) == 170
    assert t.meta.finish_reason == "length" and t.meta.extra.get("stop_reason") is None
    assert (
        t.text == json.loads(path.read_text(encoding="utf-8"))["choices"][0]["message"]["content"]
    )
    # unknown alternatives sort after every known one at their position
    for i in range(t.n_tokens):
        lp = t.alt_logprobs[t.alt_offsets[i] : t.alt_offsets[i + 1]]
        known = ~np.isnan(lp)
        assert not (known[1:] & ~known[:-1]).any()


# ----------------------------------------------------------------------------- chat, documented shapes


def test_partial_utf8_tokens_rebuild_text_from_bytes_quirk7() -> None:
    e1 = entry(" \\xf0\\x9f\\x91", -0.1, bytes=[32, 240, 159, 145])
    e2 = entry("\\x8b", -0.2, bytes=[139])
    e3 = entry("�", -0.3)  # a genuine U+FFFD token, bytes EF BF BD
    t = read_json(chat_response([e1, e2, e3], content=" 👋�"))[0]
    assert t.text == " 👋�" == t.meta.provider_text
    assert t.pieces == (" ", "👋", "�")  # the character belongs to the token completing it
    assert t.tokens[0] == " \\xf0\\x9f\\x91"  # the provider's label is kept


def test_token_label_differs_from_bytes_quirk14() -> None:
    e = [entry("Hi", -0.1), entry(" ", -0.2, bytes=[194, 160]), entry("there", -0.1)]
    t = read_json(chat_response(e, content="Hi\u00a0there"))[0]
    assert t.text == "Hi\u00a0there" and t.tokens[1] == " "


def test_special_end_token_without_bytes_is_special_and_not_text() -> None:
    e = [entry("Hello", -0.1), entry("<|end|>", -0.2, bytes=None)]
    t = read_json(chat_response(e, content="Hello"))[0]
    assert t.special.tolist() == [False, True]
    assert t.text == "Hello" and t.pieces[1] == "<|end|>"


def test_special_looking_text_the_model_really_wrote_stays_text() -> None:
    e = [entry("Use ", -0.1), entry("<|end|>", -0.2), entry(" here", -0.1)]
    t = read_json(chat_response(e, content="Use <|end|> here"))[0]
    assert not t.special.any() and t.text == "Use <|end|> here"


def test_vllm_style_special_with_bytes_left_out_of_content() -> None:
    e = [entry("Hi", -0.1), entry("<|im_end|>", -0.01)]
    t = read_json(chat_response(e, content="Hi"))[0]
    assert t.special.tolist() == [False, True] and t.text == "Hi"


def test_several_choices_give_several_traces() -> None:
    resp = chat_response([entry("A", -0.1)])
    second = json.loads(json.dumps(resp["choices"][0]))
    second["index"] = 1
    second["message"]["content"] = "B"
    second["logprobs"]["content"] = [entry("B", -0.5)]
    resp["choices"].append(second)
    traces = read_json(resp)
    assert [t.text for t in traces] == ["A", "B"]
    assert [t.meta.index for t in traces] == [0, 1]


def test_deepseek_reasoning_content_is_a_second_trace() -> None:
    resp = chat_response([entry("4", -0.01)], content="4")
    resp["choices"][0]["message"]["reasoning_content"] = "2+2 is 4"
    resp["choices"][0]["logprobs"]["reasoning_content"] = [
        entry("2", -0.1),
        entry("+", -0.1),
        entry("2 is 4", -0.2),
    ]
    answer, reasoning = read_json(resp)
    assert answer.text == "4" and "part" not in answer.meta.extra
    assert reasoning.text == "2+2 is 4" == reasoning.meta.provider_text
    assert reasoning.meta.extra["part"] == "reasoning"


def test_refusal_tokens_are_read_when_there_is_no_content_quirk21() -> None:
    resp = chat_response([], content="")
    choice = resp["choices"][0]
    choice["message"] = {"role": "assistant", "content": None, "refusal": "I can't."}
    choice["logprobs"] = {"content": None, "refusal": [entry("I", -0.1), entry(" can't.", -0.2)]}
    t = read_json(resp)[0]
    assert t.text == "I can't." == t.meta.provider_text and t.meta.extra["part"] == "refusal"


def test_chat_without_logprobs_is_a_clear_error() -> None:
    resp = chat_response([entry("A", -0.1)])
    resp["choices"][0]["logprobs"] = None
    with pytest.raises(TraceReadError) as err:
        read_json(resp, "run.json")
    assert str(err.value).startswith("run.json: $.choices: no choice has logprobs")


def test_llamacpp_chat_stream_with_token_ids() -> None:
    t = one(fixture("llamacpp/ikllamacpp-chat-stream-oai-logprobs-with-id.sse.jsonl"))
    assert t.meta.format == "openai_chat_stream"
    assert t.token_ids.tolist() == [129377, 231, 44022]
    assert t.meta.model is None  # "model": "" means not given
    assert t.text == "овые щё"
    assert t.position_stats.rank.tolist() == [1, 1, 1]  # " щ" matched to "�" (id 231) by id


# ----------------------------------------------------------------------------- legacy completions


def completions(lp: dict[str, Any], text: str, **top: Any) -> dict[str, Any]:
    return {
        "id": "cmpl-1",
        "object": "text_completion",
        "created": 1700000000,
        "model": "gpt-3.5-turbo-instruct",
        "choices": [{"text": text, "index": 0, "logprobs": lp, "finish_reason": "length"}],
        **top,
    }


def test_legacy_completions_sorts_alternatives_and_reads_the_shape_quirk5() -> None:
    lp = {
        "tokens": ["\n", "The"],
        "token_logprobs": [-2.2, -3.3],
        # key order is not probability order in real responses
        "top_logprobs": [{"1": -3.1, "\n": -2.2, "\n\n": -2.6}, {"A": -1.0, "The": -3.3}],
        "text_offset": [13, 14],  # need not start at 0
    }
    t = read_json(completions(lp, "\nThe"))[0]
    assert t.meta.format == "openai_completions"
    assert t.alternatives(0)[0].text == "\n" and [a.text for a in t.alternatives(0)] == [
        "\n",
        "\n\n",
        "1",
    ]
    assert t.position_stats.rank.tolist() == [1, 2]
    assert t.text == "\nThe" == t.meta.provider_text


def test_legacy_echo_null_first_logprob_and_byte_tokens() -> None:
    lp = {
        "tokens": ["Say", " \u2014", "bytes:\\xe2\\x80", "bytes:\\x94", "token_id:42"],
        "token_logprobs": [None, -0.5, -0.1, -0.2, -0.3],
        "top_logprobs": [None, {" \u2014": -0.5}, {"bytes:\\xe2\\x80": -0.1}, None, None],
        "text_offset": [0, 3, 5, 5, 6],
    }
    t = read_json(completions(lp, "Say \u2014\u2014token_id:42"))[0]
    assert math.isnan(t.logprobs[0]) and t.stats.n_unknown == 1
    assert t.token_bytes[2] == b"\xe2\x80" and t.token_bytes[3] == b"\x94"
    assert t.token_ids[4] == 42
    assert t.text.startswith("Say \u2014\u2014")


def test_legacy_arrays_of_different_length_are_an_addressed_error() -> None:
    lp = {"tokens": ["a", "b"], "token_logprobs": [-0.1], "top_logprobs": None}
    with pytest.raises(TraceReadError) as err:
        read_json(completions(lp, "ab"), "c.json")
    assert str(err.value) == (
        "c.json: $.choices[0].logprobs.token_logprobs: has 1 entries but tokens has 2; "
        "the arrays must be parallel"
    )


def test_completions_stream_chunks_are_concatenated() -> None:
    chunks = [
        completions({"tokens": [t], "token_logprobs": [lp], "top_logprobs": [{t: lp}]}, t)
        for t, lp in (("Hel", -0.1), ("lo", -0.2))
    ]
    t = read_text(sse(chunks))[0]
    assert t.tokens == ("Hel", "lo") and t.text == "Hello" == t.meta.provider_text


def test_llamacpp_v1_completions_with_chat_style_entries() -> None:
    resp = completions({"content": [entry("Hi", -0.1, top=[("Hi", -0.1)])]}, "Hi")
    t = read_json(resp)[0]
    assert t.meta.format == "openai_completions" and t.text == "Hi"


@pytest.mark.parametrize(
    ("name", "n", "unsorted"),
    [
        ("gpt-3.5-instruct-porchlight-top20.json", 16, 4),
        ("gpt-3.5-instruct-self-awareness-240tok.json", 240, 10),
        ("gpt-3.5-instruct-relationships-223tok.json", 223, None),
    ],
)
def test_legacy_corpus_files_quirk5(name: str, n: int, unsorted: int | None) -> None:
    path = corpus_file(f"openai_completions/{name}")
    raw = json.loads(path.read_text(encoding="utf-8"))
    t = one(path)
    assert t.n_tokens == n and t.stats.top_k == 20
    assert t.text == raw["choices"][0]["text"]
    tops = raw["choices"][0]["logprobs"]["top_logprobs"]
    raw_unsorted = sum(1 for d in tops if list(d.values()) != sorted(d.values(), reverse=True))
    if unsorted is not None:
        assert raw_unsorted == unsorted
    for i in range(n):
        lp = t.alt_logprobs[t.alt_offsets[i] : t.alt_offsets[i + 1]]
        assert (np.diff(lp) <= 0).all()  # sorted by us
    if name.startswith("gpt-3.5-instruct-porchlight"):
        assert t.meta.prompt == ""  # the saved request echo: [{"content": ""}]


# ----------------------------------------------------------------------------- Responses API


def test_responses_short_alternative_list_and_float_created_at_quirk4() -> None:
    path = fixture("openai_responses/gpt-4o-paris-top5.json")
    t = one(path)
    assert t.meta.format == "openai_responses"
    assert np.diff(t.alt_offsets).tolist() == [5, 5, 5, 5, 5, 5, 4]
    assert t.text == "The capital of France is Paris." == t.meta.provider_text
    assert t.meta.created == "2025-08-18T08:06:53Z"  # created_at 1755504413.0 (a float)
    assert t.meta.finish_reason == "completed"


def test_responses_stream_reads_deltas_once_with_full_precision_quirk11() -> None:
    stream = one(fixture(RESP_STREAM))
    completed = one(fixture(RESP_COMPLETED))
    assert stream.meta.format == "openai_responses_stream"
    assert completed.meta.format == "openai_responses"
    assert stream.n_tokens == completed.n_tokens == 422  # not 3-4x: one source only
    assert stream.tokens == completed.tokens and stream.text == completed.text
    # deltas keep full precision, response.completed rounds to 6 decimals
    assert not np.array_equal(stream.logprobs, completed.logprobs)
    np.testing.assert_allclose(stream.logprobs, completed.logprobs, atol=5.1e-7)
    assert np.array_equal(np.round(stream.logprobs, 6), completed.logprobs)


@pytest.mark.parametrize(
    "name",
    [
        "gpt-4o-mini-minas-gerais-nonstream.json",
        "gpt-4o-mini-minas-gerais-stream-completed.json",
        "gpt-4o-mini-minas-gerais-stream.sse.txt",
    ],
)
def test_responses_minas_gerais_envelopes_quirk10_quirk20(name: str) -> None:
    path = fixture(f"openai_responses/{name}")
    t = one(path)
    assert t.n_tokens == 9 and t.stats.top_k == 0
    assert t.text == "The capital of Minas Gerais is Belo Horizonte." == t.meta.provider_text
    assert t.meta.model == "gpt-4o-mini-2024-07-18"
    if "stream.sse" not in name:
        assert "-0.0" in path.read_text(encoding="utf-8")
        assert t.logprobs[0] == 0.0 and t.position_stats.p[0] == 1.0  # -0.0 is p = 1


def test_responses_without_logprobs_is_a_clear_error() -> None:
    resp = {
        "object": "response",
        "created_at": 1,
        "output": [{"type": "message", "content": [{"type": "output_text", "text": "Hi"}]}],
    }
    with pytest.raises(TraceReadError, match=r"\$\.output: this response has no logprobs"):
        read_json(resp)


# ----------------------------------------------------------------------------- Trace.from_openai


class FakeSdkObject:
    """Stands in for an openai-python pydantic model: only ``model_dump`` is used."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def model_dump(self, mode: str = "python") -> dict[str, Any]:
        assert mode == "json"
        return json.loads(json.dumps(self._data))


@pytest.mark.parametrize(
    "rel",
    [PIZZA, "openai_responses/gpt-4o-paris-top5.json"],
)
def test_from_openai_accepts_dict_json_text_and_sdk_objects(rel: str) -> None:
    path = fixture(rel)
    data = json.loads(path.read_text(encoding="utf-8"))
    expected = one(path)
    for response in (data, path.read_text(encoding="utf-8"), FakeSdkObject(data)):
        t = tracesite.from_openai(response)
        assert t == expected and t.text == expected.text


def test_from_openai_completions_object() -> None:
    lp = {"tokens": ["a"], "token_logprobs": [-0.1], "top_logprobs": [{"a": -0.1}]}
    t = tracesite.from_openai(FakeSdkObject(completions(lp, "a")))
    assert t.meta.format == "openai_completions" and t.text == "a"


def test_from_openai_rejects_non_openai_data_with_an_addressed_error() -> None:
    with pytest.raises(TraceReadError, match="not a trace format tracesite knows"):
        tracesite.from_openai({"hello": "world"})


def test_chat_response_with_legacy_style_logprobs_and_token_ids() -> None:
    """Together returns chat choices whose logprobs are parallel arrays with token ids."""
    resp = chat_response([], content="Hi there")
    resp["choices"][0]["logprobs"] = {
        "tokens": ["Hi", " there"],
        "token_logprobs": [-0.1, -0.2],
        "token_ids": [17, 42],
    }
    t = read_json(resp)[0]
    assert t.text == "Hi there" == t.meta.provider_text
    assert t.token_ids.tolist() == [17, 42] and t.stats.top_k == 0


def test_message_content_of_the_wrong_type_is_addressed_at_the_message() -> None:
    resp = chat_response([entry("A", -0.1)])
    resp["choices"][0]["message"]["content"] = 5
    with pytest.raises(
        TraceReadError, match=r": \$\.choices\[0\]\.message\.content: expected a string"
    ):
        read_json(resp)
