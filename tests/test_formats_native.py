"""The native format: lossless round trips (real traces and random ones) and its JSON Schema."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tracesite
from formats_helpers import all_corpus_files, all_fixture_files, read_json, read_text
from tracesite import Trace, TraceReadError
from tracesite.formats import read_bytes
from tracesite.formats.native import (
    dump_native,
    dump_native_jsonl,
    native_schema,
    save_native,
    to_native_dict,
)
from tracesite.model.trace import Candidate, Position, TraceMeta


def real_traces() -> list[tuple[str, Trace]]:
    files = {p.name: p for p in all_fixture_files()}
    files.update({p.name: p for p in all_corpus_files()})
    return [
        (f"{name}#{t.meta.index}", t)
        for name, p in sorted(files.items())
        for t in tracesite.load(p)
    ]


REAL = real_traces()


@pytest.mark.parametrize(("name", "trace"), REAL, ids=[n for n, _ in REAL])
def test_every_real_trace_round_trips(tmp_path: Path, name: str, trace: Trace) -> None:
    path = tmp_path / "t.json"
    tracesite.save(trace, path)
    (back,) = tracesite.load(path)
    assert back == trace
    assert back.meta.format == "native"
    assert back.text == trace.text and back.stats == trace.stats
    assert back.meta.provider_text == trace.meta.provider_text


def test_real_traces_saved_natively_validate_against_the_schema() -> None:
    import jsonschema

    validator = jsonschema.Draft202012Validator(native_schema())
    for name, trace in REAL:
        errors = list(validator.iter_errors(json.loads(dump_native(trace))))
        assert not errors, f"{name}: {errors[0].message}"


def test_schema_rejects_what_the_reader_rejects() -> None:
    import jsonschema

    validator = jsonschema.Draft202012Validator(native_schema())
    bad = [
        {"tracesite": 3, "tokens": []},
        {"tracesite": 2, "tokens": [], "channels": {"entropy": "x"}},
        {"tracesite": 2, "tokens": [], "channels": {"logprob": []}},
        {"tracesite": 1},
        {"tracesite": 1, "tokens": [{"text": "a"}]},
        {"tracesite": 1, "tokens": [{"text": "a", "logprob": 0.5}]},
        {"tracesite": 1, "tokens": [{"text": "a", "prob": 1.5}]},
        {"tracesite": 1, "tokens": [{"text": "a", "logprob": -1, "bytes": [256]}]},
        {"tracesite": 1, "tokens": [{"text": "a", "logprob": -1, "special": "yes"}]},
    ]
    for doc in bad:
        assert list(validator.iter_errors(doc)), doc
        with pytest.raises(TraceReadError):
            read_json(doc)


def test_schema_structure_without_jsonschema() -> None:
    """Holds whether or not jsonschema is installed: the schema names what the writer writes."""
    schema = native_schema()
    assert schema["required"] == ["tracesite", "tokens"]
    written = to_native_dict(REAL[0][1])
    assert set(written) <= set(schema["properties"])
    cand = schema["$defs"]["candidate"]["properties"]
    tok_keys = set(cand) | set(schema["$defs"]["token"]["properties"])
    for tok in written["tokens"]:
        assert set(tok) <= tok_keys
        for alt in tok["top"]:
            assert set(alt) <= set(cand)


def test_schema_file_ships_inside_the_package() -> None:
    from importlib.resources import files

    assert (files("tracesite.formats") / "schema" / "native.schema.json").is_file()


def test_utf8_bytes_flag_keeps_files_small_and_exact(tmp_path: Path) -> None:
    positions = [
        Position(
            Candidate("Hi", -0.1, b"Hi"),
            [Candidate("Hi", -0.1, b"Hi"), Candidate("<|end|>", -3, None)],
        ),
        Position(Candidate(" ", -0.2, b"\xc2\xa0"), []),  # a label that is not its bytes
        Position(Candidate("x", -0.3, None), []),  # no bytes at all
        Position(Candidate("!", -0.4, b"!"), [Candidate("!", -0.4, b"!")]),
    ]
    t = Trace.from_positions(positions, TraceMeta())
    d = to_native_dict(t)
    assert d["utf8_bytes"] is True
    assert "bytes" not in d["tokens"][0] and d["tokens"][0]["top"][1]["bytes"] is None
    assert d["tokens"][1]["bytes"] == [0xC2, 0xA0] and d["tokens"][2]["bytes"] is None
    assert read_json(d)[0] == t
    # without the flag a missing "bytes" means none
    d2 = json.loads(json.dumps(d))
    del d2["utf8_bytes"]
    assert read_json(d2)[0].token_bytes[0] is None


def test_several_traces_save_as_json_lines(tmp_path: Path) -> None:
    traces = [t for _, t in REAL[:3]]
    path = tmp_path / "all.jsonl"
    save_native(traces, path)
    back = tracesite.load(path)
    assert back == traces and [t.meta.index for t in back] == [0, 1, 2]
    assert dump_native_jsonl(traces).count("\n") == 3


def test_linear_prob_and_version_errors() -> None:
    t = read_json(
        {
            "tracesite": 1,
            "tokens": [{"text": "a", "prob": 0.25, "top": [{"text": "a", "prob": 0.25}]}],
        }
    )[0]
    assert t.logprobs[0] == pytest.approx(math.log(0.25))
    with pytest.raises(
        TraceReadError, match=r"\$\.tracesite: unsupported native format version 3; expected 1 or 2"
    ):
        read_json({"tracesite": 3, "tokens": []})
    with pytest.raises(TraceReadError, match=r"\$\.tokens\[0\]\.special: expected true or false"):
        read_json({"tracesite": 1, "tokens": [{"text": "a", "logprob": -1, "special": 1}]})
    with pytest.raises(
        TraceReadError, match=r"\$\.tokens\[0\]: expected a \"logprob\" \(or \"prob\"\) key"
    ):
        read_json({"tracesite": 1, "tokens": [{"text": "a"}]})


def test_lone_surrogate_labels_survive_a_save(tmp_path: Path) -> None:
    t = read_text('{"tracesite": 1, "tokens": [{"text": "\\ud800x", "logprob": -1}]}')[0]
    path = tmp_path / "s.json"
    tracesite.save(t, path)
    assert tracesite.load(path)[0] == t


# ----------------------------------------------------------------------------- property test

labels = st.text(max_size=8) | st.sampled_from(
    ["<|endoftext|>", "</s>", "\n\n", "\u00a0", "\ufeff", ""]
)
raw_bytes = st.none() | st.binary(max_size=6)  # not necessarily UTF-8
logprobs = (
    st.none()
    | st.just(math.nan)
    | st.just(-math.inf)
    | st.just(-9999.0)
    | st.just(-1.2676506e30)
    | st.just(-0.0)
    | st.floats(min_value=-50.0, max_value=0.0)
)
ids = st.just(-1) | st.integers(min_value=0, max_value=2**40)
candidates = st.builds(Candidate, labels, logprobs, raw_bytes, ids)
positions = st.builds(Position, candidates, st.lists(candidates, max_size=4), st.booleans())
optional_text = st.none() | st.text(max_size=20)
metas = st.builds(
    TraceMeta,
    model=optional_text,
    created=optional_text,
    prompt=optional_text,
    finish_reason=optional_text,
    provider_text=optional_text,
    extra=st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=3),
    group=optional_text,
    scalars=st.dictionaries(
        st.text(max_size=5), st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    ),
    provenance=st.dictionaries(st.sampled_from(["engine", "logprobs", "entropy"]), st.text()),
)
channel_values = (
    st.none()
    | st.just(math.nan)
    | st.just(math.inf)
    | st.just(-math.inf)
    | st.just(-9999.0)
    | st.floats(allow_nan=False, allow_infinity=False, width=32)
)
channel_names = st.sampled_from(["train_logprob", "ref_logprob", "entropy", "mask", "x-y", "é"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(positions, max_size=12), metas, st.data())
def test_random_traces_round_trip(ps: list[Position], meta: TraceMeta, data: st.DataObject) -> None:
    names = data.draw(st.lists(channel_names, unique=True, max_size=3))
    channels = {
        name: data.draw(st.lists(channel_values, min_size=len(ps), max_size=len(ps)))
        for name in names
    }
    channels = {k: [math.nan if v is None else v for v in vs] for k, vs in channels.items()}
    t = Trace.from_positions(ps, meta, channels=channels)
    data = (dump_native(t) + "\n").encode("utf-8")
    (back,) = read_bytes(data, "random.json")
    assert back == t
    assert back.text == t.text
    assert back.stats == t.stats


def test_the_documented_example_reads_and_validates() -> None:
    doc_path = Path(__file__).resolve().parents[1] / "docs" / "formats.md"
    text = doc_path.read_text(encoding="utf-8")
    example = json.loads(text.split("```json\n", 1)[1].split("```", 1)[0])
    (t,) = read_json(example)
    assert t.tokens == ("The", " best", "<|end|>") and t.special.tolist() == [False, False, True]
    assert t.text == "The best" == t.meta.provider_text
    assert t.token_bytes[1] == b" best" and t.token_bytes[2] is None  # utf8_bytes
    assert t.stats.n_unknown == 1 and t.token_ids[0] == 976
    import jsonschema

    jsonschema.validate(example, native_schema())
