"""SGLang native ``/generate`` responses with ``return_logprob``.

The fixtures follow the shape SGLang's TokenizerManager builds (``meta_info`` with
``output_token_logprobs`` as ``[logprob, token_id, token_text]`` triples, ``output_top_logprobs``
as lists of triples or null, ``finish_reason`` as ``{"type": ..., "matched"/"length": ...}``);
they are written here, not copied from SGLang.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from tracesite.core.errors import TraceReadError
from tracesite.core.options import ReadOptions
from tracesite.formats import read_bytes


def response(texts: bool = True, rid: str = "a1b2") -> dict[str, object]:
    tokens = [(-0.01, 9707, "Hello"), (-0.7, 1879, " world"), (-0.2, 0, "!")]
    tops = [
        [[-0.01, 9707, "Hello"], [-4.9, 13048, "Hi"]],
        None,  # no top logprobs at this position
        [[-2.1, 13, "."], [-0.2, 0, "!"]],  # not sorted: the reader sorts
    ]
    if not texts:
        tokens = [(lp, i, None) for lp, i, _ in tokens]
        tops = [None if t is None else [[lp, i, None] for lp, i, _ in t] for t in tops]
    return {
        "text": "Hello world!",
        "output_ids": [9707, 1879, 0],
        "meta_info": {
            "id": rid,
            "finish_reason": {"type": "stop", "matched": 151645},
            "prompt_tokens": 7,
            "weight_version": "default",
            "completion_tokens": 3,
            "cached_tokens": 0,
            "output_token_logprobs": [list(t) for t in tokens],
            "output_top_logprobs": tops,
            "e2e_latency": 0.05,
        },
    }


def read(obj: object, options: ReadOptions | None = None) -> list:
    return read_bytes(json.dumps(obj).encode(), "gen.json", options)


def test_generate_response() -> None:
    (t,) = read(response())
    assert t.meta.format == "sglang"
    assert t.tokens == ("Hello", " world", "!")
    assert t.text == "Hello world!"
    assert list(t.token_ids) == [9707, 1879, 0]
    assert t.logprobs.tolist() == [-0.01, -0.7, -0.2]
    assert [a.text for a in t.alternatives(0)] == ["Hello", "Hi"]
    assert t.alternatives(1) == []
    assert [a.text for a in t.alternatives(2)] == ["!", "."]
    assert t.meta.finish_reason == "stop"
    assert t.meta.extra["id"] == "a1b2" and t.meta.extra["finish_matched"] == 151645
    assert t.meta.extra["completion_tokens"] == 3
    assert t.meta.provenance["engine"] == "sglang"
    assert t.meta.provider_text == "Hello world!"


def test_a_batch_is_a_list_of_responses() -> None:
    got = read([response(rid="a"), response(rid="b")])
    assert [t.meta.extra["id"] for t in got] == ["a", "b"]
    assert [t.meta.index for t in got] == [0, 1]


def test_leading_spaces_lost_by_decoding_each_token_are_put_back() -> None:
    """SentencePiece tokenizers decode "▁world" alone as "world"; the text has the space."""
    obj = response()
    entries = obj["meta_info"]["output_token_logprobs"]  # type: ignore[index]
    entries[1][2] = "world"
    (t,) = read(obj)
    assert t.tokens == ("Hello", " world", "!") and t.text == "Hello world!"


def test_clamped_minus_infinity_is_unknown() -> None:
    obj = response()
    obj["meta_info"]["output_token_logprobs"][2][0] = -999999999.0  # type: ignore[index]
    (t,) = read(obj)
    assert math.isnan(t.logprobs[2])


def _tokenizer(tmp_path: Path) -> tuple[Tokenizer, ReadOptions]:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=280,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(["Hello world! naïve café 日本", "Hello there, world."], trainer)
    path = tmp_path / "tokenizer.json"
    tok.save(str(path))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return tok, ReadOptions(
        tokenizer="tokenizer.json", tokenizer_path=str(path), tokenizer_digest=digest
    )


def test_ids_without_texts(tmp_path: Path) -> None:
    (t,) = read(response(texts=False))
    assert t.tokens == ("⟨id 9707⟩", "⟨id 1879⟩", "⟨id 0⟩")
    assert t.meta.provenance["tokenizer"].startswith("none")
    tok, options = _tokenizer(tmp_path)
    text = "naïve café 日本"
    ids = tok.encode(text).ids
    obj = response(texts=False)
    obj["text"] = text
    obj["meta_info"]["output_token_logprobs"] = [[-0.5, i, None] for i in ids]  # type: ignore[index]
    obj["meta_info"]["output_top_logprobs"] = [None] * len(ids)  # type: ignore[index]
    (t,) = read(obj, options)
    assert t.text == text
    assert t.meta.provenance["tokenizer"] == "tokenizer.json"


def _chunks(cumulative: bool) -> list[dict[str, object]]:
    whole = response()
    meta = whole["meta_info"]
    out = []
    for k in range(1, 4):
        lo = 0 if cumulative else k - 1
        m = {
            **meta,  # type: ignore[dict-item]
            "output_token_logprobs": meta["output_token_logprobs"][lo:k],  # type: ignore[index]
            "output_top_logprobs": meta["output_top_logprobs"][lo:k],  # type: ignore[index]
            "finish_reason": meta["finish_reason"] if k == 3 else None,  # type: ignore[index]
        }
        text = (
            "Hello world!"[: [5, 11, 12][k - 1]] if cumulative else ["Hello", " world", "!"][k - 1]
        )
        out.append({"text": text, "meta_info": m})
    return out


@pytest.mark.parametrize("cumulative", [True, False])
@pytest.mark.parametrize("sse", [True, False])
def test_streams(cumulative: bool, sse: bool) -> None:
    lines = [json.dumps(c) for c in _chunks(cumulative)]
    body = (
        "".join(f"data: {x}\n\n" for x in lines) + "data: [DONE]\n\n" if sse else "\n".join(lines)
    )
    (t,) = read_bytes(body.encode(), "stream.txt")
    (whole,) = read(response())
    assert t.meta.format == "sglang_stream"
    assert t == whole


def test_bad_entry_is_addressed() -> None:
    obj = response()
    obj["meta_info"]["output_token_logprobs"][1] = [-0.1, "x", None]  # type: ignore[index]
    with pytest.raises(TraceReadError) as exc:
        read(obj)
    assert str(exc.value).startswith(
        "gen.json: $.meta_info.output_token_logprobs[1][1]: expected a token id"
    )
