"""Token shards share one string table among their traces (build/tokenshards.py).

Each trace read back the way shards.js reads it (the shard's table in place of its own) must
give the texts of its own packed columns at every position; a trace whose table keeps raw bytes
(invalid UTF-8, shown as hex in the tooltip) keeps its own table in the same shard.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np

from test_scale_build import decode, share_strings, token_texts
from tracesite.build.shards import SHARED_COLUMNS, token_columns
from tracesite.build.tokenshards import TokenShards
from tracesite.core.options import HeatmapOptions
from tracesite.model.trace import Candidate, Position, Trace, TraceMeta
from tracesite.render.cells import pack_trace

_SHARD = re.compile(r'^window\.TRACESITE_SHARD\("([^"]+)",(.*)\);\n$', re.S)


def fragment(trace: Trace) -> dict[str, str]:
    """The token fragments a worker stores for a trace (build/job.py)."""
    entry = token_columns(trace, HeatmapOptions())
    strings = entry.pop("strings", None)
    frag = {"tok": json.dumps(entry, separators=(",", ":"))}
    if strings is not None:
        frag["tokt"] = json.dumps(strings, ensure_ascii=False, separators=(",", ":"))
    return frag


def write_shards(traces: list[Trace], limit: int = 1_000_000) -> tuple[dict[str, str], list[Any]]:
    files: dict[str, str] = {}
    shards = TokenShards(lambda path, text: files.__setitem__(path, text), limit=limit)
    places = [shards.add(i, fragment(t)) for i, t in enumerate(traces)]
    shards.flush()
    return files, places


def read(files: dict[str, str], k: int) -> Any:
    m = _SHARD.match(files[f"assets/tokens/{k}.js"])
    assert m is not None and m.group(1) == f"tok-{k}"
    return share_strings(decode(json.loads(m.group(2))))


def words(seed: int, n: int, vocab: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [f" w{k}" for k in rng.integers(0, vocab, n)]


def test_traces_of_a_shard_share_one_table_and_read_back_their_own_texts() -> None:
    traces = [Trace(tokens=words(s, 300, 200), logprobs=np.full(300, -0.5)) for s in range(6)]
    files, places = write_shards(traces)
    assert [p for p in places] == [(0, k) for k in range(6)]
    raw = files["assets/tokens/0.js"]
    payload = read(files, 0)
    so = payload["strings"]["so"]
    distinct = {w for t in traces for w in t.tokens}
    assert len(so) - 1 == len(distinct)  # each text once in the shard
    for t, entry in zip(traces, payload["traces"], strict=True):
        packed = pack_trace(t, HeatmapOptions(), "v")
        assert token_texts(entry["cols"])[: t.n_tokens] == list(t.tokens)
        assert token_texts(entry["cols"]) == token_texts(packed)
    # the shard is smaller than the same traces with a table each
    own = sum(len(json.dumps(token_columns(t, HeatmapOptions()))) for t in traces)
    assert len(raw) < own


def positions(*chosen: tuple[str, bytes | None, list[str]]) -> Trace:
    """A trace of chosen tokens (text, raw bytes) with their alternatives' texts."""
    return Trace.from_positions(
        [
            Position(
                Candidate(text, -0.2, raw), [Candidate(a, -1.5 - k) for k, a in enumerate(alts)]
            )
            for text, raw, alts in chosen
        ],
        TraceMeta(),
    )


def test_alternatives_index_the_shared_table_too() -> None:
    a = positions((" yes", None, [" no"]), (" no", None, [" yes", " maybe"]))
    b = positions((" maybe", None, [" perhaps"]), (" so", None, []))
    files, _ = write_shards([a, b])
    entries = read(files, 0)["traces"]
    for t, entry in zip((a, b), entries, strict=True):
        assert token_texts(entry["cols"]) == token_texts(pack_trace(t, HeatmapOptions(), "v"))
    assert token_texts(entries[1]["cols"]) == [" maybe", " so", " perhaps"]
    assert len(read(files, 0)["strings"]["so"]) - 1 == 5  # yes, no, maybe, perhaps, so


def test_a_trace_with_raw_bytes_keeps_its_own_table_beside_shared_ones() -> None:
    plain = positions((" caf", None, []), ("é", None, []))
    broken = positions(("\u2014", b"\xe2\x80", []), ("?", b"\x94", []))  # a split UTF-8 dash
    after = positions(("é", None, []), (" ok", None, []))
    files, places = write_shards([plain, broken, after])
    assert [s for s, _ in places] == [0, 0, 0]
    raw = json.loads(_SHARD.match(files["assets/tokens/0.js"]).group(2))  # type: ignore[union-attr]
    assert ["st" in t for t in raw["traces"]] == [True, False, True]
    entries = read(files, 0)["traces"]
    own = pack_trace(broken, HeatmapOptions(), "v")
    assert len(own["bad"]) > 0  # the raw bytes the tooltip shows as hex
    for name in SHARED_COLUMNS:  # its own columns, raw bytes included, exactly as packed
        assert np.array_equal(np.asarray(entries[1]["cols"][name]), np.asarray(own[name])), name
    assert token_texts(entries[2]["cols"]) == ["é", " ok"]
    assert token_texts(entries[0]["cols"]) == [" caf", "é"]


def test_a_full_shard_closes_and_the_next_starts_its_own_table() -> None:
    traces = [Trace(tokens=words(s, 400, 5000), logprobs=np.full(400, -0.5)) for s in range(8)]
    files, places = write_shards(traces, limit=12_000)
    assert len(files) > 1 and [s for s, _ in places] == sorted(s for s, _ in places)
    for k in range(len(files)):
        payload = read(files, k)
        held = [traces[t["i"]] for t in payload["traces"]]
        assert len(payload["strings"]["so"]) - 1 == len({w for t in held for w in t.tokens})
        for t, entry in zip(held, payload["traces"], strict=True):
            assert token_texts(entry["cols"])[: t.n_tokens] == list(t.tokens)


def test_the_same_traces_write_the_same_bytes() -> None:
    traces = [Trace(tokens=words(s, 200, 100), logprobs=np.full(200, -0.5)) for s in range(4)]
    assert write_shards(traces)[0] == write_shards(traces)[0]
