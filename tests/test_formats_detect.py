"""Detection from content, containers (JSON, JSON lines, SSE), and addressed errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import tracesite
from formats_helpers import chat_response, entry, fixture, read_json, read_text, sse
from tracesite import TraceReadError
from tracesite.formats import read_bytes
from tracesite.formats.detect import FORMAT_NAMES, KNOWN_FORMATS


def error_of(data: bytes | str | dict[str, Any] | list[Any], name: str = "run3.json") -> str:
    if isinstance(data, dict | list):
        data = json.dumps(data)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with pytest.raises(TraceReadError) as err:
        read_bytes(data, name)
    return str(err.value)


def pizza_like(n: int = 20) -> dict[str, Any]:
    return chat_response(
        [entry(f" w{i}", -0.5, top=[(f" w{i}", -0.5), (" x", -1.5)]) for i in range(n)]
    )


# ----------------------------------------------------------------------------- addressed errors


def test_bad_logprob_message_is_exactly_the_spec_example() -> None:
    doc = pizza_like()
    doc["choices"][0]["logprobs"]["content"][17]["logprob"] = "abc"
    assert error_of(doc, "content/run3.json") == (
        'content/run3.json: $.choices[0].logprobs.content[17].logprob: expected a number, got "abc"'
    )


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("logprob",), 0.5, "a logprob must be <= 0 (a probability <= 1), got 0.5"),
        (("logprob",), None, None),  # null is "unknown", not an error
        (("token",), 7, "expected a string, got 7"),
        (("bytes",), [300], "expected an array of byte values 0..255, got an array"),
        (("bytes",), "abc", 'expected an array of byte values 0..255, got "abc"'),
        (("top_logprobs",), {"a": 1}, "expected an array, got an object"),
        (("top_logprobs", 0, "logprob"), True, "expected a number, got true"),
    ],
)
def test_wrong_types_and_values_are_addressed(
    path: tuple[Any, ...], value: Any, message: str | None
) -> None:
    doc = pizza_like()
    target: Any = doc["choices"][0]["logprobs"]["content"][3]
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    addr = "$.choices[0].logprobs.content[3]" + "".join(
        f"[{k}]" if isinstance(k, int) else f".{k}" for k in path
    )
    if message is None:
        assert read_json(doc)[0].stats.n_unknown == 1
        return
    if path[-1] == "top_logprobs":
        addr = "$.choices[0].logprobs.content[3].top_logprobs"
    assert error_of(doc) == f"run3.json: {addr}: {message}"


def test_nan_and_infinity_literals_are_errors() -> None:
    text = json.dumps(pizza_like()).replace('"logprob": -0.5', '"logprob": NaN', 1)
    assert error_of(text).endswith(
        "content[0].logprob: expected a logprob (a number <= 0), got nan"
    )
    text = json.dumps(pizza_like()).replace('"logprob": -0.5', '"logprob": Infinity', 1)
    assert "expected a logprob (a number <= 0), got inf" in error_of(text)
    # -Infinity is log 0: an exact zero probability, accepted
    text = json.dumps(pizza_like()).replace('"logprob": -0.5', '"logprob": -Infinity', 1)
    assert read_bytes(text.encode(), "x.json")[0].position_stats.p[0] == 0.0


def test_probability_outside_unit_interval_is_an_error() -> None:
    ev = {
        "content": "a",
        "stop": True,
        "completion_probabilities": [{"content": "a", "probs": [{"tok_str": "a", "prob": 1.5}]}],
    }
    assert error_of(ev) == (
        "run3.json: $.completion_probabilities[0].probs[0].prob: "
        "a probability must be between 0 and 1, got 1.5"
    )


def test_json_lines_errors_name_the_line_then_the_json_path() -> None:
    chunks = [
        {
            "object": "chat.completion.chunk",
            "id": "c",
            "choices": [
                {"index": 0, "delta": {"content": w}, "logprobs": {"content": [entry(w, -0.1)]}}
            ],
        }
        for w in ("a", "b", "c")
    ]
    chunks[2]["choices"][0]["logprobs"]["content"][0]["logprob"] = "abc"
    text = "\n".join(json.dumps(c) for c in chunks)
    assert error_of(text, "s.jsonl") == (
        's.jsonl: line 3: $.choices[0].logprobs.content[0].logprob: expected a number, got "abc"'
    )
    # the same in SSE: blank lines between events, so the bad event is on line 5
    assert error_of(sse(chunks), "s.txt").startswith("s.txt: line 5: $.choices[0].logprobs")


def test_syntax_errors_name_the_line() -> None:
    assert error_of('{\n  "a": 1,\n  "b": ]\n}') == (
        "run3.json: line 3: not valid JSON: Expecting value (column 8)"
    )
    assert error_of('{"tracesite": 1, "tokens": []}\n{"tracesite": 1, "tokens": [}\n').startswith(
        "run3.json: line 2: not valid JSON"
    )
    assert error_of('data: {"a": \n\n').startswith("run3.json: line 1: not valid JSON")


def test_unknown_json_names_the_formats_it_expected() -> None:
    message = error_of({"hello": "world"})
    assert message.startswith(
        'run3.json: $: not a trace format tracesite knows (top-level keys: "hello")'
    )
    assert "; expected one of: " in message
    for known in KNOWN_FORMATS:
        assert known in message
    assert "OpenAI chat completion" in message and "Gemini" in message and "TGI" in message


def test_not_utf8_empty_and_deeply_nested_files() -> None:
    assert error_of(b'{"a": "\xff"}') == "run3.json: line 1: not UTF-8 text: byte 0xff at offset 7"
    assert error_of(b"  \n") == "run3.json: empty file: no trace data"
    assert error_of("\n" + "[" * 100_000 + "]" * 100_000) == (
        "run3.json: line 2: not readable JSON: nested too deeply"
    )
    assert error_of('{"tracesite": 1, "tokens": [' + "1" * 5000 + "]}") == (
        "run3.json: line 1: not readable JSON: a number has too many digits"
    )
    assert (
        error_of("123")
        == "run3.json: $: not a trace format tracesite knows (got 123); "
        + error_of("123").split("; ", 1)[1]
    )


def test_stream_error_events_are_reported() -> None:
    text = sse(
        [pizza_like(1) | {"object": "chat.completion.chunk"}, {"error": {"message": "overloaded"}}]
    )
    assert "the stream reports an error" in error_of(text)


# ----------------------------------------------------------------------------- containers and detection


def test_detection_ignores_the_file_extension(tmp_path: Path) -> None:
    src = fixture("gemini/vertex-gemini-2.5-flash-hello-top2.json")
    odd = tmp_path / "response.txt"
    odd.write_bytes(src.read_bytes())
    assert tracesite.load(odd)[0].meta.format == "gemini"


def test_bom_and_crlf_are_accepted() -> None:
    data = json.dumps(pizza_like(2), indent=1).replace("\n", "\r\n").encode("utf-8")
    assert read_bytes(b"\xef\xbb\xbf" + data, "x.json")[0].n_tokens == 2
    text = sse([pizza_like(1) | {"object": "chat.completion.chunk"}]).replace("\n", "\r\n")
    chunk = json.loads(text.split("data: ", 1)[1].split("\r\n")[0])
    assert chunk["object"] == "chat.completion.chunk"


def test_native_jsonl_and_concatenated_json_give_one_trace_per_value() -> None:
    docs = [
        {"tracesite": 1, "model": f"m{i}", "tokens": [{"text": str(i), "logprob": -0.1}]}
        for i in range(3)
    ]
    for text in (
        "\n".join(json.dumps(d) for d in docs) + "\n",
        "\n".join(json.dumps(d, indent=2) for d in docs),  # pretty-printed, one after another
    ):
        traces = read_text(text, "n.jsonl")
        assert [t.meta.model for t in traces] == ["m0", "m1", "m2"]
        assert [t.meta.index for t in traces] == [0, 1, 2]
        assert {t.meta.format for t in traces} == {"native"}


def test_jsonl_of_separate_responses_and_a_json_array_of_them() -> None:
    a, b = pizza_like(2), pizza_like(3)
    b["id"] = "other"
    assert [t.n_tokens for t in read_text(json.dumps(a) + "\n" + json.dumps(b))] == [2, 3]
    assert [t.n_tokens for t in read_json([a, b])] == [2, 3]
    with pytest.raises(TraceReadError, match=r"\$\[1\]: not a trace format"):
        read_json([a, {"x": 1}], "arr.json")


def test_openai_batch_output_lines_are_unwrapped() -> None:
    line = {
        "id": "batch_req_1",
        "custom_id": "q1",
        "response": {"status_code": 200, "body": pizza_like(4)},
    }
    t = read_text(json.dumps(line) + "\n" + json.dumps(line | {"custom_id": "q2"}))
    assert [x.n_tokens for x in t] == [4, 4]
    bad = json.loads(json.dumps(line))
    bad["response"]["body"]["choices"][0]["logprobs"]["content"][0]["logprob"] = "x"
    with pytest.raises(TraceReadError, match=r"line 2: \$\.response\.body\.choices\[0\]"):
        read_text(json.dumps(line) + "\n" + json.dumps(bad))
    with pytest.raises(TraceReadError, match=r": \$\.response\.body\.choices\[0\]"):
        read_text(json.dumps(bad))  # one line is one JSON document: no line number


def test_single_chat_chunk_and_mixed_streams() -> None:
    chunk = {
        "object": "chat.completion.chunk",
        "id": "c",
        "choices": [
            {"index": 0, "delta": {"content": "a"}, "logprobs": {"content": [entry("a", -0.1)]}}
        ],
    }
    assert read_json(chunk)[0].meta.format == "openai_chat_stream"
    mixed = sse([chunk, {"type": "response.created", "response": {}}])
    with pytest.raises(TraceReadError, match=r"line 3: \$: not a chat stream event"):
        read_text(mixed)


def test_format_names_are_short_and_stable() -> None:
    assert set(FORMAT_NAMES) >= {
        "native",
        "openai_chat",
        "openai_chat_stream",
        "openai_completions",
        "openai_responses",
        "llamacpp",
        "gemini",
        "tgi",
        "npz",
    }
    assert all(n.isidentifier() for n in FORMAT_NAMES)


def test_load_missing_file_is_a_trace_read_error(tmp_path: Path) -> None:
    with pytest.raises(TraceReadError) as err:
        tracesite.load(tmp_path / "nope.json")
    assert (
        str(err.value) == f"{tmp_path / 'nope.json'}: cannot read file: No such file or directory"
    )


def test_json_array_of_chat_chunks_is_one_stream_with_array_addresses() -> None:
    chunks = [
        {
            "object": "chat.completion.chunk",
            "id": "c",
            "choices": [
                {"index": 0, "delta": {"content": w}, "logprobs": {"content": [entry(w, -0.1)]}}
            ],
        }
        for w in ("a", "b")
    ]
    (t,) = read_json(chunks)
    assert t.meta.format == "openai_chat_stream" and t.text == "ab"
    chunks[1]["choices"][0]["logprobs"]["content"][0]["logprob"] = 3
    with pytest.raises(
        TraceReadError, match=r": \$\[1\]\.choices\[0\]\.logprobs\.content\[0\]\.logprob: "
    ):
        read_json(chunks)
