"""The shards of docs/scale.md, decoded in Python: cards, columns, postings over the whole text
and the notes, the token index and token shards, viewer URLs past ``[build] max_pages``."""

from __future__ import annotations

import base64
import json
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tracesite.build import BuildOptions, build_project
from tracesite.build.shards import SHARED_COLUMNS, fnv1a32
from tracesite.core.options import HeatmapOptions
from tracesite.core.tables import SPLIT_MIN_BYTES
from tracesite.formats import read_bytes
from tracesite.render.cells import pack_trace
from tracesite.render.modes import modes_config

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from conftest import native_trace

_DTYPES = {"f64": "<f8", "f32": "<f4", "f16": "<f2", "u8": "u1", "u16": "<u2", "u32": "<u4"}
_DTYPES |= {"i8": "i1", "i16": "<i2", "i32": "<i4"}
_SHARD = re.compile(r'^window\.TRACESITE_SHARD\("([^"]+)",(.*)\);\n$', re.S)


def decode(value: Any) -> Any:
    """A shard payload with its ``name:suffix`` arrays decoded, as the browser's loader does."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, v in value.items():
        name, _, suffix = key.rpartition(":")
        if suffix == "utf8":
            out[name] = np.frombuffer(v.encode("utf-8"), dtype=np.uint8)
        elif suffix in _DTYPES and isinstance(v, str):
            out[name] = np.frombuffer(base64.b64decode(v), dtype=_DTYPES[suffix])
        elif suffix in _DTYPES:
            out[name] = np.full(v[1], v[0], dtype=_DTYPES[suffix])
        else:
            out[key] = decode(v)
    return out


def shard(site: Path, name: str) -> Any:
    path = site / (
        f"assets/tokens/{name[4:]}.js" if name.startswith("tok-") else f"assets/index/{name}.js"
    )
    m = _SHARD.match(path.read_text(encoding="utf-8"))
    assert m is not None and m.group(1) == name
    return share_strings(decode(json.loads(m.group(2))))


def share_strings(payload: Any) -> Any:
    """A token shard's traces with the shard's string table as their own (shards.js does so)."""
    if not isinstance(payload, dict) or "strings" not in payload:
        return payload
    sb, so = payload["strings"]["sb"], payload["strings"]["so"]
    for t in payload["traces"]:
        if "st" in t:
            st = t.pop("st")
            t["cols"].update(tok=st["tok"], atok=st["atok"], sb=sb, so=so)
            t["cols"].update(nent=np.array([len(so) - 1]), bad=np.zeros(0, np.int32))
    return payload


def token_texts(cols: dict[str, Any]) -> list[str]:
    """The texts of a trace's chosen tokens, then of its alternatives, from its string table."""
    blob, so = bytes(cols["sb"]), cols["so"]
    text = [blob[so[e] : so[e + 1]].decode("utf-8") for e in range(len(so) - 1)]
    return [text[e] for e in cols["tok"]] + [text[e] for e in cols["atok"]]


def all_cards(site: Path) -> list[dict[str, Any]]:
    meta = shard(site, "meta")
    cards = []
    for k in range(-(-meta["n"] // meta["card_shard"])):
        cards += shard(site, f"cards-{k}")
    return cards


def postings(site: Path, term: str) -> list[int]:
    meta = shard(site, "meta")
    return shard(site, f"s-{fnv1a32(term) % meta['search_buckets']}").get(term, [])


END_WORD = " zebrafinal"


@pytest.fixture(scope="module")
def gallery(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six traces, one with a note, one long one ending in a rare word; max_pages 3."""
    root = tmp_path_factory.mktemp("scale")
    (root / "content/runs").mkdir(parents=True)
    for k in range(5):
        (root / f"content/runs/t{k}.json").write_text(json.dumps(native_trace(40, seed=k)))
    long = native_trace(700, seed=9, texts=[" alpha", " beta", " gamma"])
    tokens: Any = long["tokens"]
    tokens[-1]["text"] = tokens[-1]["top"][0]["text"] = END_WORD
    (root / "content/long.json").write_text(json.dumps(long))
    (root / "content/runs/t1.md").write_text(
        "---\ntitle: Noted one\ntags: [keep]\n---\nThe body mentions aardvarkish things.\n"
    )
    (root / "content/about.md").write_text("---\ntitle: About\n---\nStandalone quokka.\n")
    (root / "tracesite.toml").write_text("[build]\nmax_pages = 3\n")
    result = build_project(root, BuildOptions(jobs=1, quiet=True))
    assert result.ok, result.errors
    return root


def test_every_trace_has_a_card_in_id_order(gallery: Path) -> None:
    site = gallery / "site"
    cards = all_cards(site)
    assert [c["i"] for c in cards] == list(range(6))
    assert shard(site, "meta")["n"] == 6
    # the top level first, then the runs section in content order
    assert [c["t"] for c in cards] == [
        "long.json",
        "t0.json",
        "Noted one",
        *map("t{}.json".format, (2, 3, 4)),
    ]
    sections = shard(site, "meta")["sections"]
    assert [(s["name"], s["count"], s["first"]) for s in sections] == [("", 1, 0), ("runs", 5, 1)]
    assert list(shard(site, "col-section")["v"]) == [0, 1, 1, 1, 1, 1]


def test_traces_without_notes_open_in_the_viewer(gallery: Path) -> None:
    site = gallery / "site"
    cards = all_cards(site)
    noted = next(c for c in cards if c["t"] == "Noted one")
    assert noted["u"] == "traces/runs/t1/index.html" and (site / noted["u"]).is_file()
    others = [c for c in cards if c is not noted]
    assert all(c["u"].startswith("view/index.html?t=") for c in others)
    assert not (site / "traces/runs/t0/index.html").exists()
    assert (site / "view/index.html").is_file()
    # the index page's first page links the same places
    index = (site / "index.html").read_text(encoding="utf-8")
    assert 'href="traces/runs/t1/index.html"' in index
    assert "view/index.html?t=" in index


def test_columns_and_title_order_match_the_cards(gallery: Path) -> None:
    site = gallery / "site"
    cards = all_cards(site)
    assert list(shard(site, "col-n")["v"]) == [c["n"] for c in cards]
    assert np.allclose(shard(site, "col-p")["v"], [c["p"] for c in cards])
    order = list(shard(site, "ord-title")["ids"])
    assert [cards[i]["t"].casefold() for i in order] == sorted(c["t"].casefold() for c in cards)
    fields = {f["name"] for f in shard(site, "meta")["fields"]}
    assert {"title", "n", "p", "q", "d"} <= fields


def _js_order(values: list[float], descending: bool) -> list[int]:
    """gallery.js's argsort, written out: known values by value then id; NaN last by id."""
    known = [i for i, v in enumerate(values) if v == v]
    unknown = [i for i, v in enumerate(values) if v != v]
    sign = -1 if descending else 1
    return sorted(known, key=lambda i: (sign * values[i], i)) + unknown


def test_sort_order_keeps_ties_by_id_and_unknowns_last() -> None:
    from tracesite.build.indexwrite import sort_order

    values = [2.0, float("nan"), 1.0, 2.0, -0.0, 0.0, float("inf"), float("nan"), -1.5, 1.0]
    for descending in (False, True):
        got = sort_order(np.array(values), descending).tolist()
        assert got == _js_order(values, descending)
    assert sort_order(np.array(values), True).tolist()[:2] == [6, 0]  # inf, then ties by id


def test_each_sort_has_its_first_page_presorted(gallery: Path) -> None:
    site = gallery / "site"
    meta = shard(site, "meta")
    cards = all_cards(site)
    want_specs = {
        f"{'date' if f['name'] == 'd' else f['name']}-{d}"
        for f in meta["fields"]
        for d in ("asc", "desc")
    }
    assert set(meta["top"]) == want_specs
    for spec, k in meta["top"].items():
        key, _, direction = spec.rpartition("-")
        if key == "title":
            ids = sorted(range(len(cards)), key=lambda i: cards[i]["t"].casefold())
            ids = ids[::-1] if direction == "desc" else ids
        else:
            values = list(shard(site, "col-" + ("d" if key == "date" else key))["v"])
            ids = _js_order(values, direction == "desc")
        size = meta["page_size"]
        assert shard(site, f"top-{k}-1") == [cards[i] for i in ids[:size]], spec
        assert not (site / f"assets/index/top-{k}-2.js").exists()  # 6 traces: one page


def test_search_finds_the_last_word_of_a_long_trace_at_its_position(gallery: Path) -> None:
    site = gallery / "site"
    assert postings(gallery / "site", "zebrafinal") == [0, 700]  # trace 0, its 700th token
    assert postings(site, "gamma") == [0, 3]


def test_search_finds_a_trace_by_its_file_name_and_model(gallery: Path) -> None:
    """What a card shows besides the text: the path (a card's title without a note) and the
    model, at position -1 (no position to open) unless the word is in the text too."""
    site = gallery / "site"
    assert postings(site, "long") == [0, -1]  # content/long.json
    assert postings(site, "runs")[0::2] == [1, 2, 3, 4, 5]  # the folder of the five others
    assert set(postings(site, "runs")[1::2]) == {-1}
    assert postings(site, "t3")[0::2] == [4]
    assert postings(site, "test") == [i for k in range(6) for i in (k, -1)]  # "test-model"
    assert postings(site, "gamma") == [0, 3]  # in the text: its position kept


def test_search_finds_note_and_page_words(gallery: Path) -> None:
    site = gallery / "site"
    docs = {d["i"]: d for d in shard(site, "docs")}
    (i,) = postings(site, "aardvarkish")[0::2]
    assert docs[i]["u"] == "traces/runs/t1/index.html" and postings(site, "aardvarkish")[1] == -1
    (j,) = postings(site, "quokka")[0::2]
    assert docs[j]["u"] == "about/index.html"
    assert shard(site, "meta")["n_docs"] == 8


def test_tag_shard_lists_the_noted_trace(gallery: Path) -> None:
    site = gallery / "site"
    meta = shard(site, "meta")
    assert meta["tags"] == [["keep", 1]]
    assert list(shard(site, "tag-0")["ids"]) == [2]


def test_token_index_points_at_the_shard_holding_the_token(gallery: Path) -> None:
    site = gallery / "site"
    meta = shard(site, "meta")
    key = "zebrafinal"
    shards = shard(site, f"k-{fnv1a32(key) % meta['token_buckets']}")[key]
    held = [
        t["i"]
        for s in shards
        for t in shard(site, f"tok-{s}")["traces"]
        if END_WORD in token_texts(t["cols"])
    ]
    assert held == [0]


def test_token_shard_round_trips_the_heatmap_columns(gallery: Path) -> None:
    site = gallery / "site"
    cards = all_cards(site)
    (trace,) = read_bytes((gallery / "content/long.json").read_bytes(), "long.json")
    packed = pack_trace(trace, HeatmapOptions(), "v")
    shard_no, k = map(int, cards[0]["u"].split("=")[1].split("."))
    entry = shard(site, f"tok-{shard_no}")["traces"][k]
    assert entry["i"] == 0
    assert viewer_cfg(entry) == json.loads(str(packed["cfg"]))
    # the string table is the shard's (shared by its traces): the same texts at each position
    assert "strings" in shard(site, f"tok-{shard_no}")
    assert token_texts(entry["cols"]) == token_texts(packed)
    assert token_texts(entry["cols"])[trace.n_tokens - 1] == END_WORD
    for name, want in packed.items():
        if name not in ("cfg", *SHARED_COLUMNS):
            assert np.array_equal(
                np.asarray(entry["cols"][name]), np.asarray(want), equal_nan=True
            ), name


def test_rows_of_a_split_table_get_their_own_ids_and_positions(tmp_path: Path) -> None:
    """A rollout table read as several tasks: each row's terms point at its own id."""
    import pyarrow.parquet as pq
    from synth_rollouts import step_table

    root = tmp_path / "p"
    (root / "content").mkdir(parents=True)
    table = step_table(40, 3000, seed=3, group=4)  # over 1 MB: split in tasks of 16 rows
    pq.write_table(table, root / "content/step.parquet")
    assert (root / "content/step.parquet").stat().st_size > SPLIT_MIN_BYTES
    (root / "tracesite.toml").write_text("[build]\nmax_pages = 10\n")
    assert build_project(root, BuildOptions(jobs=1, quiet=True)).ok
    site = root / "site"
    cards = all_cards(site)
    assert len(cards) == 40 and all(c["u"].startswith("view/") for c in cards)
    rows = table.column("response_tokens").to_pylist()
    for i in (0, 17, 39):  # rows in the first, second and third task of 16 rows
        words = [t.strip() for t in rows[i]]
        word = next(w for w in words if w.startswith("w"))
        got = postings(site, word)
        assert i in got[0::2]
        assert got[got[0::2].index(i) * 2 + 1] == words.index(word) + 1
        assert cards[i]["sc"].get("reward") == table.column("reward")[i].as_py()


def test_an_unchanged_rebuild_writes_the_same_shards(gallery: Path) -> None:
    site = gallery / "site"
    before = {p: p.read_bytes() for p in site.rglob("assets/*/*.js")}
    assert build_project(gallery, BuildOptions(jobs=1, quiet=True)).ok
    after = {p: p.read_bytes() for p in site.rglob("assets/*/*.js")}
    assert after == before


def test_a_small_table_past_max_pages_gets_no_pages(tmp_path: Path) -> None:
    """Counted as one trace before reading, it holds more than max_pages after all."""
    import pyarrow.parquet as pq
    from synth_rollouts import step_table

    root = tmp_path / "p"
    (root / "content").mkdir(parents=True)
    pq.write_table(step_table(12, 20, seed=1, group=4), root / "content/step.parquet")
    (root / "tracesite.toml").write_text("[build]\nmax_pages = 5\n")
    assert build_project(root, BuildOptions(jobs=1, quiet=True)).ok
    cards = all_cards(root / "site")
    assert len(cards) == 12 and all(c["u"].startswith("view/index.html?t=") for c in cards)
    assert not (root / "site/traces").exists()


def test_under_max_pages_every_trace_keeps_its_page(tmp_path: Path) -> None:
    root = tmp_path / "small"
    (root / "content").mkdir(parents=True)
    for k in range(3):
        (root / f"content/a{k}.json").write_text(json.dumps(native_trace(20, seed=k)))
    assert build_project(root, BuildOptions(jobs=1, quiet=True)).ok
    cards = all_cards(root / "site")
    assert [c["u"] for c in cards] == [f"traces/a{k}/index.html" for k in range(3)]
    assert not (root / "site/view/index.html").exists()


def viewer_cfg(entry: dict[str, Any]) -> dict[str, Any]:
    """The config as the viewer rebuilds it: the built-in modes put back."""
    return {**entry["cfg"], "modes": {**modes_config(), **entry["cfg"]["modes"]}}


def channel_values(cols: dict[str, Any]) -> np.ndarray[Any, Any]:
    """``chv`` as the viewer reads it: float16 widened, then the float32 exceptions put in."""
    chv = np.asarray(cols["chv"], dtype=np.float32).copy()
    if "chvx" in cols:
        chv[cols["chvx"]] = cols["chvy"]
    return chv


def test_channels_in_a_token_shard_keep_three_significant_digits(tmp_path: Path) -> None:
    import pyarrow.parquet as pq
    from synth_rollouts import step_table

    from tracesite.build.shards import honest_f16

    root = tmp_path / "p"
    (root / "content").mkdir(parents=True)
    pq.write_table(step_table(4, 500, seed=2, group=4), root / "content/step.parquet")
    (root / "tracesite.toml").write_text("[build]\nmax_pages = 0\n")
    assert build_project(root, BuildOptions(jobs=1, quiet=True)).ok
    traces = read_bytes((root / "content/step.parquet").read_bytes(), "step.parquet")
    entries = shard(root / "site", "tok-0")["traces"]
    assert len(entries) == 4
    for trace, entry in zip(traces, entries, strict=True):
        packed = pack_trace(trace, HeatmapOptions(), "v")
        want = np.asarray(packed["chv"], dtype=np.float64)
        got = channel_values(entry["cols"]).astype(np.float64)
        assert len(got) == len(want) == 2 * trace.n_tokens  # trainer logprob and entropy
        # every value within half a unit of its third significant digit
        digit = 10.0 ** (np.floor(np.log10(np.abs(want) + 1e-300)) - 2)
        assert (np.abs(got - want) <= 0.5 * digit).all()
        assert viewer_cfg(entry) == json.loads(str(packed["cfg"]))
    # values float16 cannot hold honestly travel as float32 exceptions
    values = np.linspace(0.5, 3.0, 100).astype(np.float32)
    values[[1, 3]] = -1e-6, 70000.0
    enc = decode(honest_f16(values))
    assert list(enc["chvx"]) == [1, 3] and np.array_equal(
        channel_values(enc)[[1, 3]], values[[1, 3]]
    )
    assert np.allclose(channel_values(enc), values, rtol=5e-4)
    # too many of them: float32 throughout
    assert decode(honest_f16(values[:4]))["chv"].dtype == np.float32
