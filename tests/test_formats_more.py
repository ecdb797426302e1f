"""More shapes (issue 15): LangChain messages and generations, Cohere v2 chat, llama-cpp-python,
vLLM's prompt_logprobs and OpenAI Batch API lines.

Every fixture is small and written here from the producer's own code (cited per test), in the
exact shape it serialises; values are made up.
"""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import pytest

from formats_helpers import chat_response, entry, read_json, read_text
from tracesite import TraceReadError
from tracesite.formats import vllm
from tracesite.model.checks import data_flags


def codes(t: Any) -> set[str]:
    return {f.code for f in data_flags(t)}


def entries(*tokens: str) -> list[dict[str, Any]]:
    return [
        entry(tok, -0.1 * (i + 1), top=[(tok, -0.1 * (i + 1)), ("?", -3.0)])
        for i, tok in enumerate(tokens)
    ]


def chat_logprobs(*tokens: str) -> dict[str, Any]:
    return {"content": entries(*tokens), "refusal": None}


# ----------------------------------------------------------------------------- LangChain

#: ``langchain_core.load.dumpd(ChatOpenAI(logprobs=True).invoke(...))`` (langchain-core 1.x,
#: langchain-openai 1.x): ``_create_chat_result`` puts the choice's logprobs in
#: ``generation_info``, which with ``llm_output`` becomes ``response_metadata``.
PY_AIMESSAGE: dict[str, Any] = {
    "lc": 1,
    "type": "constructor",
    "id": ["langchain", "schema", "messages", "AIMessage"],
    "kwargs": {
        "content": "Hi there!",
        "additional_kwargs": {"refusal": None},
        "response_metadata": {
            "token_usage": {"completion_tokens": 3, "prompt_tokens": 9, "total_tokens": 12},
            "model_provider": "openai",
            "model_name": "gpt-4o-mini-2024-07-18",
            "system_fingerprint": "fp_0ba0d124f1",
            "id": "chatcmpl-BzT1",
            "service_tier": "default",
            "finish_reason": "stop",
            "logprobs": chat_logprobs("Hi", " there", "!"),
        },
        "type": "ai",
        "id": "lc_run--01a2-0",
        "usage_metadata": {"input_tokens": 9, "output_tokens": 3, "total_tokens": 12},
        "tool_calls": [],
        "invalid_tool_calls": [],
    },
}


def test_langchain_python_dumpd_of_an_ai_message() -> None:
    (t,) = read_json(PY_AIMESSAGE, "msg.json")
    assert t.meta.format == "langchain" and t.meta.source == "msg.json"
    assert t.text == "Hi there!" == t.token_text and t.n_tokens == 3 and t.stats.top_k == 2
    assert t.meta.model == "gpt-4o-mini-2024-07-18" and t.meta.finish_reason == "stop"
    assert t.meta.extra["id"] == "chatcmpl-BzT1" and t.meta.extra["message_id"] == "lc_run--01a2-0"
    assert t.meta.extra["usage"]["total_tokens"] == 12
    # dumps() is the same JSON as text; the Python dumps of a summed stream is an AIMessageChunk
    chunk = copy.deepcopy(PY_AIMESSAGE)
    chunk["id"][-1] = "AIMessageChunk"
    chunk["kwargs"]["type"] = "AIMessageChunk"
    chunk["kwargs"]["chunk_position"] = "last"
    assert read_text(json.dumps(chunk), "c.json")[0].text == "Hi there!"


def test_langchain_js_json_of_an_ai_message() -> None:
    # LangChain.js: JSON.stringify(await new ChatOpenAI({logprobs: true}).invoke(...)), as in
    # langchainjs examples/src/models/chat/integration_openai_logprobs*.ts (camelCase usage)
    js = {
        "lc": 1,
        "type": "constructor",
        "id": ["langchain_core", "messages", "AIMessage"],
        "kwargs": {
            "content": "Hello!",
            "additional_kwargs": {},
            "response_metadata": {
                "tokenUsage": {"completionTokens": 2, "promptTokens": 10, "totalTokens": 12},
                "finish_reason": "stop",
                "logprobs": {"content": entries("Hello", "!")},
            },
        },
    }
    (t,) = read_json(js)
    assert t.meta.format == "langchain" and t.text == "Hello!" and t.n_tokens == 2
    assert t.meta.extra["usage"] == {"completionTokens": 2, "promptTokens": 10, "totalTokens": 12}


def test_langchain_messages_to_dict_model_dump_and_a_chat_history() -> None:
    fields = PY_AIMESSAGE["kwargs"]
    (a,) = read_json({"type": "ai", "data": fields})  # messages_to_dict (chat histories)
    (b,) = read_json(fields)  # message.model_dump()
    assert a.text == b.text == "Hi there!" and a.meta.format == b.meta.format == "langchain"
    human = {
        "lc": 1,
        "type": "constructor",
        "id": ["langchain", "schema", "messages", "HumanMessage"],
        "kwargs": {"content": "Say hi", "type": "human"},
    }
    no_logprobs = copy.deepcopy(PY_AIMESSAGE)
    del no_logprobs["kwargs"]["response_metadata"]["logprobs"]
    history = [human, no_logprobs, human, PY_AIMESSAGE]
    (t,) = read_json(history, "chat.json")  # only the message with logprobs is a trace
    assert t.meta.source == "chat.json $[3]" and t.meta.format == "langchain"


def test_langchain_plain_response_metadata_is_found_with_its_fields() -> None:
    # AIMessage.response_metadata saved alone (json.dump(msg.response_metadata, f))
    (t,) = read_json(PY_AIMESSAGE["kwargs"]["response_metadata"], "meta.json")
    assert t.meta.source == "meta.json $.logprobs" and t.meta.format == "openai_chat"
    assert t.meta.model == "gpt-4o-mini-2024-07-18" and t.meta.finish_reason == "stop"
    assert t.meta.extra["id"] == "chatcmpl-BzT1" and t.meta.extra["usage"]["total_tokens"] == 12


def test_langchain_generations_chat_and_legacy_completions() -> None:
    # LangChain.js handleLLMEnd(output): LLMResult with generationInfo (examples/.../logprobs)
    result = {
        "generations": [
            [
                {
                    "text": "Hello!",
                    "message": {
                        "lc": 1,
                        "type": "constructor",
                        "id": ["langchain_core", "messages", "AIMessage"],
                        "kwargs": {"content": "Hello!", "additional_kwargs": {}},
                    },
                    "generationInfo": {
                        "finish_reason": "stop",
                        "logprobs": chat_logprobs("Hello", "!"),
                    },
                }
            ]
        ],
        "llmOutput": {"tokenUsage": {"completionTokens": 2, "promptTokens": 10, "totalTokens": 12}},
    }
    (t,) = read_json(result, "llm.json")
    assert t.meta.source == "llm.json $.generations[0][0]" and t.text == "Hello!"
    assert t.meta.finish_reason == "stop"
    # langchain_openai's OpenAI (completions) LLM: generation_info["logprobs"] is the legacy object
    gen = {
        "text": " Paris",
        "generation_info": {
            "finish_reason": "length",
            "logprobs": {
                "tokens": [" Paris"],
                "token_logprobs": [-0.02],
                "top_logprobs": [{" Paris": -0.02, " Lyon": -4.1}],
                "text_offset": [18],
            },
        },
        "type": "Generation",
    }
    (u,) = read_json(gen)
    assert u.meta.format == "langchain" and u.text == " Paris" and u.stats.top_k == 2


def test_langchain_errors_are_addressed_inside_the_message() -> None:
    bad = copy.deepcopy(PY_AIMESSAGE)
    bad["kwargs"]["response_metadata"]["logprobs"]["content"][1]["logprob"] = "x"
    with pytest.raises(TraceReadError) as err:
        read_json(bad, "msg.json")
    assert str(err.value) == (
        "msg.json: $.kwargs.response_metadata.logprobs.content[1].logprob: expected a number,"
        ' got "x"'
    )


# ----------------------------------------------------------------------------- Cohere

#: cohere-python ``V2ChatResponse`` (``v2/types/v2chat_response.py``) with ``logprobs``:
#: ``List[LogprobItem]``, each ``{text, token_ids, logprobs}`` (``types/logprob_item.py``).
COHERE = {
    "id": "5a50480a-cf52-46f0-af01-53d18539bd31",
    "finish_reason": "COMPLETE",
    "message": {"role": "assistant", "content": [{"type": "text", "text": "Hi 👋"}]},
    "usage": {
        "billed_units": {"input_tokens": 5, "output_tokens": 4},
        "tokens": {"input_tokens": 70, "output_tokens": 4},
    },
    "logprobs": [
        {"text": "Hi", "token_ids": [28339], "logprobs": [-0.0123]},
        {"text": " ", "token_ids": [228], "logprobs": [-0.5]},
        {"text": "👋", "token_ids": [9602, 237], "logprobs": [-1.25, -0.001]},
    ],
}


def test_cohere_v2_chat_logprobs() -> None:
    (t,) = read_json(COHERE, "cohere.json")
    assert t.meta.format == "cohere" and t.meta.finish_reason == "COMPLETE"
    assert t.token_ids.tolist() == [28339, 228, 9602, 237]
    # a chunk of two tokens: its text on the token that completes it, the other spells nothing
    assert t.tokens == ("Hi", " ", "", "👋")
    assert t.logprobs.tolist() == [-0.0123, -0.5, -1.25, -0.001]
    assert t.text == "Hi 👋" == t.token_text and t.stats.top_k == 0
    assert t.meta.extra["id"] == COHERE["id"] and "usage" in t.meta.extra
    assert "text_differs" not in codes(t)


def test_cohere_thinking_is_not_the_text_and_the_bare_list_reads_too() -> None:
    doc = copy.deepcopy(COHERE)
    doc["message"]["content"].insert(0, {"type": "thinking", "thinking": "greet back"})
    assert read_json(doc)[0].text == "Hi 👋"
    # the bare list kept in a record (a whole file of it is read as rollout rows: each item
    # has a token list and a logprob list)
    (bare,) = read_json({"reply_text": "Hi 👋", "reply_logprobs": COHERE["logprobs"]})
    assert bare.meta.format == "cohere" and bare.token_text == "Hi 👋"
    (inside,) = read_json({"question": "hi", "reply": COHERE}, "log.json")
    assert inside.meta.source == "log.json $.reply" and inside.meta.prompt == "hi"


def test_cohere_errors_are_addressed() -> None:
    doc = copy.deepcopy(COHERE)
    doc["logprobs"][2]["logprobs"] = [-1.25]
    with pytest.raises(TraceReadError) as err:
        read_json(doc, "c.json")
    assert str(err.value) == (
        "c.json: $.logprobs[2].logprobs: has 1 entries but token_ids has 2; they must pair up"
    )
    doc["logprobs"][2]["logprobs"] = [-1.25, 0.5]
    with pytest.raises(
        TraceReadError, match=r"\$\.logprobs\[2\]\.logprobs\[1\]: a logprob must be"
    ):
        read_json(doc)


# ----------------------------------------------------------------------------- llama-cpp-python


def llama_cpp_completion() -> dict[str, Any]:
    """``Llama.create_completion(prompt, logprobs=2)`` (llama_cpp/llama.py, _create_completion):
    each token decoded on its own with ``errors="ignore"``, so the two byte tokens of "é" are
    labelled "" (and share the key "" among the alternatives); ``text`` decodes all the bytes
    together; ``top_logprobs`` includes the chosen token; ``model`` is the model's path."""
    return {
        "id": "cmpl-4f1e8c1a-5b8e-4d55-9d1e-3c0c4a1d2f00",
        "object": "text_completion",
        "created": 1718000000,
        "model": "./models/qwen2.5-0.5b-instruct-q4_k_m.gguf",
        "choices": [
            {
                "text": " café",
                "index": 0,
                "logprobs": {
                    "tokens": [" caf", "", ""],
                    "text_offset": [12, 16, 16],
                    "token_logprobs": [-0.3, -0.9, -0.0001],
                    "top_logprobs": [
                        {" caf": -0.3, " cafe": -1.6},
                        {"": -0.9, "e": -1.1},
                        {"": -0.0001},
                    ],
                },
                "finish_reason": "length",
            }
        ],
        "usage": {"prompt_tokens": 4, "completion_tokens": 3, "total_tokens": 7},
    }


def test_llama_cpp_python_completion_with_partial_utf8_tokens() -> None:
    (t,) = read_json(llama_cpp_completion(), "lcp.json")
    assert t.meta.format == "openai_completions" and t.n_tokens == 3
    assert t.meta.model == "./models/qwen2.5-0.5b-instruct-q4_k_m.gguf"
    assert t.meta.created == "2024-06-10T06:13:20Z" and t.meta.finish_reason == "length"
    # the labels lost the bytes of "é": the provider's text is the text, the difference flagged
    assert t.token_text == " caf" and t.text == " café"
    (flag,) = [f for f in data_flags(t) if f.code == "text_differs"]
    assert "character 4" in flag.message and flag.positions == (2,)  # the first "" token
    assert t.stats.top_k == 2 and t.position_stats.rank.tolist() == [1, 1, 1]


def test_llama_cpp_python_chat_completion() -> None:
    # create_chat_completion(logprobs=True, top_logprobs=2): the completion converted by
    # llama_chat_format._convert_text_completion_to_chat: "bytes": None everywhere, alternatives
    # from the completion's top_logprobs dict, "chat" + the completion's id
    comp = llama_cpp_completion()
    lp = comp["choices"][0]["logprobs"]
    content = [
        {
            "token": tok,
            "bytes": None,
            "logprob": lp_,
            "top_logprobs": [{"token": k, "logprob": v, "bytes": None} for k, v in top.items()],
        }
        for tok, lp_, top in zip(
            lp["tokens"], lp["token_logprobs"], lp["top_logprobs"], strict=True
        )
    ]
    chat = {
        "id": "chat" + comp["id"],
        "object": "chat.completion",
        "created": comp["created"],
        "model": comp["model"],
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": " café"},
                "logprobs": {"content": content, "refusal": None},
                "finish_reason": "length",
            }
        ],
        "usage": comp["usage"],
    }
    (t,) = read_json(chat)
    assert t.meta.format == "openai_chat" and t.text == " café" and t.token_text == " caf"
    assert "text_differs" in codes(t)


def test_llama_cpp_python_echo_has_a_null_first_logprob() -> None:
    comp = llama_cpp_completion()
    lp = comp["choices"][0]["logprobs"]
    lp["token_logprobs"][0] = None  # echo=True: "Weird idosincracy of the OpenAI API"
    lp["top_logprobs"][0] = None
    (t,) = read_json(comp)
    assert t.stats.n_unknown == 1


# ----------------------------------------------------------------------------- vLLM prompt_logprobs


def vllm_completion(with_ids: bool) -> dict[str, Any]:
    """vLLM ``/v1/completions`` with ``logprobs: 1, prompt_logprobs: 1``: each choice carries
    ``prompt_logprobs`` (protocol.py CompletionResponseChoice), ``null`` first, then per prompt
    token ``{token_id: {logprob, rank, decoded_token}}``: the prompt token first with its true
    rank, then the top k (vllm/logprobs.py append_logprobs_for_next_position)."""
    choice: dict[str, Any] = {
        "index": 0,
        "text": " Paris",
        "logprobs": {
            "text_offset": [0],
            "token_logprobs": [-0.05],
            "tokens": [" Paris"],
            "top_logprobs": [{" Paris": -0.05}],
        },
        "finish_reason": "length",
        "stop_reason": None,
        "prompt_logprobs": [
            None,
            {
                "6864": {"logprob": -7.5, "rank": 312, "decoded_token": " capital"},
                "279": {"logprob": -1.2, "rank": 1, "decoded_token": " the"},
            },
            {"315": {"logprob": -0.01, "rank": 1, "decoded_token": " of"}},
            {"9822": {"logprob": -0.4, "rank": 1, "decoded_token": " France"}},
        ],
    }
    if with_ids:
        choice["prompt_token_ids"] = [785, 6864, 315, 9822]
    return {
        "id": "cmpl-9d2",
        "object": "text_completion",
        "created": 1718000000,
        "model": "Qwen/Qwen2.5-0.5B-Instruct",
        "choices": [choice],
        "usage": {"prompt_tokens": 4, "total_tokens": 5, "completion_tokens": 1},
    }


def test_vllm_prompt_logprobs_are_summarised_and_not_mixed_into_the_generated_trace() -> None:
    (t,) = read_json(vllm_completion(with_ids=True), "v.json")
    plain = copy.deepcopy(vllm_completion(with_ids=True))
    del plain["choices"][0]["prompt_logprobs"]
    (u,) = read_json(plain)
    assert t.n_tokens == u.n_tokens == 1 and t.stats == u.stats  # generated statistics unchanged
    info = t.meta.extra["prompt_logprobs"]
    assert info["n_tokens"] == 4 and info["n_unknown"] == 1  # the first prompt token has none
    assert (
        info["text"] == "token_id:785 capital of France"
        and info["prompt_token"] == "prompt_token_ids"
    )
    assert info["mean_prob"] == pytest.approx(
        (math.exp(-7.5) + math.exp(-0.01) + math.exp(-0.4)) / 3
    )
    json.dumps(info, allow_nan=False)  # small and JSON-safe: it goes into native files and caches


def test_vllm_prompt_positions_as_traces_of_their_own() -> None:
    (p,) = vllm.prompt_traces(vllm_completion(with_ids=True), "v.json")
    assert p.meta.format == "vllm_prompt" and p.meta.extra["part"] == "prompt"
    assert p.tokens == ("token_id:785", " capital", " of", " France")
    assert p.token_ids.tolist() == [785, 6864, 315, 9822]
    assert math.isnan(p.logprobs[0]) and p.logprobs[1] == -7.5
    # " capital" has rank 312, outside the one listed alternative: not among the alternatives
    assert [a.text for a in p.alternatives(1)] == [" the"]
    assert p.position_stats.rank.tolist()[1:] == [0, 1, 1]  # 0 = outside the listed top k
    # without prompt_token_ids the prompt token is the first listed entry (vLLM >= 0.8)
    (q,) = vllm.prompt_traces(vllm_completion(with_ids=False), "v.json")
    assert q.tokens[1:] == p.tokens[1:] and q.tokens[0] == ""
    (t,) = read_json(vllm_completion(with_ids=False))
    assert t.meta.extra["prompt_logprobs"]["prompt_token"] == "first listed entry"


def test_vllm_chat_prompt_logprobs_at_the_top_level() -> None:
    doc = chat_response(entries("Hi"))
    doc["prompt_logprobs"] = vllm_completion(with_ids=False)["choices"][0]["prompt_logprobs"]
    (t,) = read_json(doc)
    assert t.meta.format == "openai_chat" and t.meta.extra["prompt_logprobs"]["n_tokens"] == 4
    doc["prompt_logprobs"][2]["315"]["logprob"] = "x"
    with pytest.raises(
        TraceReadError, match=r'\$\.prompt_logprobs\[2\]\["315"\]\.logprob: expected'
    ):
        read_json(doc)


# ----------------------------------------------------------------------------- OpenAI Batch API


def batch_line(custom_id: str, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
    """One line of a Batch API output file (platform.openai.com/docs/guides/batch)."""
    return {
        "id": f"batch_req_{custom_id}",
        "custom_id": custom_id,
        "response": {"status_code": status, "request_id": "req_c187b3", "body": body},
        "error": None,
    }


def test_batch_output_lines_take_the_custom_id_as_the_slug() -> None:
    two = chat_response(entries("a"))
    two["choices"].append({**copy.deepcopy(two["choices"][0]), "index": 1})
    lines = [batch_line("task-1", chat_response(entries("Hi"))), batch_line("task-2", two)]
    traces = read_text("\n".join(json.dumps(x) for x in lines) + "\n", "batch_output.jsonl")
    assert [t.meta.extra["slug"] for t in traces] == ["task-1", "task-2", "task-2-2"]
    assert traces[0].meta.extra["custom_id"] == "task-1"
    assert traces[0].meta.extra["batch_request_id"] == "batch_req_task-1"
    assert traces[0].meta.extra["id"] == "chatcmpl-test"  # the response's own id is kept


def test_a_failed_batch_request_says_so() -> None:
    line = batch_line(
        "task-3", {"error": {"message": "Invalid model", "type": "invalid_request_error"}}, 400
    )
    with pytest.raises(TraceReadError) as err:
        read_text(json.dumps(line), "out.jsonl")
    assert str(err.value) == (
        "out.jsonl: $.response.body.error: this batch request failed (HTTP 400): Invalid model"
    )
