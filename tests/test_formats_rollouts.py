"""Rollout tables (SPEC §15): Parquet, Arrow/Feather and JSONL files, one trace per row.

Fixtures are written here with pyarrow; token ids are decoded with tokenizers trained or built
here (nothing is downloaded).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

import tracesite
from tracesite.build import statindex
from tracesite.build.job import Task
from tracesite.build.memo import BuildMemo
from tracesite.build.pipeline import BuildOptions, build_project
from tracesite.core import tables
from tracesite.core.config import load_config
from tracesite.core.errors import ErrorCollection, TraceReadError
from tracesite.core.options import HeatmapOptions, ReadOptions
from tracesite.formats import read_bytes, table_rows
from tracesite.model.checks import data_flags

SENTENCES = [
    "The naïve café served 日本 tea.",
    "A naïve model wrote 日本語 and café twice.",
    "Hello world, hello tokens: naïve café 日本!",
    "Rollouts carry logprobs, entropy and advantages.",
]


def _rows(n: int = 5, seed: int = 0) -> dict[str, list[object]]:
    """Columns of ``n`` rollouts under SPEC §15's default names (float32 lists, as trainers
    write them)."""
    rng = np.random.default_rng(seed)
    words = [" the", " model", " naïve", " café", " 日本", ",", "\n", " 42", "."]
    cols: dict[str, list[object]] = {
        k: []
        for k in (
            "id",
            "step",
            "uid",
            "prompt",
            "response_tokens",
            "rollout_logprobs",
            "train_logprobs",
            "entropy",
            "advantages",
            "response_mask",
            "kl",
            "reward",
            "temperature",
        )
    }
    for r in range(n):
        m = 3 + r
        cols["id"].append(f"r{r:03d}")
        cols["step"].append(120)
        cols["uid"].append(f"prompt-{r // 2}")
        cols["prompt"].append(f"Question {r}?")
        cols["response_tokens"].append([words[(r + i) % len(words)] for i in range(m)])
        lp = -rng.random(m).astype(np.float32)
        cols["rollout_logprobs"].append(lp)
        cols["train_logprobs"].append(lp + np.float32(0.01))
        cols["entropy"].append(rng.random(m).astype(np.float32))
        cols["advantages"].append(np.full(m, 0.5 - r, dtype=np.float32))
        cols["response_mask"].append(np.array([1] * (m - 1) + [0], dtype=np.int8))
        cols["kl"].append(rng.random(m).astype(np.float32))
        cols["reward"].append(float(r % 2))
        cols["temperature"].append(1.0)
    return cols


def _table(cols: dict[str, list[object]]) -> pa.Table:
    floats = pa.list_(pa.float32())
    types = {
        "rollout_logprobs": floats,
        "train_logprobs": floats,
        "entropy": floats,
        "advantages": floats,
        "kl": floats,
        "response_mask": pa.list_(pa.int8()),
    }
    return pa.table(
        {
            k: pa.array(
                [v.tolist() if isinstance(v, np.ndarray) else v for v in vs], type=types.get(k)
            )
            for k, vs in cols.items()
        }
    )


def _json_rows(cols: dict[str, list[object]]) -> list[str]:
    n = len(cols["id"])
    return [
        json.dumps(
            {k: (v[r].tolist() if isinstance(v[r], np.ndarray) else v[r]) for k, v in cols.items()},
            ensure_ascii=False,
        )
        for r in range(n)
    ]


def _parquet(table: pa.Table, path: Path, **kw: object) -> bytes:
    pq.write_table(table, path, **kw)
    return path.read_bytes()


def test_parquet_default_columns(tmp_path: Path) -> None:
    cols = _rows()
    data = _parquet(_table(cols), tmp_path / "step.parquet")
    traces = read_bytes(data, "step.parquet")
    assert len(traces) == 5
    t = traces[2]
    assert t.meta.index == 2 and t.meta.format == "rollouts_parquet"
    assert t.meta.source == "step.parquet"
    assert list(t.tokens) == cols["response_tokens"][2]
    assert t.text == "".join(cols["response_tokens"][2])
    # float32 values are read exactly (float32 -> float64 is exact)
    want = np.asarray(cols["rollout_logprobs"][2], dtype=np.float32).astype(np.float64)
    assert np.array_equal(t.logprobs, want)
    for name, col in [
        ("train_logprob", "train_logprobs"),
        ("entropy", "entropy"),
        ("advantage", "advantages"),
        ("mask", "response_mask"),
        ("kl", "kl"),
    ]:
        expect = np.asarray(cols[col][2]).astype(np.float32).astype(np.float64)
        assert np.array_equal(t.channels[name], expect), name
    assert list(t.channels) == ["train_logprob", "entropy", "advantage", "mask", "kl"]
    assert t.mask is not None and not t.mask[-1] and t.mask[:-1].all()
    assert t.meta.group == "prompt-1"
    assert t.meta.prompt == "Question 2?"
    assert t.meta.extra == {"id": "r002"}
    assert dict(t.meta.scalars) == {"step": 120, "reward": 0.0, "temperature": 1.0}
    assert t.meta.provenance["entropy"] == "exact"


def test_feather_arrow_stream_and_jsonl_read_like_parquet(tmp_path: Path) -> None:
    cols = _rows()
    table = _table(cols)
    from_parquet = read_bytes(_parquet(table, tmp_path / "a.parquet"), "a")
    feather.write_feather(table, tmp_path / "a.feather")  # Feather v2 = Arrow IPC file, lz4
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    jsonl = ("\n".join(_json_rows(cols)) + "\n").encode()
    for data, fmt in [
        ((tmp_path / "a.feather").read_bytes(), "rollouts_arrow"),
        (sink.getvalue().to_pybytes(), "rollouts_arrow"),
        (jsonl, "rollouts_jsonl"),
    ]:
        got = read_bytes(data, "a")
        assert [t.meta.format for t in got] == [fmt] * 5
        assert got == from_parquet
        assert [t.meta.index for t in got] == list(range(5))


def test_one_json_row_is_read_as_a_rollout(tmp_path: Path) -> None:
    row = {"tokens": ["Hi", " there"], "logprobs": [-0.5, -0.25], "reward": 1}
    (t,) = read_bytes(json.dumps(row).encode(), "row.json")
    assert t.text == "Hi there" and t.meta.format == "rollouts_jsonl"
    assert list(t.logprobs) == [-0.5, -0.25] and dict(t.meta.scalars) == {"reward": 1}


def test_column_mapping(tmp_path: Path) -> None:
    table = pa.table(
        {
            "resp_tokens": [["a", "b", "c"]],
            "old_log_probs": pa.array([[-0.1, -0.2, -0.3]], type=pa.list_(pa.float32())),
            "critic_values": [[0.5, 0.25, 0.0]],
            "acc": [1.0],
        }
    )
    options = ReadOptions(
        columns=(
            ("tokens", "resp_tokens"),
            ("logprob", "old_log_probs"),
            ("value", "critic_values"),
            ("reward", "acc"),
        )
    )
    (t,) = read_bytes(_parquet(table, tmp_path / "m.parquet"), "m.parquet", options)
    assert t.tokens == ("a", "b", "c")
    assert np.array_equal(t.logprobs, np.array([-0.1, -0.2, -0.3], dtype=np.float32))
    assert list(t.channels) == ["value"]
    assert dict(t.meta.scalars) == {"reward": 1.0}
    with pytest.raises(TraceReadError, match=r"no column 'nope' \(rollouts\.columns\.tokens"):
        read_bytes(
            _parquet(table, tmp_path / "m.parquet"),
            "m.parquet",
            ReadOptions(columns=(("tokens", "nope"),)),
        )


def test_length_mismatch_is_an_addressed_error(tmp_path: Path) -> None:
    n = 20
    tokens = [["x"] * 213 for _ in range(n)]
    train = [[-0.1] * 213 for _ in range(n)]
    train[17] = [-0.1] * 212
    table = pa.table({"tokens": tokens, "logprobs": train, "train_logprobs": train})
    table = table.set_column(1, "logprobs", pa.array([[-0.1] * 213] * n))
    path = tmp_path / "rollouts.parquet"
    pq.write_table(table, path)
    with pytest.raises(TraceReadError) as exc:
        tracesite.load(path)
    assert str(exc.value) == f"{path}: row 17: column train_logprobs: 212 values, tokens has 213"


def test_ids_without_tokenizer_are_labelled(tmp_path: Path) -> None:
    table = pa.table({"response_ids": [[5, 17, 5]], "logprobs": [[-0.1, -0.2, -0.3]]})
    (t,) = read_bytes(_parquet(table, tmp_path / "ids.parquet"), "ids.parquet")
    assert t.tokens == ("⟨id 5⟩", "⟨id 17⟩", "⟨id 5⟩")
    assert list(t.token_ids) == [5, 17, 5]
    assert t.meta.provenance["tokenizer"].startswith("none")
    assert "no_tokenizer" in [f.code for f in data_flags(t)]


def _byte_level_tokenizer(path: Path, vocab_size: int = 300) -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=["<|end|>"],
        show_progress=False,
    )
    tok.train_from_iterator(SENTENCES, trainer)
    tok.save(str(path))
    return tok


def _options(path: Path) -> ReadOptions:
    import hashlib

    return ReadOptions(
        tokenizer=path.name,
        tokenizer_path=str(path),
        tokenizer_digest=hashlib.sha256(path.read_bytes()).hexdigest(),
    )


def test_ids_decoded_with_a_byte_level_tokenizer(tmp_path: Path) -> None:
    tok = _byte_level_tokenizer(tmp_path / "tokenizer.json")
    text = "naïve café 日本"
    ids = [*tok.encode(text).ids, tok.token_to_id("<|end|>")]
    # some token holds part of a character: decoded alone, it is U+FFFD
    assert any("\ufffd" in tok.decode([i]) for i in ids)
    table = pa.table({"token_ids": [ids], "logprobs": [[-0.5] * len(ids)]})
    data = _parquet(table, tmp_path / "ids.parquet")
    (t,) = read_bytes(data, "ids.parquet", _options(tmp_path / "tokenizer.json"))
    assert t.text == text  # the special <|end|> is left out of the text
    assert bool(t.special[-1]) and t.tokens[-1] == "<|end|>"
    assert b"".join(b for b in t.token_bytes[:-1] if b is not None) == text.encode()
    assert "Ġ" not in "".join(t.tokens)
    assert t.meta.provenance["tokenizer"] == "tokenizer.json"


def test_ids_decoded_with_sentencepiece_byte_fallback(tmp_path: Path) -> None:
    """Llama-2-style: ``▁`` is a space, characters outside the vocabulary are <0xNN> bytes."""
    vocab = {"<unk>": 0, "▁": 1, "n": 2, "a": 3, "v": 4, "e": 5, "▁n": 6, "na": 7}
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = len(vocab)
    tok = Tokenizer(
        models.BPE(vocab=vocab, merges=[("▁", "n")], byte_fallback=True, unk_token="<unk>")
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Sequence(
        [
            decoders.Replace("▁", " "),
            decoders.ByteFallback(),
            decoders.Fuse(),
            decoders.Strip(" ", 1, 0),
        ]
    )
    path = tmp_path / "sp.json"
    tok.save(str(path))
    text = "naïve 日本"
    ids = tok.encode(text).ids
    assert tok.decode(ids) == text
    table = pa.table({"token_ids": [ids], "logprobs": [[-0.5] * len(ids)]})
    (t,) = read_bytes(_parquet(table, tmp_path / "sp.parquet"), "sp.parquet", _options(path))
    # per token, the leading "▁" is a space: the decoder's Strip applies to a whole sequence
    assert t.text == " " + text
    assert "\\xe6" in t.tokens  # the first byte of 日, shown as OpenAI shows partial bytes


def test_config_rollouts_table(make_project) -> None:
    project = make_project(
        {
            "tok.json": "{}",
            "tracesite.toml": (
                '[rollouts]\ntokenizer = "tok.json"\nengine = "vllm"\nlogprobs = "processed"\n'
                '[rollouts.columns]\nlogprob = "old_log_probs"\n'
            ),
        }
    )
    read = load_config(project).read
    assert read.column("logprob") == "old_log_probs" and read.engine == "vllm"
    assert read.tokenizer == "tok.json" and read.tokenizer_path == str(project / "tok.json")
    assert len(read.tokenizer_digest) == 64 and read.digest
    bad = make_project(
        {
            "tracesite.toml": (
                '[rollouts]\nlogprobs = "cooked"\nentropy = 3\ntokenizer = "missing.json"\n'
                "[rollouts.columns]\ntokens = 7\n"
            )
        },
        name="bad",
    )
    with pytest.raises(ErrorCollection) as exc:
        load_config(bad)
    shown = sorted(f"{e.address}: {e.message}" for e in exc.value)
    assert shown == [
        "rollouts.columns.tokens: expected a column name (a string), got 7",
        "rollouts.entropy: expected a string, got 3",
        "rollouts.logprobs: expected 'raw' or 'processed', got 'cooked'",
        "rollouts.tokenizer: cannot read the tokenizer 'missing.json': No such file or directory",
    ]


def test_cache_key_follows_the_tokenizer_and_the_mapping(tmp_path: Path, make_project) -> None:
    task = Task(tmp_path / "a.parquet", "a.parquet", HeatmapOptions(), tmp_path)
    keys = {
        task.key(b"x"),
        Task(
            task.path, task.rel, task.options, tmp_path, read=ReadOptions(tokenizer_digest="1")
        ).key(b"x"),
        Task(
            task.path, task.rel, task.options, tmp_path, read=ReadOptions(tokenizer_digest="2")
        ).key(b"x"),
        Task(
            task.path,
            task.rel,
            task.options,
            tmp_path,
            read=ReadOptions(columns=(("tokens", "t"),)),
        ).key(b"x"),
        Task(task.path, task.rel, task.options, tmp_path, rows=(0, 16), n_rows=32).key(b"x"),
    }
    assert len(keys) == 5
    # the absolute path of the tokenizer is not in the key: a moved project keeps its cache
    assert (
        ReadOptions(tokenizer_path="/a", tokenizer_digest="1").digest
        == ReadOptions(tokenizer_path="/b", tokenizer_digest="1").digest
    )

    project = make_project({"tracesite.toml": '[rollouts]\ntokenizer = "tokenizer.json"\n'})
    tok = _byte_level_tokenizer(project / "tokenizer.json")
    ids = tok.encode("naïve café").ids
    pq.write_table(
        pa.table({"token_ids": [ids, ids], "logprobs": [[-0.5] * len(ids)] * 2}),
        project / "content" / "ids.parquet",
    )
    memo = BuildMemo()  # as the dev server keeps one between builds
    first = build_project(project, BuildOptions(quiet=True, jobs=1), memo)
    assert first.ok and first.rendered == 1
    again = build_project(project, BuildOptions(quiet=True, jobs=1), memo)
    assert again.rendered == 0
    _byte_level_tokenizer(project / "tokenizer.json", vocab_size=280)  # another vocabulary
    changed = build_project(project, BuildOptions(quiet=True, jobs=1), memo)
    assert changed.ok and changed.rendered == 1
    assert build_project(project, BuildOptions(quiet=True, jobs=1)).rendered == 0


@pytest.mark.parametrize("kind", ["parquet", "feather", "jsonl"])
def test_row_ranges_read_the_same_traces(tmp_path: Path, kind: str) -> None:
    cols = _rows(40)
    table = _table(cols)
    path = tmp_path / f"t.{kind}"
    if kind == "parquet":
        pq.write_table(table, path, row_group_size=7)  # ranges cross row groups
    elif kind == "feather":
        feather.write_feather(table, path, chunksize=9)  # and record batches
    else:
        path.write_text("\n\n".join(_json_rows(cols)) + "\n", encoding="utf-8")  # blank lines
    data = path.read_bytes()
    whole = read_bytes(data, "t")
    assert table_rows(data) == 40
    parts = []
    for lo in range(0, 40, 11):
        got = read_bytes(data, "t", rows=(lo, min(40, lo + 11)))
        assert [t.meta.index for t in got] == list(range(lo, min(40, lo + 11)))
        parts += got
    assert parts == whole
    assert [t.meta.index for t in parts] == [t.meta.index for t in whole]


def test_table_rows_from_the_parquet_footer(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(tables, "SPLIT_MIN_BYTES", 0)
    table = _table(_rows(30))
    for kw in ({}, {"row_group_size": 4}, {"compression": "zstd", "write_statistics": False}):
        pq.write_table(table, tmp_path / "t.parquet", **kw)
        assert tables.table_rows(tmp_path / "t.parquet") == 30
    feather.write_feather(table, tmp_path / "t.arrow")
    assert tables.table_rows(tmp_path / "t.arrow") == 30
    (tmp_path / "x.json").write_text('{"choices": []}\n{"choices": []}\n')
    assert tables.table_rows(tmp_path / "x.json") is None


def _project_with_table(make_project, n: int, name: str) -> Path:
    project = make_project(name=name)
    pq.write_table(_table(_rows(n)), project / "content" / "step.parquet", row_group_size=10)
    return project


def test_a_split_table_builds_the_same_site(make_project, monkeypatch) -> None:
    whole = _project_with_table(make_project, 40, "whole")
    assert build_project(whole, BuildOptions(quiet=True, jobs=1)).ok
    monkeypatch.setattr(tables, "SPLIT_MIN_BYTES", 0)  # split even this small table
    split = _project_with_table(make_project, 40, "split")
    result = build_project(split, BuildOptions(quiet=True, jobs=2))
    assert result.ok, [str(e) for e in result.errors]
    assert result.n_traces == 40 and result.rendered > 1  # several row-range tasks

    def pages(root: Path) -> dict[str, str]:
        import re

        ids = re.compile(r"(p\d{3,}|[0-9a-f]{8,}(?:-[0-9a-f]{4,})*)")
        return {
            p.relative_to(root).as_posix(): ids.sub("ID", p.read_text(encoding="utf-8"))
            for p in sorted(root.rglob("*.html"))
        }

    assert pages(whole / "site") == pages(split / "site")
    # the dev server's memo tells the row ranges of one file apart
    monkeypatch.setattr(statindex, "RACY_NS", 0)  # remember files written just now
    memo = BuildMemo()
    for _ in range(2):
        again = build_project(split, BuildOptions(quiet=True, jobs=1), memo)
        assert again.ok and again.rendered == 0 and again.n_traces == 40
        assert pages(whole / "site") == pages(split / "site")
    # each row's page is named by its id column
    assert (split / "site" / "traces" / "step" / "r017" / "index.html").is_file()


def test_tracesite_build_of_a_rollout_table(make_project, cli) -> None:
    project = make_project(
        {
            "content/run/step.md": "---\ntitle: Step 120\n---\nA GRPO step.\n",
            "tracesite.toml": '[rollouts]\nengine = "vllm"\n',
        }
    )
    (project / "content" / "run").mkdir(exist_ok=True)
    pq.write_table(_table(_rows(3)), project / "content" / "run" / "step.parquet")
    done = cli("build", str(project))
    assert done.returncode == 0, done.stderr
    assert "3 traces" in done.stderr
    page = (project / "site" / "traces" / "run" / "step" / "r001" / "index.html").read_text()
    assert "vllm" in page and "Step 120" in page


def test_formats_import_no_pyarrow() -> None:
    code = "import sys, tracesite.formats; print('pyarrow' in sys.modules, 'tokenizers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_row_ranges_of_one_table_are_read_once_to_look_them_up(tmp_path: Path, monkeypatch) -> None:
    import tracesite.build.job as job

    path = tmp_path / "t.parquet"
    pq.write_table(_table(_rows(8)), path)
    reads: list[str] = []
    real = job._read
    monkeypatch.setattr(job, "_read", lambda task: reads.append(task.rel) or real(task))
    memo = BuildMemo(keep_traces=False)
    index = statindex.StatIndex(tmp_path / "cache", "test")
    tasks = [
        Task(path, "t", HeatmapOptions(), tmp_path / "cache", rows=(a, a + 2), n_rows=8)
        for a in range(0, 8, 2)
    ]
    assert [memo.lookup(t, index)[0] for t in tasks] == [None] * 4  # nothing cached yet
    assert reads == ["t"]
    keys = {t.key(path.read_bytes()) for t in tasks}
    assert len(keys) == 4


def test_default_names_of_another_shape_are_scalars(tmp_path: Path) -> None:
    """TRL's GRPO gives one advantage per completion; a "tokens" column may count tokens."""
    table = pa.table(
        {
            "tokens": [3],
            "response_tokens": [["a", "b", "c"]],
            "logprobs": [[-0.1, -0.2, -0.3]],
            "advantages": [0.75],
            "prompt": [[{"role": "user", "content": "Hi?"}]],
        }
    )
    (t,) = read_bytes(_parquet(table, tmp_path / "g.parquet"), "g.parquet")
    assert t.tokens == ("a", "b", "c") and list(t.channels) == []
    assert dict(t.meta.scalars) == {"tokens": 3, "advantages": 0.75}
    assert t.meta.prompt == "Hi?"
