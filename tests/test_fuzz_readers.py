"""Readers never raise anything but TraceReadError, on any bytes (SPEC §13).

Arbitrary bytes, byte flips / truncations / insertions of real files, and real JSON documents
with one value swapped for arbitrary JSON (which reaches the type checks deep in each reader).
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from formats_helpers import all_fixture_files
from tracesite import Trace, TraceReadError
from tracesite.formats import read_bytes

SMALL = [p for p in all_fixture_files() if p.stat().st_size < 60_000]
SAMPLES = {p.name: p.read_bytes() for p in SMALL}
JSON_DOCS = {
    name: json.loads(data)
    for name, data in SAMPLES.items()
    if not name.endswith((".jsonl", ".txt"))
}
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check(data: bytes) -> None:
    """Reading either gives sound traces or raises TraceReadError; nothing else escapes."""
    try:
        traces = read_bytes(data, "fuzz.json")
    except TraceReadError as exc:
        assert exc.path == "fuzz.json"
        assert str(exc).startswith("fuzz.json: ")
        return
    assert traces
    for t in traces:
        assert isinstance(t, Trace)
        s = t.stats  # statistics and text never crash on what a reader accepted
        assert isinstance(s.text, str) and s.n_tokens == len(t)
        assert s.mean_prob is None or 0.0 <= s.mean_prob <= 1.0
        json.dumps(dict(t.meta.extra), allow_nan=False)


def test_fuzz_inputs_exist() -> None:
    assert len(SAMPLES) >= 15 and len(JSON_DOCS) >= 10


@FUZZ
@given(st.binary(max_size=2000))
def test_arbitrary_bytes(data: bytes) -> None:
    check(data)


@FUZZ
@given(st.text(alphabet='{}[]":,0123456789.-eE tnulrfasNIy\n\\data:[DONE]', max_size=300))
def test_json_like_text(text: str) -> None:
    check(text.encode("utf-8"))


@FUZZ
@given(st.sampled_from(sorted(SAMPLES)), st.data())
def test_mutated_real_files(name: str, data: st.DataObject) -> None:
    raw = bytearray(SAMPLES[name])
    kind = data.draw(st.sampled_from(["flip", "truncate", "insert", "delete"]))
    at = data.draw(st.integers(0, len(raw) - 1))
    if kind == "flip":
        raw[at] ^= 1 << data.draw(st.integers(0, 7))
    elif kind == "truncate":
        del raw[at:]
    elif kind == "insert":
        raw[at:at] = data.draw(st.binary(min_size=1, max_size=8))
    else:
        del raw[at : at + data.draw(st.integers(1, 16))]
    check(bytes(raw))


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.sampled_from([-(10**400), 10**400, 2**63, -1])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)


def _paths(
    value: Any, prefix: tuple[Any, ...] = (), out: list[tuple[Any, ...]] | None = None
) -> list[tuple[Any, ...]]:
    out = [] if out is None else out
    if len(out) > 4000:
        return out
    out.append(prefix)
    if isinstance(value, dict):
        for k, v in value.items():
            _paths(v, (*prefix, k), out)
    elif isinstance(value, list):
        for i, v in enumerate(value[:30]):
            _paths(v, (*prefix, i), out)
    return out


PATHS = {name: _paths(doc) for name, doc in JSON_DOCS.items()}


@FUZZ
@given(st.sampled_from(sorted(JSON_DOCS)), st.data())
def test_real_documents_with_one_value_replaced(name: str, data: st.DataObject) -> None:
    doc = json.loads(json.dumps(JSON_DOCS[name]))
    path = data.draw(st.sampled_from(PATHS[name]))
    new = data.draw(json_values)
    if not path:
        doc = new
    else:
        target = doc
        for key in path[:-1]:
            target = target[key]
        if data.draw(st.booleans()) and isinstance(target, dict):
            del target[path[-1]]  # a missing key
        else:
            target[path[-1]] = new
    check(json.dumps(doc, allow_nan=True).encode("utf-8"))


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_mutated_npz(data: st.DataObject) -> None:
    buf = io.BytesIO()
    np.savez(
        buf,
        tokens=np.array(["a", "b", "c"]),
        logprobs=np.array([-0.1, math.nan, -2.0]),
        top_tokens=np.array([["a", "x"], ["b", ""], ["c", "y"]]),
        top_logprobs=np.array([[-0.1, -3.0], [-0.5, math.nan], [-2.0, -2.5]]),
    )
    raw = bytearray(buf.getvalue())
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(4, len(raw) - 1))
        raw[at] = data.draw(st.integers(0, 255))
    check(bytes(raw))


def test_large_or_odd_values_are_errors_not_crashes(tmp_path: Path) -> None:
    odd = [
        b'{"tracesite": 1, "tokens": [{"text": "a", "logprob": -1, "id": 100000000000000000000000}]}',
        b'{"tracesite": 1, "tokens": [{"text": "a", "logprob": -1, "bytes": 99999999999}]}',
        b'{"tracesite": 1, "tokens": [{"text": "a", "logprob": 1' + b"0" * 5000 + b"}]}",
        b'{"tracesite": 1, "tokens": [{"text": "a", "logprob": -1' + b"0" * 400 + b"}]}",
        b'{"tracesite": 1, "tokens": [{"text": "a", "prob": 1' + b"0" * 400 + b"}]}",
        b'[{"token": "a", "logprob": -1' + b"0" * 400 + b', "top_logprobs": []}]',
        b'{"candidates": [{"logprobsResult": {"chosenCandidates": [{"token": "a", "logProbability": -1'
        + b"0" * 400
        + b"}]}}]}",
        b'{"choices": [{"logprobs": {"content": [{"token": "a", "logprob": -1e999}]}}]}',
        b'{"created": 1e300, "choices": [{"logprobs": {"content": []}}]}',
        b"data: [DONE]\n\n",
        b"PK\x03\x04",
        b"\xef\xbb\xbf",
    ]
    for data in odd:
        check(data)
