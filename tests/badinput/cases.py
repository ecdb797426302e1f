"""The bad-input corpus: each case is a file, what it is, and what tracesite must say about it.

Used by tests/test_bad_input.py (through the real CLI) and listed in docs/reliability.md. Cases
are generated here, not committed as files, so each one says what it is. ``error`` is a regex for
the one line naming the file, after ``content/<name>``; None means the input has a documented
reading and builds (``reading`` checks it on ``inspect --json``'s objects).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Case:
    """One bad input. ``error`` is a regex for the one line naming ``name`` (after
    ``content/<name>``); None means the input has a documented reading and builds.
    ``reading`` checks that reading on ``inspect --json``'s objects."""

    id: str
    name: str
    data: bytes
    error: str | None
    reading: Callable[[list[dict[str, object]]], bool] | None = None
    extra: dict[str, bytes] = field(default_factory=dict)  # more files the case needs
    also: tuple[str, ...] = ()  # regexes of further error lines this case causes
    # JSON with no trace anywhere: the build skips it with a warning (an error with --strict,
    # issue 15); ``error`` is then the warning's text. inspect still reports it as an error.
    skipped: bool = False


# -- builders of small documents -------------------------------------------------------------------


def _dump(obj: object) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


def _tok(text: str = "a", lp: object = -0.1) -> dict[str, object]:
    return {"text": text, "logprob": lp, "top": [{"text": text, "logprob": lp}]}


def _native(tokens: list[object], **meta: object) -> bytes:
    return _dump({"tracesite": 1, **meta, "tokens": tokens})


GOOD_NATIVE = _native([_tok("a"), _tok("b")])


def _entry(text: str = "a", lp: object = -0.1) -> dict[str, object]:
    raw = list(text.encode())
    return {
        "token": text,
        "logprob": lp,
        "bytes": raw,
        "top_logprobs": [{"token": text, "logprob": lp, "bytes": raw}],
    }


def _chat(content: object) -> bytes:
    return _dump(
        {
            "object": "chat.completion",
            "model": "gpt-test",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "ab"},
                    "logprobs": {"content": content},
                    "finish_reason": "stop",
                }
            ],
        }
    )


GOOD_CHAT = _chat([_entry("a"), _entry("b")])


def _completions(tokens: list[str], lps: list[float], tops: list[dict[str, float]]) -> bytes:
    return _dump(
        {
            "object": "text_completion",
            "choices": [
                {
                    "index": 0,
                    "text": "".join(tokens),
                    "logprobs": {
                        "tokens": tokens,
                        "token_logprobs": lps,
                        "top_logprobs": tops,
                        "text_offset": list(range(len(tokens))),
                    },
                    "finish_reason": "stop",
                }
            ],
        }
    )


def _gemini(chosen: list[object], top: list[object]) -> bytes:
    return _dump(
        {
            "candidates": [
                {
                    "content": {"parts": [{"text": "ab"}]},
                    "logprobsResult": {"chosenCandidates": chosen, "topCandidates": top},
                }
            ]
        }
    )


def _gem(token: str, lp: object) -> dict[str, object]:
    return {"token": token, "logProbability": lp}


def _tgi(tokens: list[dict[str, object]], top: object = None) -> bytes:
    return _dump(
        {
            "generated_text": "ab",
            "details": {
                "finish_reason": "length",
                "generated_tokens": len(tokens),
                "tokens": tokens,
                "top_tokens": top,
            },
        }
    )


def _tgi_tok(text: str, lp: object) -> dict[str, object]:
    return {"id": 1, "text": text, "logprob": lp, "special": False}


def _responses(logprobs: object) -> bytes:
    return _dump(
        {
            "object": "response",
            "created_at": 1,
            "model": "gpt-test",
            "output": [
                {
                    "type": "message",
                    "content": [{"type": "output_text", "text": "a", "logprobs": logprobs}],
                }
            ],
        }
    )


def _npz(**arrays: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)  # type: ignore[arg-type]
    return buf.getvalue()


def _npz_declaring(name: str, shape: tuple[int, ...], dtype: str, suffix: str = ".npy") -> bytes:
    """An .npz whose array ``name`` declares ``shape`` in its header and holds no data (and a
    well-formed ``logprobs``)."""
    from numpy.lib import format as npformat

    def npy(shape: tuple[int, ...], dtype: str, data: bytes = b"") -> bytes:
        head = io.BytesIO()
        header = {"descr": np.dtype(dtype).str, "fortran_order": False, "shape": shape}
        npformat.write_array_header_1_0(head, header)
        return head.getvalue() + data

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr(name + suffix, npy(shape, dtype))
        archive.writestr("logprobs.npy", npy((1,), "<f8", bytes(8)))
    return buf.getvalue()


def _sse(*payloads: bytes) -> bytes:
    return b"".join(b"data: " + p + b"\n\n" for p in payloads) + b"data: [DONE]\n\n"


def _chunk(text: str) -> bytes:
    return _dump(
        {
            "object": "chat.completion.chunk",
            "choices": [
                {"index": 0, "delta": {"content": text}, "logprobs": {"content": [_entry(text)]}}
            ],
        }
    )


# -- readings of the accepted cases (on inspect --json objects) -------------------------------------


def _one(pred: Callable[[dict[str, object]], bool]) -> Callable[[list[dict[str, object]]], bool]:
    return lambda objs: len(objs) == 1 and pred(objs[0])


# The regex pieces shared by many cases
NOT_JSON = r"line \d+: not valid JSON: "
EXPECTED_NUMBER = r"expected a number, got "
NOT_A_LOGPROB = r"a logprob must be <= 0 \(a probability <= 1\), got "
UNKNOWN_FORMAT = r"\$: not a trace format tracesite knows"

TRACE_CASES: list[Case] = [
    # -- bytes that are not a JSON document at all
    Case("empty-file", "empty.json", b"", r"empty file: no trace data"),
    Case("whitespace-only", "blank.json", b" \n\t\r\n  \n", r"empty file: no trace data"),
    Case("bom-only", "bom-only.json", b"\xef\xbb\xbf", r"empty file: no trace data"),
    Case(
        "binary-garbage",
        "garbage.json",
        bytes(range(256)) * 8,
        r"line \d+: not UTF-8 text: byte 0x80 at offset 128",
    ),
    Case(
        "png-named-json",
        "image.json",
        b"\x89PNG\r\n\x1a\n" + bytes(64),
        r"line 1: not UTF-8 text: byte 0x89 at offset 0",
    ),
    Case(
        "invalid-utf8-in-string",
        "latin1.json",
        GOOD_NATIVE.replace(b'"a"', b'"caf\xe9"', 1),
        r"line 1: not UTF-8 text: byte 0xe9 at offset \d+",
    ),
    Case(
        "utf16-file",
        "utf16.json",
        GOOD_NATIVE.decode().encode("utf-16"),
        r"line 1: not UTF-8 text: byte 0xff at offset 0",
    ),
    Case(
        "truncated-native",
        "truncated.json",
        GOOD_NATIVE[: len(GOOD_NATIVE) // 2],
        NOT_JSON + r"Unterminated string",
    ),
    Case("truncated-chat", "truncated-chat.json", GOOD_CHAT[:-7], NOT_JSON),
    Case("csv-text", "table.csv.txt", b"token,logprob\na,-0.1\n", NOT_JSON + r"Expecting value"),
    Case("plain-prose", "notes.txt", b"The model said hello.\n", NOT_JSON + r"Expecting value"),
    Case(
        "raw-nul-in-string",
        "nul.json",
        GOOD_NATIVE.replace(b'"a"', b'"a\x00"', 1),
        NOT_JSON + r"Invalid control character",
    ),
    Case(
        "deep-nesting-100k-brackets", "deep.json", b"[" * 100_000, r"line \d+: .*nested too deeply"
    ),
    Case(
        "deep-nesting-100k-objects",
        "deep-obj.json",
        b'{"a":' * 100_000,
        r"line \d+: .*nested too deeply",
    ),
    Case(
        "integer-of-5000-digits",
        "huge-int.json",
        b'{"tracesite": 1, "tokens": [{"text": "a", "logprob": -1' + b"0" * 5000 + b"}]}",
        # Python's own advice ("use sys.set_int_max_str_digits()") is no help to a user
        r"line \d+: (?!.*set_int_max_str_digits).*digits",
    ),
    Case(
        "jsonl-with-a-truncated-line",
        "runs.jsonl",
        GOOD_NATIVE + b"\n" + GOOD_NATIVE + b"\n" + GOOD_NATIVE[:-5] + b"\n",
        NOT_JSON,
    ),
    Case(
        "sse-with-broken-data",
        "stream.sse.txt",
        b"data: " + _chunk("a") + b"\n\ndata: {broken\n\n",
        r"line 3: not valid JSON",
    ),
    Case(
        "sse-with-a-stray-line",
        "stray.sse.txt",
        b"data: " + _chunk("a") + b"\nhello world\n",
        r"line 2: not a Server-Sent Events line",
    ),
    Case("sse-only-done", "done.sse.txt", b"data: [DONE]\n\n", r"no JSON data in this file"),
    Case(
        "stream-with-a-foreign-event",
        "mixed.sse.txt",
        _sse(_chunk("a"), b'{"foo": 1}'),
        r"line 3: \$: not a chat stream event",
    ),
    # -- JSON of the wrong shape
    Case("empty-object", "empty-object.json", b"{}", UNKNOWN_FORMAT, skipped=True),
    Case("empty-array", "empty-array.json", b"[]", UNKNOWN_FORMAT, skipped=True),
    Case("json-null", "null.json", b"null", UNKNOWN_FORMAT + r" \(got null\)", skipped=True),
    Case(
        "json-string", "string.json", b'"hello"', UNKNOWN_FORMAT + r' \(got "hello"\)', skipped=True
    ),
    Case(  # found by atheris in CI: it used to give no trace and no error
        "bare-logprobs-content-null",
        "content-null.json",
        b'{"content": null}',
        r"\$\.content: no token list \(content is null and there is no refusal\)",
    ),
    Case(
        "unknown-format",
        "unknown.json",
        b'{"foo": 1, "bar": [1, 2]}',
        UNKNOWN_FORMAT + r' \(top-level keys: "bar", "foo"\)',
        skipped=True,
    ),
    Case(
        "jsonl-with-a-number-line",
        "scalar.jsonl",
        GOOD_NATIVE + b"\n42\n",
        r"line 2: " + UNKNOWN_FORMAT,
    ),
    Case(
        "native-version-3",
        "v3.json",
        b'{"tracesite": 3, "tokens": []}',
        r"\$\.tracesite: unsupported native format version 3",
    ),
    Case(
        "native-tokens-object",
        "tokens-object.json",
        b'{"tracesite": 1, "tokens": {"a": 1}}',
        r"\$\.tokens: expected an array, got an object",
    ),
    Case(
        "native-tokens-null",
        "tokens-null.json",
        b'{"tracesite": 1, "tokens": null}',
        r"\$\.tokens: expected an array, got null",
    ),
    Case(
        "native-text-number",
        "text-number.json",
        _native([{"text": 5, "logprob": -1}]),
        r"\$\.tokens\[0\]\.text: expected a string, got 5",
    ),
    Case(
        "native-logprob-string",
        "lp-string.json",
        _native([_tok("a"), _tok("b", "abc")]),
        r"\$\.tokens\[1\]\.logprob: " + EXPECTED_NUMBER + '"abc"',
    ),
    Case(
        "native-logprob-bool",
        "lp-bool.json",
        _native([_tok("a", True)]),
        r"\$\.tokens\[0\]\.logprob: " + EXPECTED_NUMBER + "true",
    ),
    Case(
        "native-no-logprob",
        "no-lp.json",
        _native([{"text": "a"}]),
        r'\$\.tokens\[0\]: expected a "logprob" \(or "prob"\) key',
    ),
    Case(
        "native-top-not-list",
        "top-str.json",
        _native([{"text": "a", "logprob": -1, "top": "x"}]),
        r'\$\.tokens\[0\]\.top: expected an array, got "x"',
    ),
    Case(
        "native-model-object",
        "model-object.json",
        _native([_tok()], model={"x": 1}),
        r"\$\.model: expected a string, got an object",
    ),
    Case(
        "native-negative-id",
        "neg-id.json",
        _native([{"text": "a", "logprob": -1, "id": -5}]),
        r"\$\.tokens\[0\]\.id: expected a token id",
    ),
    Case(
        "chat-choices-object",
        "choices-object.json",
        b'{"object": "chat.completion", "choices": {"a": 1}}',
        r"\$\.choices: expected an array, got an object",
    ),
    Case(
        "chat-content-string",
        "content-str.json",
        _chat("abc"),
        r'\$\.choices\[0\]\.logprobs\.content: expected an array, got "abc"',
    ),
    Case(
        "chat-entry-without-token",
        "no-token.json",
        _chat([{"logprob": -0.1}]),
        r'\$\.choices\[0\]\.logprobs\.content\[0\]: expected a "token" key',
    ),
    Case(
        "chat-bytes-out-of-range",
        "bytes-300.json",
        _chat([{**_entry(), "bytes": [300]}]),
        r"\$\.choices\[0\]\.logprobs\.content\[0\]\.bytes: expected an array of byte values 0\.\.255",
    ),
    Case(
        "chat-without-logprobs",
        "no-logprobs.json",
        _dump(
            {"object": "chat.completion", "choices": [{"index": 0, "message": {"content": "x"}}]}
        ),
        r"\$\.choices: no choice has logprobs \(request them with logprobs=true",
    ),
    Case(
        "responses-logprobs-object",
        "resp-object.json",
        _responses({"a": 1}),
        r"\$\.output\[0\]\.content\[0\]\.logprobs: expected an array, got an object",
    ),
    Case(
        "llamacpp-probs-object",
        "llama-object.json",
        b'{"content": "a", "completion_probabilities": {"x": 1}}',
        r"\$\.completion_probabilities: expected an array, got an object",
    ),
    Case(
        "tgi-logprob-string",
        "tgi-str.json",
        _tgi([_tgi_tok("a", "x")]),
        r"\$\.details\.tokens\[0\]\.logprob: " + EXPECTED_NUMBER + '"x"',
    ),
    Case(
        "gemini-logprob-string",
        "gem-str.json",
        _gemini([_gem("a", "x")], [{"candidates": [_gem("a", -0.1)]}]),
        r"\$\.candidates\[0\]\.logprobsResult\.chosenCandidates\[0\]\.logProbability: "
        + EXPECTED_NUMBER,
    ),
    Case(
        "gemini-without-logprobs",
        "gem-none.json",
        _dump({"candidates": [{"content": {"parts": [{"text": "a"}]}}]}),
        r"\$\.candidates: no candidate has a logprobsResult",
    ),
    # -- numbers that are not probabilities
    Case(
        "nan-logprob",
        "nan.json",
        GOOD_NATIVE.replace(b"-0.1", b"NaN", 1),
        r"\$\.tokens\[0\]\.logprob: expected a logprob \(a number <= 0\), got nan",
    ),
    Case(
        "infinity-logprob",
        "inf.json",
        GOOD_NATIVE.replace(b"-0.1", b"Infinity", 1),
        r"\$\.tokens\[0\]\.logprob: expected a logprob \(a number <= 0\), got inf",
    ),
    Case(
        "nan-in-openai-chat",
        "chat-nan.json",
        GOOD_CHAT.replace(b"-0.1", b"NaN", 1),
        r"\$\.choices\[0\]\.logprobs\.content\[0\]\.logprob: expected a logprob",
    ),
    Case(
        "positive-logprob",
        "positive.json",
        _native([_tok("a"), _tok("b", 0.5)]),
        r"\$\.tokens\[1\]\.logprob: " + NOT_A_LOGPROB + "0.5",
    ),
    Case(
        "positive-logprob-in-top",
        "positive-top.json",
        _chat([{**_entry(), "top_logprobs": [{"token": "a", "logprob": 2.0, "bytes": [97]}]}]),
        r"\$\.choices\[0\]\.logprobs\.content\[0\]\.top_logprobs\[0\]\.logprob: "
        + NOT_A_LOGPROB
        + "2.0",
    ),
    Case(
        "positive-gemini",
        "gem-positive.json",
        _gemini([_gem("a", 0.7)], [{"candidates": [_gem("a", -0.1)]}]),
        r"chosenCandidates\[0\]\.logProbability: " + NOT_A_LOGPROB + "0.7",
    ),
    Case(
        "positive-llamacpp",
        "llama-positive.json",
        _dump(
            {
                "content": "a",
                "completion_probabilities": [
                    {"id": 1, "token": "a", "logprob": 3.0, "bytes": [97], "top_logprobs": []}
                ],
            }
        ),
        r"\$\.completion_probabilities\[0\]\.logprob: " + NOT_A_LOGPROB + "3.0",
    ),
    Case(
        "probability-above-1",
        "prob-high.json",
        _native([{"text": "a", "prob": 1.5}]),
        r"\$\.tokens\[0\]\.prob: a probability must be between 0 and 1, got 1\.5",
    ),
    Case(
        "probability-below-0",
        "prob-low.json",
        _native([{"text": "a", "prob": -0.1}]),
        r"\$\.tokens\[0\]\.prob: a probability must be between 0 and 1, got -0\.1",
    ),
    Case(
        "llamacpp-old-form-prob-above-1",
        "llama-prob.json",
        _dump(
            {
                "content": "a",
                "completion_probabilities": [
                    {"content": "a", "probs": [{"tok_str": "a", "prob": 1.2}]}
                ],
            }
        ),
        r"\$\.completion_probabilities\[0\]\.probs\[0\]\.prob: a probability must be between 0 and 1, got 1\.2",
    ),
    Case(
        "duplicate-logprob-key",
        "dup-lp.json",
        b'{"tracesite": 1, "tokens": [{"text": "a", "logprob": -1, "logprob": 0.5}]}',
        r"\$\.tokens\[0\]\.logprob: " + NOT_A_LOGPROB + "0.5",
    ),
    # -- parallel arrays that do not pair up
    Case(
        "gemini-chosen-vs-top",
        "gem-mismatch.json",
        _gemini([_gem("a", -0.1), _gem("b", -0.2)], [{"candidates": [_gem("a", -0.1)]}]),
        r"\$\.candidates\[0\]\.logprobsResult\.topCandidates: has 1 entries but chosenCandidates has 2",
    ),
    Case(
        "legacy-tokens-vs-token-logprobs",
        "legacy-mismatch.json",
        _completions(["a", "b", "c"], [-0.1, -0.2], [{"a": -0.1}, {"b": -0.2}, {"c": -0.3}]),
        r"\$\.choices\[0\]\.logprobs\.token_logprobs: has 2 entries but tokens has 3",
    ),
    Case(
        "legacy-tokens-vs-top-logprobs",
        "legacy-top-mismatch.json",
        _completions(["a", "b"], [-0.1, -0.2], [{"a": -0.1}]),
        r"\$\.choices\[0\]\.logprobs\.top_logprobs: has 1 entries but tokens has 2",
    ),
    Case(
        "tgi-tokens-vs-top-tokens",
        "tgi-mismatch.json",
        _tgi([_tgi_tok("a", -0.1), _tgi_tok("b", -0.2)], [[_tgi_tok("a", -0.1)]]),
        r"\$\.details\.top_tokens: has 1 entries but tokens has 2",
    ),
    Case(
        "npz-tokens-vs-logprobs",
        "arrays.npz",
        _npz(tokens=np.array(["a", "b"]), logprobs=np.array([-0.1])),
        r"logprobs: expected shape \(2,\), got \(1,\)",
    ),
    Case("npz-missing-arrays", "missing.npz", _npz(foo=np.array([1, 2])), r"tokens: missing array"),
    Case("npz-truncated", "cut.npz", b"PK\x03\x04" + bytes(100), r"not a readable \.npz trace"),
    Case(  # issue 17: numpy allocated shape x itemsize from the header before reading
        "npz-header-declares-a-huge-array",
        "huge.npz",
        _npz_declaring("tokens", (10**12,), "<U8"),
        r"tokens: the array header declares shape \(1000000000000,\) of <U8 "
        r"\(32,000,000,000,000 bytes\) but the archive holds 0 bytes for it",
    ),
    Case(
        "npz-member-without-npy-suffix-declaring-a-huge-array",
        "huge-raw.npz",
        _npz_declaring("tokens", (10**9, 10**9), "<f8", suffix=""),
        r"tokens: the array header declares shape \(1000000000, 1000000000\)",
    ),
    Case(
        "npz-object-array-not-unpickled",
        "pickle.npz",
        _npz(tokens=np.array(["a", None], dtype=object), logprobs=np.array([-0.1, -0.2])),
        r"not a readable \.npz trace",
    ),
    # -- inputs with a documented reading: they build (docs/reliability.md says why)
    Case(
        "utf8-bom-before-json",
        "bom.json",
        b"\xef\xbb\xbf" + GOOD_NATIVE,
        None,
        _one(lambda o: o["text"] == "ab"),
    ),
    Case(
        "empty-native-trace",
        "empty-trace.json",
        _native([]),
        None,
        _one(lambda o: o["n_tokens"] == 0 and o["mean_prob"] is None),
    ),
    Case(
        "empty-chat-content",
        "empty-content.json",
        _chat([]),
        None,
        _one(lambda o: o["n_tokens"] == 0),
    ),
    Case(
        "duplicate-keys-last-wins",
        "dup-keys.json",
        b'{"tracesite": 1, "tokens": [{"text": "a", "logprob": -1}], "tokens": [{"text": "b", "logprob": -2}]}',
        None,
        _one(lambda o: o["text"] == "b"),
    ),
    Case(
        "minus-infinity-is-p-zero",
        "neg-inf.json",
        GOOD_NATIVE.replace(b"-0.1", b"-Infinity"),
        None,
        _one(lambda o: o["min_prob"] == 0.0),
    ),
    Case(
        "sentinel-logprobs-are-unknown",
        "sentinel.json",
        _native([_tok("a", -9999), _tok("b", -0.1)]),
        None,
        _one(lambda o: o["n_unknown"] == 1),
    ),
    Case(
        "gemini-sentinel-is-unknown",
        "gem-sentinel.json",
        _gemini([_gem("a", -1.27e30)], [{"candidates": [_gem("a", -0.1)]}]),
        None,
        _one(lambda o: o["n_unknown"] == 1),
    ),
    Case(
        "lone-surrogate-escape",
        "surrogate.json",
        GOOD_NATIVE.replace(b'"a"', b'"\\ud800"', 1),
        None,
        _one(lambda o: o["n_tokens"] == 2),
    ),
    Case(
        "chat-top-logprobs-null",
        "top-null.json",
        _chat([{**_entry(), "top_logprobs": None}]),
        None,
        _one(lambda o: o["top_k"] == 0),
    ),
    Case(
        "chat-bytes-are-the-truth",
        "bytes-truth.json",
        _chat([{**_entry("a"), "bytes": [98]}]),
        None,
        # the tokens' text comes from the bytes ("b", not the label "a"); the text is the
        # provider's ("ab", issue 15), and the difference is flagged
        _one(lambda o: o["text"] == "ab" and "tokens: 'b'" in o["flags"][-1]["message"]),
    ),
    # -- found by fuzzing (bench/fuzz_readers.py); see docs/reliability.md
    Case(
        "fuzz-a-number-then-a-gemini-response",
        "number-then-gemini.json",
        b'2{"candidates": []}',
        r"(line \d+: )?\$\S*: ",
    ),
    Case(
        "fuzz-array-of-a-number-and-a-gemini-response",
        "array-number-gemini.json",
        b'[1, {"candidates": []}]',
        r"(line \d+: )?\$\S*: ",
    ),
    Case(
        "fuzz-a-number-then-a-completions-response",
        "number-then-completions.jsonl",
        b'0{"object": "text_completion", "choices": [{"text": "a"}]}',
        r"(line \d+: )?\$\S*: ",
    ),
    Case(
        "fuzz-a-number-then-an-ollama-chunk",
        "number-then-ollama.jsonl",
        b'0{"model": "m", "response": "a", "done": false}',
        r"(line \d+: )?\$\S*: ",
    ),
    Case(
        "fuzz-nan-in-gemini-usage-metadata",
        "gem-usage-nan.json",
        _gemini([_gem("a", -0.1)], [{"candidates": [_gem("a", -0.1)]}]).replace(
            b'{"candidates"', b'{"usageMetadata": {"promptTokensDetails": [NaN]}, "candidates"', 1
        ),
        None,  # metadata that is not plain JSON is left out, as for every other reader
        _one(lambda o: o["n_tokens"] == 1),
    ),
]

NOTE_CASES: list[Case] = [
    Case(
        "front-matter-yaml-error",
        "yaml.md",
        b"---\ntitle: x\nfoo: bar: baz\n---\nbody\n",
        r":3: front matter: mapping values are not allowed here",
    ),
    Case(
        "front-matter-tab",
        "tab.md",
        b"---\ntitle: x\n\tbad: 1\n---\nbody\n",
        r":3: front matter: found character '\\t' that cannot start any token",
    ),
    Case(
        "front-matter-a-list",
        "list.md",
        b"---\n- a\n- b\n---\nbody\n",
        r":2: front matter: expected key: value pairs",
    ),
    Case(
        "front-matter-not-closed",
        "unclosed.md",
        b"---\ntitle: x\nbody\n",
        r":1: front matter: no closing --- line",
    ),
    Case(
        "front-matter-python-tag",
        "pytag.md",
        b"---\ntitle: !!python/object/apply:os.system ['echo pwned']\n---\nbody\n",
        r":2: front matter: title: could not determine a constructor",
    ),
    # -- issue 17: values YAML accepts that Python cannot build, and work without bound
    Case(
        "front-matter-february-30",
        "feb30.md",
        b"---\ntitle: t\ndate: 2024-02-30\n---\nbody\n",
        r":3: front matter: date: day is out of range for month$",
    ),
    Case(
        "front-matter-month-13",
        "month13.md",
        b"---\ndate: 2024-13-01\n---\nbody\n",
        r":2: front matter: date: month must be in 1\.\.12$",
    ),
    Case(
        "front-matter-hour-25",
        "hour25.md",
        b"---\ncreated: 2024-01-01 25:00:00\n---\nbody\n",
        r":2: front matter: created: hour must be in 0\.\.23$",
    ),
    Case(
        "front-matter-float-tag-on-garbage",
        "float-abc.md",
        b"---\ntitle: !!float abc\n---\nbody\n",
        r":2: front matter: title: not a valid float: 'abc'$",
    ),
    Case(
        "front-matter-timestamp-tag-on-garbage",
        "timestamp-x.md",
        b"---\ndate: !!timestamp x\n---\nbody\n",
        r":2: front matter: date: not a valid timestamp: 'x'$",
    ),
    Case(
        "front-matter-int-of-5000-digits",
        "huge-int.md",
        b"---\ntitle: 1" + b"0" * 5000 + b"\n---\nbody\n",
        r":2: front matter: title: not a valid int: a number with too many digits$",
    ),
    Case(
        "front-matter-nested-5000-deep",
        "deep-yaml.md",
        b"---\ntags: " + b"[" * 5000 + b"]" * 5000 + b"\n---\nbody\n",
        r":2: front matter: nested more than 50 levels deep$",
    ),
    Case(
        "front-matter-alias-bomb",
        "bomb.md",
        b"---\na: &a [x, x, x, x, x, x, x, x, x]\n"
        + b"".join(
            f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n".encode()
            for i in range(8)
        )
        + b"tags: *i\n---\nbody\n",
        r":2: front matter: its aliases expand to more than 100,000 values",
    ),
    Case(
        "front-matter-recursive-alias",
        "self-alias.md",
        b"---\ntags: &a [*a]\n---\nbody\n",
        r":2: front matter: its aliases expand to more than|:2: front matter: an alias refers",
    ),
    Case(
        "front-matter-tag-of-300-characters",
        "long-tag.md",
        b"---\ntags: [" + b"x" * 300 + b"]\n---\nbody\n",
        r":2: front matter: tags: a tag is at most 100 characters, got 300",
    ),
    Case(
        "markdown-50k-line-of-brackets",
        "brackets.md",
        b"# Brackets\n\n" + b"[" * 50_000 + b"\n",
        r":3: Markdown: the 50,000 '\[' of this paragraph would take minutes to render",
    ),
    Case(
        "markdown-unclosed-tags",
        "tags-open.md",
        b"# Tags\n\n" + b"<a " * 20_000 + b"\n",
        r":3: Markdown: 20,000 '<' that do not close with '>' would take minutes",
    ),
    Case(
        "markdown-lists-nested-on-one-line",
        "deep-list.md",
        b"# Lists\n\n" + b"1. " * 2000 + b"x\n",
        r":3: Markdown: lists, quotes or tags nested too deeply to render$",
    ),
    Case(
        "front-matter-tags-a-number",
        "tags.md",
        b"---\ntitle: t\ntags: 5\n---\nbody\n",
        r":3: front matter: tags must be a list of strings, got 5$",
    ),
    Case(
        "front-matter-bad-date",
        "date.md",
        b"---\ndate: not a date\n---\nbody\n",
        r":2: front matter: date must be a date, got 'not a date'$",
    ),
    Case(
        "front-matter-bad-draft",
        "draft.md",
        b"---\ndraft: yes please\n---\nbody\n",
        r":2: front matter: draft must be true or false",
    ),
    Case(
        "front-matter-bad-highlight",
        "hl.md",
        b"---\ntitle: t\n\nhighlight:\n  - {from: 0, to: -3}\n---\nbody\n",
        r":4: front matter: highlight must be a list of \{from, to, label\}",
    ),
    Case(
        "note-not-utf8",
        "latin1.md",
        b"# Caf\xe9\n\nbody\n",
        r":1: cannot read note: not UTF-8 text: byte 0xe9",
    ),
    Case(
        "trace-block-outside-content",
        "outside.md",
        b"# x\n\n```trace\nsrc: ../tracesite.toml\n```\n",
        r":3: trace block: src '\.\./tracesite\.toml' is outside the content folder",
        extra={"tracesite.toml": b""},
    ),
    Case(
        "trace-block-absolute-path",
        "absolute.md",
        b"# x\n\n```trace\nsrc: /etc/passwd\n```\n",
        r":3: trace block: src '/etc/passwd' is outside the content folder",
    ),
    Case(
        "trace-block-deep-traversal",
        "traversal.md",
        b"# x\n\n```trace\nsrc: sub/../../../../../../etc/passwd\n```\n",
        r":3: trace block: src '.*' is outside the content folder",
    ),
    Case(
        "trace-block-symlink-out",
        "symlink.md",
        b"# x\n\n```trace\nsrc: link.json\n```\n",
        r":3: trace block: src 'link\.json' is outside the content folder",
    ),
    Case(
        "trace-block-symlink-loop",
        "loop.md",
        b"# x\n\n```trace\nsrc: loop.json\n```\n",
        r":3: trace block: src 'loop\.json' not found under content/",
    ),
    Case(
        "trace-block-missing-file",
        "missing.md",
        b"# x\n\nintro\n\n```trace\nsrc: nope.json\n```\n",
        r":5: trace block: src 'nope\.json' not found under content/",
    ),
    Case(
        "compare-block-missing-b",
        "compare-missing.md",
        b"# x\n\n```compare\na: good.json\nb: nope.json\n```\n",
        r":3: compare block: b 'nope\.json' not found under content/",
    ),
    Case(
        "compare-block-a-outside",
        "compare-outside.md",
        b"# x\n\n```compare\na: ../../etc/passwd\nb: good.json\n```\n",
        r":3: compare block: a '.*' is outside the content folder",
    ),
    Case(
        "trace-block-a-folder",
        "folder.md",
        b"# x\n\n```trace\nsrc: sub\n```\n",
        r":3: trace block: src 'sub' not found under content/",
        extra={"content/sub/pic.png": b"\x89PNG"},
    ),
    Case(
        "trace-block-nul-byte",
        "nul.md",
        b'# x\n\n```trace\nsrc: "good.json\\0"\n```\n',
        r":3: trace block: src .* not found under content/",
    ),
    Case(  # issue 17: a name no file system can hold raised UnicodeEncodeError
        "trace-block-src-a-lone-surrogate",
        "src-surrogate.md",
        b'# x\n\n```trace\nsrc: "\\ud800.json"\n```\n',
        r":3: trace block: src .* not found under content/",
    ),
    Case(
        "trace-block-src-a-list",
        "src-list.md",
        b"# x\n\n```trace\nsrc: [1, 2]\n```\n",
        r":3: trace block: expected `src: path/under/content\.json`",
    ),
    Case(
        "trace-block-yaml-error",
        "block-yaml.md",
        b"# x\n\n```trace\nsrc: [unclosed\n```\n",
        r":3: trace block: expected ',' or ']'",
    ),
    Case(
        "trace-block-reversed-positions",
        "reversed.md",
        b"# x\n\n```trace\nsrc: good.json\npositions: 80-40\n```\n",
        r":3: trace block: positions must look like 40-80, got '80-40'",
    ),
    Case(
        "trace-block-positions-past-the-end",
        "past.md",
        b"# x\n\n```trace\nsrc: good.json\npositions: 500-600\n```\n",
        r":3: trace block: positions start at 500 but the trace has 12",
    ),
    Case(
        "trace-block-index-past-the-end",
        "index-past.md",
        b"# x\n\n```trace\nsrc: good.json\nindex: 7\n```\n",
        r":3: trace block: index 7 but the file holds 1 trace\(s\)",
    ),
    Case(
        "trace-block-of-a-broken-trace",
        "embeds-broken.md",
        b"# x\n\n```trace\nsrc: broken.json\n```\n",
        r":3: trace block: content/broken\.json: line 1: not valid JSON",
        extra={"content/broken.json": b"{"},
        also=(r"^content/broken\.json: line 1: not valid JSON",),
    ),
]

ALL_CASES = TRACE_CASES + NOTE_CASES
