"""Traces kept inside users' own records (issue 15, formats/wrapped.py): found in document order,
read with the record's fields as metadata, addressed by their JSON path, the walk bounded."""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import pytest

from formats_helpers import chat_response, entry, read_json, read_text
from tracesite import TraceReadError
from tracesite.formats import traces_from_object, wrapped
from tracesite.model.checks import data_flags


def legacy_response(text: str = " Paris", created: int | None = None) -> dict[str, Any]:
    """A legacy Completions response (``/v1/completions``), as OpenAI and vLLM return it."""
    out: dict[str, Any] = {
        "id": "cmpl-7",
        "object": "text_completion",
        "model": "gpt-3.5-turbo-instruct",
        "choices": [
            {
                "text": text,
                "index": 0,
                "finish_reason": "length",
                "logprobs": {
                    "tokens": [text],
                    "token_logprobs": [-0.01],
                    "top_logprobs": [{text: -0.01, " Lyon": -5.0}],
                    "text_offset": [18],
                },
            }
        ],
    }
    if created is not None:
        out["created"] = created
    return out


def chat(n: int = 2) -> dict[str, Any]:
    return chat_response(
        [entry(f" w{i}", -0.5, top=[(f" w{i}", -0.5), (" x", -1.5)]) for i in range(n)]
    )


def error_of(obj: Any, name: str = "history.json") -> str:
    with pytest.raises(TraceReadError) as err:
        read_json(obj, name)
    return str(err.value)


# ----------------------------------------------------------------------------- records


def test_an_array_of_records_gives_each_response_with_its_path_and_the_records_fields() -> None:
    history = [
        {"timestamp": 1718000000, "prompt": "Capital of France?", "response": legacy_response()},
        {"timestamp": 1718000060, "prompt": "Say hi", "user": "ann", "response": chat()},
    ]
    first, second = read_json(history, "history.json")
    assert (first.meta.source, second.meta.source) == (
        "history.json $[0].response",
        "history.json $[1].response",
    )
    assert [first.meta.index, second.meta.index] == [0, 1]
    assert first.meta.format == "openai_completions" and first.text == " Paris"
    # the response has no created and no prompt: the record's are taken
    assert first.meta.prompt == "Capital of France?"
    assert first.meta.created == "2024-06-10T06:13:20Z"
    assert first.meta.extra["id"] == "cmpl-7"  # the response's own metadata is kept
    # the chat response has its own created: it wins, the record's timestamp goes to extra
    assert second.meta.created == "2023-11-14T22:13:20Z"
    assert second.meta.extra["timestamp"] == 1718000060 and second.meta.extra["user"] == "ann"
    assert second.meta.prompt == "Say hi" and second.meta.model == "gpt-test"


def test_a_chat_logprobs_object_beside_its_message_takes_the_message_as_its_text() -> None:
    lp = {
        "content": [entry("Hi", -0.1), entry("!", -0.2), entry("<|end|>", -0.01, bytes=None)],
        "refusal": None,
    }
    record = {"id": 41, "message": {"role": "assistant", "content": "Hi!"}, "logprobs": lp}
    (t,) = read_json(record, "rec.json")
    assert t.meta.source == "rec.json $.logprobs" and t.meta.format == "openai_chat"
    assert t.meta.provider_text == "Hi!" == t.text == t.token_text
    assert t.special.tolist() == [False, False, True]  # checked against the message's text
    assert dict(t.meta.extra) == {"id": 41}  # the message is the text, not an extra field
    assert "text_differs" not in {f.code for f in data_flags(t)}
    # a bare content list beside a plain string field works the same way
    (u,) = read_json({"output": "Hi!", "tokens": lp["content"]})
    assert u.meta.provider_text == "Hi!" and u.special.tolist() == [False, False, True]


def test_json_lines_of_records_each_line_a_record() -> None:
    lines = [
        {"ts": "2024-06-10T06:13:20Z", "run": i, "result": {"raw": legacy_response(f" w{i}")}}
        for i in range(3)
    ]
    traces = read_text("\n".join(json.dumps(x) for x in lines) + "\n", "runs.jsonl")
    assert [t.meta.source for t in traces] == [
        f"runs.jsonl line {i + 1}: $.result.raw" for i in range(3)
    ]
    assert [t.meta.extra["run"] for t in traces] == [0, 1, 2]
    assert [t.text for t in traces] == [" w0", " w1", " w2"]
    assert traces[0].meta.extra["ts"] == "2024-06-10T06:13:20Z"  # not a field name for created


def test_document_order_and_the_fields_of_every_record_around_a_trace() -> None:
    doc = {
        "model": "my-finetune",
        "experiment": "e7",
        "runs": [
            {"seed": 2, "answers": [chat(1), chat(2)]},
            {"seed": 3, "answer": chat(3)},
        ],
    }
    traces = read_json(doc, "exp.json")
    assert [t.meta.source for t in traces] == [
        "exp.json $.runs[0].answers[0]",
        "exp.json $.runs[0].answers[1]",
        "exp.json $.runs[1].answer",
    ]
    assert [t.n_tokens for t in traces] == [1, 2, 3]
    assert [t.meta.extra["seed"] for t in traces] == [2, 2, 3]  # the nearest record first
    assert {t.meta.extra["experiment"] for t in traces} == {"e7"}
    assert {t.meta.model for t in traces} == {"gpt-test"}  # the response's own model wins
    assert {t.meta.extra["record.model"] for t in traces} == {"my-finetune"}  # kept, renamed


def test_record_timestamps_in_milliseconds_dates_and_durations() -> None:
    def created(record: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
        (t,) = read_json({**record, "completion": legacy_response()})
        return t.meta.created, dict(t.meta.extra)

    assert created({"timestamp": 1718000000123})[0] == "2024-06-10T06:13:20.123Z"
    assert created({"created_at": "2024-06-10 06:13"})[0] == "2024-06-10 06:13"
    when, extra = created({"time": 1.5})  # a duration: not a moment
    assert when is None and extra["time"] == 1.5
    assert created({"date": "yesterday"})[1]["date"] == "yesterday"


def test_a_stream_kept_as_a_list_inside_a_record_is_one_trace() -> None:
    chunks = [
        {
            "object": "chat.completion.chunk",
            "id": "c1",
            "choices": [
                {"index": 0, "delta": {"content": w}, "logprobs": {"content": [entry(w, -0.1)]}}
            ],
        }
        for w in ("a", "b", "c")
    ]
    (t,) = read_json({"request": {"stream": True}, "chunks": chunks}, "s.json")
    assert t.meta.format == "openai_chat_stream" and t.text == "abc"
    assert t.meta.source == "s.json $.chunks"


def test_a_legacy_logprobs_object_with_the_text_of_its_choice() -> None:
    lp = legacy_response()["choices"][0]["logprobs"]
    (t,) = read_json({"prompt": "Capital of France?", "text": " Paris", "logprobs": lp})
    assert t.meta.format == "openai_completions" and t.meta.provider_text == " Paris"
    assert t.meta.prompt == "Capital of France?" and "text" not in t.meta.extra


def test_other_formats_inside_records_too() -> None:
    gemini = {
        "candidates": [
            {
                "content": {"parts": [{"text": "Hi"}], "role": "model"},
                "logprobsResult": {
                    "chosenCandidates": [{"token": "Hi", "logProbability": -0.1}],
                    "topCandidates": [{"candidates": [{"token": "Hi", "logProbability": -0.1}]}],
                },
            }
        ],
        "modelVersion": "gemini-2.5-flash",
    }
    (t,) = read_json({"case": "greeting", "reply": gemini})
    assert t.meta.format == "gemini" and t.text == "Hi" and t.meta.extra["case"] == "greeting"


# ----------------------------------------------------------------------------- errors


def test_an_error_inside_a_record_is_addressed_by_its_path() -> None:
    history = [{"prompt": "a", "response": chat()}, {"prompt": "b", "response": chat()}]
    bad = copy.deepcopy(history)
    bad[1]["response"]["choices"][0]["logprobs"]["content"][1]["logprob"] = "x"
    assert error_of(bad) == (
        'history.json: $[1].response.choices[0].logprobs.content[1].logprob: expected a number, got "x"'
    )
    lines = "\n".join(json.dumps(r) for r in bad)
    with pytest.raises(TraceReadError) as err:
        read_text(lines, "h.jsonl")
    assert str(err.value).startswith(
        "h.jsonl: line 2: $.response.choices[0].logprobs.content[1].logprob: expected a number"
    )


def test_a_response_without_logprobs_inside_a_record_says_so_with_its_path() -> None:
    resp = chat()
    resp["choices"][0]["logprobs"] = None
    assert error_of({"log": [{"response": resp}]}).startswith(
        "history.json: $.log[0].response.choices: no choice has logprobs"
    )


@pytest.mark.parametrize(
    "doc",
    [
        {"hello": "world"},
        {"a": {"b": [1, 2, 3]}, "c": "x"},
        [{"note": "no trace here"}, {"items": [{"x": 1}]}],
        # keys that traces have, in records that are not traces: not read as traces
        {"quiz": [{"question": "2+2?", "choices": ["3", "4"], "answer": 1}]},
        {"history": [{"content": "hi"}, {"content": "hello"}]},
        {"election": {"candidates": ["ann", "bob"]}},
        [],
        {},
    ],
)
def test_a_document_with_no_trace_anywhere_keeps_the_clear_error(doc: Any) -> None:
    message = error_of(doc, "notes.json")
    assert "not a trace format tracesite knows" in message or "empty" in message


def test_the_unknown_error_still_names_the_top_level_keys() -> None:
    assert error_of({"hello": "world"}, "notes.json").startswith(
        'notes.json: $: not a trace format tracesite knows (top-level keys: "hello")'
    )


# ----------------------------------------------------------------------------- bounds


def test_a_10000_deep_document_returns_at_once_with_the_clear_error() -> None:
    deep: Any = {"x": 1}
    for _ in range(10_000):
        deep = {"a": deep}
    start = time.perf_counter()
    with pytest.raises(TraceReadError, match="not a trace format tracesite knows"):
        traces_from_object(deep, "deep.json")
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize(
    "doc",
    [
        {f"k{i}": i for i in range(1_000_000)},
        {"a": [[{"b": [1]} for _ in range(1000)] for _ in range(1000)]},
        {"rows": [{"v": i} for i in range(1_000_000)]},
    ],
    ids=["a million keys", "a million nested objects", "a million records in a record"],
)
def test_a_million_node_document_is_searched_within_the_bounds(
    doc: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    looked_at = 0
    real = wrapped._match

    def counting(node: Any, recognise: Any) -> Any:
        nonlocal looked_at
        looked_at += 1
        return real(node, recognise)

    monkeypatch.setattr(wrapped, "_match", counting)
    start = time.perf_counter()
    with pytest.raises(TraceReadError, match="not a trace format tracesite knows"):
        traces_from_object(doc, "big.json")
    assert looked_at <= wrapped.MAX_NODES + 1
    assert time.perf_counter() - start < 5.0  # generous: the bound, not the machine, is tested


def test_a_trace_deeper_than_the_bound_is_not_looked_for() -> None:
    def nest(depth: int) -> Any:
        doc: Any = chat()
        for _ in range(depth):
            doc = {"wrap": doc}
        return doc

    (t,) = read_json(nest(wrapped.MAX_DEPTH))
    assert t.meta.source == "test.json $" + ".wrap" * wrapped.MAX_DEPTH
    assert "not a trace format" in error_of(nest(wrapped.MAX_DEPTH + 1))


def test_a_search_stopped_by_a_bound_says_so_on_the_traces_it_found(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(wrapped, "MAX_NODES", 10)
    doc = {"first": chat(), "filler": [{"i": i} for i in range(50)], "second": chat()}
    (t,) = read_json(doc)  # the second response lies past the bound
    (flag,) = [f for f in data_flags(t) if f.code == "search_stopped"]
    assert "stopped at $.filler" in flag.message and "after 10 values" in flag.message
    monkeypatch.setattr(wrapped, "MAX_NODES", 5_000)
    assert len(read_json(doc)) == 2
