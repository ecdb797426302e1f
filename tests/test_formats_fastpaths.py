"""The readers' fast paths give exactly what the careful paths give.

JSON is parsed with orjson where it reads a text as the json module would (else with json), and
token lists are read column by column where every entry is plainly well-formed (else entry by
entry). These tests read the same bytes both ways, forcing the slow path, and compare traces or
error messages; and check the cases orjson reads differently (integers past 64 bits).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from formats_helpers import all_fixture_files, chat_response, entry, read_json
from tracesite import TraceReadError
from tracesite.formats import containers, entries, read_bytes
from tracesite.model.trace import Trace

FILES = all_fixture_files()
FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def outcome(data: bytes) -> list[tuple[Any, ...]] | str:
    """Everything a read gives (all fields of every trace), or the error message."""
    try:
        traces = read_bytes(data, "f.json")
    except TraceReadError as exc:
        return str(exc)
    return [_fields(t) for t in traces]


def _fields(t: Trace) -> tuple[Any, ...]:
    def floats(a: Any) -> list[Any]:
        return [x if not math.isnan(x) else "nan" for x in a.tolist()]

    ints = (t.token_ids, t.special, t.alt_offsets, t.alt_ids)
    return (
        t.tokens,
        t.token_bytes,
        t.alt_tokens,
        t.alt_bytes,
        [a.tolist() for a in ints],
        floats(t.logprobs),
        floats(t.alt_logprobs),
        t.meta,
        [type(v) for v in t.meta.extra.values()],
    )


def slow_outcome(data: bytes, monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]] | str:
    """The outcome with both fast paths turned off."""
    with monkeypatch.context() as m:
        m.setattr(containers, "fast_loads", lambda data: containers.UNREAD)
        m.setattr(entries, "_read_columns", lambda *args: False)
        return outcome(data)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_real_files_read_the_same_both_ways(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = path.read_bytes()
    assert outcome(data) == slow_outcome(data, monkeypatch)


def same_json(a: Any, b: Any) -> bool:
    """Equal, with the same types all the way down (1 and 1.0 differ; NaN equals NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b) and (not isinstance(a, float) or math.copysign(1, a) == math.copysign(1, b))


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1, 10**19])
    | st.floats()
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=6), inner, max_size=5)
    ),
    max_leaves=20,
)


@FUZZ
@given(json_values, st.booleans())
def test_orjson_is_used_only_where_it_reads_as_json_does(value: Any, ascii_only: bool) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only)
    fast = containers.fast_loads(text.encode("utf-8", "surrogatepass"))
    assert fast is containers.UNREAD or same_json(fast, json.loads(text))


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1, "a": 2}',
        "[1e400, -1e400, 1e-400, -0.0, 0.1, 5e-324, 1.7976931348623157e308]",
        "[123456789012345678901234567890, -9223372036854775809, 18446744073709551616]",
        '{"big": 18446744073709551616}',
        "[NaN, Infinity, -Infinity]",
        '["\\ud800", "\\udc00x", "\\ud83d\\ude00"]',
        '{"\\ud800": 1}',
        "[" * 1100 + "]" * 1100,
        '["\u2028\x7f\\u0000"]',
    ],
)
def test_texts_orjson_reads_otherwise_are_left_to_json(text: str) -> None:
    fast = containers.fast_loads(text.encode("utf-8", "surrogatepass"))
    assert fast is containers.UNREAD or same_json(fast, json.loads(text))


def test_integers_past_64_bits_keep_their_exact_value() -> None:
    # orjson would read these as floats; the user's metadata must come through unchanged
    response = chat_response([entry("a", -0.1, [("a", -0.1)])] * 20) | {"seed": 2**64 + 1}
    (trace,) = read_json(response)
    assert trace.meta.extra["seed"] == 2**64 + 1 and type(trace.meta.extra["seed"]) is int
    lines = json.dumps(response) + "\n" + json.dumps(response) + "\n"
    for t in read_bytes(lines.encode(), "two.jsonl"):
        assert type(t.meta.extra["seed"]) is int


def test_a_token_id_past_64_bits_is_named_exactly() -> None:
    doc = {"tracesite": 1, "tokens": [{"text": "a", "logprob": -1, "id": 2**64}]}
    with pytest.raises(TraceReadError, match="got 18446744073709551616"):
        read_json(doc)
    bare = [entry("a", -0.1, [("a", -0.1)], id=2**64)] * 20
    with pytest.raises(TraceReadError, match=r"\$\[0\]\.id: .*got 18446744073709551616"):
        read_json(bare)


# ----------------------------------------------------------------------------- token lists

EDGE_VALUES: list[Any] = [
    *(None, True, False, 0, 1, -1, -2, 3, 255, 256, 2**63 - 1, 2**63, 2**64, -(10**400)),
    *(0.5, 5e-6, 1e-6, 1e-7, -0.0, -1e999, 1e999, math.nan, -9999.0),
    *("a", "", {}, [], [-1], [97, 256], [97], [True], [1.0], [None]),
]
KEYS = ["token", "logprob", "bytes", "id", "top_logprobs"]


def token_list() -> list[dict[str, Any]]:
    """A bare content list, long enough for the column-by-column path."""
    return [entry(t, -0.25 * i, [(t, -0.25 * i), ("x", -3.0)]) for i, t in enumerate("abcd" * 5)]


def same_both_ways(items: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    raw = json.dumps(items, allow_nan=True).encode()
    assert outcome(raw) == slow_outcome(raw, monkeypatch)


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("where", ["chosen", "alternative"])
def test_each_odd_field_reads_the_same_column_by_column(
    key: str, where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for value in [*EDGE_VALUES, "missing"]:
        items = token_list()
        target = items[7] if where == "chosen" else items[7]["top_logprobs"][1]
        if value == "missing":
            target.pop(key, None)
        else:
            target[key] = value
        same_both_ways(items, monkeypatch)


@FUZZ
@given(data=st.data())
def test_token_lists_read_the_same_column_by_column(
    data: st.DataObject, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Several fields made odd at once, anywhere in the list."""
    items: list[Any] = token_list()
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(items) - 1))
        target = items[i]
        top = target.get("top_logprobs") if isinstance(target, dict) else None
        if isinstance(top, list) and len(top) == 2 and data.draw(st.booleans()):
            target = top[data.draw(st.integers(0, 1))]
        if not isinstance(target, dict) or data.draw(st.integers(0, 9)) == 0:
            items[i] = data.draw(st.sampled_from(EDGE_VALUES))  # not an object at all
            continue
        key = data.draw(st.sampled_from(KEYS))
        if data.draw(st.integers(0, 4)) == 0:
            target.pop(key, None)
        else:
            target[key] = data.draw(st.sampled_from(EDGE_VALUES) | st.floats() | st.integers())
    same_both_ways(items, monkeypatch)
