"""Per-token channels in the model, the native format and ``inspect`` (SPEC §15, issue 12 point 1)
and the data checks (point 4)."""

from __future__ import annotations

import json
import math
import pickle
from pathlib import Path

import numpy as np
import pytest

import tracesite
from tracesite import Trace, TraceMeta
from tracesite.commands.inspect import run_inspect
from tracesite.core.options import HeatmapOptions
from tracesite.formats.native import native_schema, to_native_dict
from tracesite.model.channels import channel_info, channel_stats
from tracesite.model.checks import ZERO_RUN, data_flags
from tracesite.model.summary import summarise

rng = np.random.default_rng(7)
N = 40
SAMPLER = np.log(rng.uniform(0.05, 1.0, N))
TRAINER = np.minimum(SAMPLER + rng.normal(0, 0.05, N), -1e-4)
REF = SAMPLER - rng.uniform(0, 0.3, N)
ENTROPY = rng.uniform(0, 3, N)
ADV = np.full(N, -0.75)
MASK = np.ones(N)
MASK[:3] = 0


def rollout(**changes: object) -> Trace:
    channels = {
        "train_logprob": TRAINER,
        "ref_logprob": REF,
        "entropy": ENTROPY,
        "advantage": ADV,
        "mask": MASK,
    }
    channels.update(changes)  # type: ignore[arg-type]
    return Trace(
        tokens=[f"t{i} " for i in range(N)],
        logprobs=SAMPLER,
        channels=channels,
        meta=TraceMeta(group="g1", scalars={"step": 3, "reward": 1.0}),
    )


def test_keyword_construction_fills_every_field() -> None:
    t = Trace(tokens=["Hello", " world"], logprobs=[-0.1, None])
    assert t.text == "Hello world"
    assert t.token_ids.tolist() == [-1, -1]
    assert math.isnan(t.logprobs[1]) and t.alt_offsets.tolist() == [0, 0, 0]
    assert t.stats.n_unknown == 1 and t.stats.top_k == 0
    assert dict(t.channels) == {} and t.mask is None
    # sentinels are normalised as every reader does
    assert math.isnan(Trace(tokens=["a"], logprobs=[-9999.0]).logprobs[0])


def test_channels_are_read_by_name_and_derived_channels_match_numpy() -> None:
    t = rollout()
    assert np.array_equal(t.channels["entropy"], ENTROPY)
    assert t.channel_names == (
        "logprob",
        "train_logprob",
        "ref_logprob",
        "entropy",
        "advantage",
        "mask",
        "delta_logprob",
        "ratio",
        "ref_log_ratio",
    )
    np.testing.assert_allclose(t.channel("delta_logprob"), TRAINER - SAMPLER)
    np.testing.assert_allclose(t.channel("ratio"), np.exp(TRAINER - SAMPLER))
    np.testing.assert_allclose(t.channel("ref_log_ratio"), SAMPLER - REF)
    np.testing.assert_allclose(t.channel("logprob"), SAMPLER)
    assert t.mask is not None and t.mask.tolist() == [False] * 3 + [True] * (N - 3)
    with pytest.raises(KeyError):
        t.channel("nope")
    # only what both sides exist for is derived
    bare = Trace(tokens=["a", "b"], logprobs=[-1, -2], channels={"entropy": [1, 2]})
    assert bare.channel_names == ("logprob", "entropy")


def test_channel_kinds_colour_signed_ones_around_their_centre() -> None:
    assert channel_info("advantage").kind == "signed"
    assert channel_info("ratio").centre == 1.0
    assert channel_info("entropy").kind == "sequential"
    assert channel_info("mask").kind == "mask"
    assert channel_info("kl", np.array([0.1, -0.2])).kind == "signed"
    assert channel_info("len_penalty", np.array([0.1, 0.2])).kind == "sequential"


def test_wrong_lengths_name_the_channel() -> None:
    with pytest.raises(ValueError, match="channel entropy: 39 values, tokens has 40"):
        rollout(entropy=ENTROPY[:-1])
    with pytest.raises(ValueError, match="logprobs: 2 values, tokens has 1"):
        Trace(tokens=["a"], logprobs=[-1, -2])


def test_slice_pickle_and_equality_carry_channels() -> None:
    t = rollout()
    part = t.slice(5, 10)
    assert np.array_equal(part.channels["advantage"], ADV[5:10])
    assert pickle.loads(pickle.dumps(t)) == t
    other = rollout(entropy=ENTROPY + 1)
    assert other != t


def test_channel_stats_are_the_numpy_mean_min_max() -> None:
    st = channel_stats(rollout())
    assert st["entropy"]["mean"] == pytest.approx(float(ENTROPY.mean()))
    assert st["entropy"]["min"] == pytest.approx(float(ENTROPY.min()))
    assert st["delta_logprob"]["max"] == pytest.approx(float((TRAINER - SAMPLER).max()))
    assert st["entropy"]["n"] == N


def test_native_round_trip_keeps_channels_group_scalars_and_provenance(tmp_path: Path) -> None:
    t = rollout(entropy=np.where(np.arange(N) == 4, np.nan, ENTROPY)).replace_meta(
        provenance={"engine": "vllm", "logprobs": "processed"}
    )
    path = tmp_path / "r.json"
    tracesite.save(t, path)
    doc = json.loads(path.read_text())
    assert doc["tracesite"] == 2 and doc["channels"]["entropy"][4] is None
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(doc, native_schema())
    (back,) = tracesite.load(path)
    assert back == t
    assert back.meta.group == "g1" and back.meta.scalars == {"step": 3, "reward": 1.0}
    assert back.meta.provenance["logprobs"] == "processed"


def test_version_1_files_still_read(tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    path.write_text('{"tracesite": 1, "tokens": [{"text": "a", "logprob": -0.5}]}')
    (t,) = tracesite.load(path)
    assert t.n_tokens == 1 and dict(t.channels) == {}


def test_a_native_channel_of_the_wrong_length_is_an_addressed_error(tmp_path: Path) -> None:
    doc = to_native_dict(rollout())
    doc["channels"]["entropy"] = doc["channels"]["entropy"][:-2]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(
        tracesite.TraceReadError, match=r"\$\.channels\.entropy: 38 values, tokens has 40"
    ):
        tracesite.load(path)


# ----------------------------------------------------------------------------- data checks


def codes(t: Trace) -> list[str]:
    return [f.code for f in data_flags(t)]


def test_a_clean_rollout_raises_no_flag() -> None:
    assert codes(rollout()) == []


def test_logprobs_padded_with_zero_are_flagged_where_the_mask_says_generated() -> None:
    lp = SAMPLER.copy()
    lp[10 : 10 + ZERO_RUN] = 0.0
    t = Trace(tokens=["x"] * N, logprobs=lp, channels={"mask": MASK})
    (flag,) = data_flags(t)
    assert flag.code == "zero_logprob_run" and flag.count == ZERO_RUN and flag.positions == (11,)
    # the same run hidden by the mask is not generated text: no flag
    hidden = MASK.copy()
    hidden[10 : 10 + ZERO_RUN] = 0
    assert codes(Trace(tokens=["x"] * N, logprobs=lp, channels={"mask": hidden})) == []
    # a shorter run is a confident model, not padding
    lp2 = SAMPLER.copy()
    lp2[10 : 10 + ZERO_RUN - 1] = 0.0
    assert codes(Trace(tokens=["x"] * N, logprobs=lp2)) == []
    # in the trainer's channel too
    tr = TRAINER.copy()
    tr[-ZERO_RUN:] = 0.0
    assert "zero_logprob_run" in codes(rollout(train_logprob=tr))


def test_sentinels_mask_hiding_everything_and_negative_entropy_are_flagged() -> None:
    tr = TRAINER.copy()
    tr[7] = -9999.0
    t = rollout(train_logprob=tr)
    assert codes(t) == ["sentinel"]
    assert math.isnan(t.channel("train_logprob")[7])  # shown as unknown, not as a number
    assert math.isnan(t.channel("delta_logprob")[7])
    assert codes(rollout(mask=np.zeros(N))) == ["mask_hides_all"]
    assert codes(rollout(entropy=-ENTROPY)) == ["entropy_negative"]
    assert codes(rollout(advantage=np.full(N, -1.2676506e30))) == ["sentinel"]


def test_processed_vllm_logprobs_in_the_corpus_are_flagged() -> None:
    corpus = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "real"
    path = corpus / "vllm_chat" / "qwq-32b-fp8-validation-100tok-top3.json"
    if not path.exists():
        pytest.skip("../shared/corpus is not beside this checkout")
    (t,) = tracesite.load(path)
    assert "processed_logprobs" in codes(t)
    # the bf16 run of the same prompt lists real alternatives: no such flag there
    (bf16,) = tracesite.load(corpus / "vllm_chat" / "qwq-32b-reasoning-100tok-top3.json")
    assert "processed_logprobs" not in codes(bf16)


def test_summary_carries_channels_flags_and_says_what_the_entropy_is() -> None:
    s = summarise(rollout(), 1, HeatmapOptions())
    assert s.provenance["entropy"] == "exact"
    assert set(s.channels) >= {"entropy", "delta_logprob"}
    assert s.group == "g1" and s.scalars["step"] == 3
    top = Trace(
        tokens=["a"],
        logprobs=[-0.1],
        alt_offsets=[0, 1],
        alt_tokens=("b",),
        alt_logprobs=[-2.0],
    )
    assert summarise(top, 1, HeatmapOptions()).provenance["entropy"] == "lower bound (top-k)"


def test_inspect_json_lists_channels_stats_and_flags(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tr = TRAINER.copy()
    tr[0] = -9999.0
    path = tmp_path / "r.jsonl"
    tracesite.save([rollout(), rollout(train_logprob=tr)], path)
    assert run_inspect([str(path)], as_json=True) == 0
    out = json.loads(capsys.readouterr().out)
    assert out[0]["channels"][:2] == ["logprob", "train_logprob"]
    assert out[0]["channel_stats"]["advantage"] == {
        "mean": -0.75,
        "min": -0.75,
        "max": -0.75,
        "n": N,
    }
    assert out[0]["flags"] == [] and out[1]["flags"][0]["code"] == "sentinel"
    assert out[0]["group"] == "g1" and out[0]["scalars"] == {"step": 3, "reward": 1.0}
    assert run_inspect([str(path)], as_json=False) == 0
    table = capsys.readouterr().out
    header, row = table.splitlines()[0].split(), table.splitlines()[3].split()
    assert header[-2:] == ["FLAGS", "FINISH"] and row[-2] == "1"  # the second trace's one flag


def test_inspect_reads_a_rollout_table_as_its_project_says(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    (tmp_path / "content").mkdir()
    (tmp_path / "tracesite.toml").write_text('[rollouts.columns]\nlogprob = "lp_col"\n')
    table = pa.table({"tokens": [["a", "b"]], "lp_col": [[-0.1, -0.2]]})
    pq.write_table(table, tmp_path / "content" / "x.parquet")
    assert run_inspect([str(tmp_path / "content" / "x.parquet")], as_json=True) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["mean_prob"] == pytest.approx((math.exp(-0.1) + math.exp(-0.2)) / 2)
