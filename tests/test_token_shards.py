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
from tracesite.build.shards import SHARED_COLUMNS, token_columns, token_fragments
from tracesite.build.tokenshards import TokenShards
from tracesite.core.options import HeatmapOptions
from tracesite.model.trace import Candidate, Position, Trace, TraceMeta
from tracesite.render.cells import pack_trace

_SHARD = re.compile(r'^window\.TRACESITE_SHARD\("([^"]+)",(.*)\);\n$', re.S)


def fragment(trace: Trace) -> dict[str, str]:
    """The token fragments a worker stores for a trace (build/job.py)."""
    return token_fragments(token_columns(trace, HeatmapOptions()))


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
    payload = read(files, 0)
    so = payload["strings"]["so"]
    distinct = {w for t in traces for w in t.tokens}
    assert len(so) - 1 == len(distinct)  # each text once in the shard
    for t, entry in zip(traces, payload["traces"], strict=True):
        packed = pack_trace(t, HeatmapOptions(), "v")
        assert token_texts(entry["cols"])[: t.n_tokens] == list(t.tokens)
        assert token_texts(entry["cols"]) == token_texts(packed)


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


def test_a_text_twice_in_a_traces_table_is_one_entry_of_the_shards() -> None:
    """A trace's table holds distinct (label, bytes) pairs: a chosen token with bytes and the
    same token as an alternative without are two entries of one text."""
    first = positions(*[(f" t{k}", f" t{k}".encode(), [f" t{k}"]) for k in range(200)])
    second = positions((" c", None, []), (" d", None, []))
    files, _ = write_shards([first, second])
    payload = read(files, 0)
    assert len(payload["strings"]["so"]) - 1 == 202  # each text once
    a, b = payload["traces"]
    assert token_texts(a["cols"]) == [f" t{k}" for k in range(200)] * 2
    assert token_texts(b["cols"]) == [" c", " d"]


def shard_sizes(files: dict[str, str]) -> list[int]:
    return [len(files[f"assets/tokens/{k}.js"].encode("utf-8")) for k in range(len(files))]


def test_full_shards_close_within_the_limit_and_each_reads_its_own_table() -> None:
    """Traces share most of their texts (as a step's rollouts do), in ASCII and in CJK (six
    bytes a character once escaped): every shard of several traces stays within the limit."""
    rng = np.random.default_rng(2)
    cjk = [chr(0x4E00 + k) + chr(0x4E00 + k + 1) + chr(0x4E00 + k + 2) for k in range(3000)]
    for vocab in ([f" w{k}" for k in range(3000)], cjk):
        traces = [
            Trace(tokens=list(rng.choice(vocab, 400)), logprobs=np.full(400, -0.5))
            for _ in range(40)
        ]
        limit = 60_000
        files, places = write_shards(traces, limit=limit)
        assert len(files) > 2 and [s for s, _ in places] == sorted(s for s, _ in places)
        for k, size in enumerate(shard_sizes(files)):
            payload = read(files, k)
            held = [traces[t["i"]] for t in payload["traces"]]
            assert len(held) > 1 and size <= limit, (k, size, len(held))
            assert len(payload["strings"]["so"]) - 1 == len({w for t in held for w in t.tokens})
            for t, entry in zip(held, payload["traces"], strict=True):
                assert token_texts(entry["cols"])[: t.n_tokens] == list(t.tokens)


def test_a_trace_of_no_tokens_alone_in_a_shard_still_has_a_table() -> None:
    files, _ = write_shards([Trace(tokens=[], logprobs=[])])
    payload = read(files, 0)
    assert "strings" in payload
    assert token_texts(payload["traces"][0]["cols"]) == []


_WRITE = """
import json, sys
sys.path.insert(0, "tests")
from test_token_shards import write_shards, words
from tracesite.model.trace import Trace
import numpy as np
traces = [Trace(tokens=words(s, 200, 100), logprobs=np.full(200, -0.5)) for s in range(4)]
print(json.dumps(write_shards(traces, limit=3000)[0], sort_keys=True))
"""


def test_the_same_traces_write_the_same_bytes_whatever_the_hash_seed() -> None:
    """Two processes with different string hash seeds (as two builds, or a pool's workers and
    a Dask cluster's, have) write the same shard bytes."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    out = [
        subprocess.run(
            [sys.executable, "-c", _WRITE],
            cwd=repo,
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    ]
    assert out[0] == out[1] and len(json.loads(out[0])) > 1
