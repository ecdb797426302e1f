"""Generated RL rollout tables: the demo gallery's GRPO group and the DAPO-sized benchmark step.

Neither is real model output; both have the shape of a verl/TRL rollout dump as tracesite reads
it (one row per rollout, list columns as long as the response, SPEC §15's default column names):
``id, step, uid, prompt, response_tokens, rollout_logprobs, train_logprobs, ref_logprobs,
entropy, advantages, response_mask, reward``.

    python bench/synth_rollouts.py demo content/rollouts/grpo-step-120.parquet
    python bench/synth_rollouts.py step /tmp/step.parquet --rows 8192 --tokens 2000
"""

from __future__ import annotations

import argparse
import math
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

_PIECE = re.compile(r"\s?\w+|\s?[^\w\s]|\s+")

PROMPT = (
    "A train leaves at 3:40 pm and arrives at 6:15 pm the same day. How long is the trip? "
    "Answer in hours and minutes."
)

# Four sampled answers to one prompt (a GRPO group): what matters is their shape. Rollout 2
# forks at "Wait" (an entropy spike), rollout 3 is wrong, rollout 4 calls a tool whose output is
# masked out of the loss. Markers: [[W]] the fork, [[M]] a sampler/trainer mismatch,
# <tool>...</tool> tokens masked.
ANSWERS = [
    (
        "From 3:40 pm to 6:40 pm is 3 hours. 6:15 pm is 25 minutes before 6:40 pm, so the trip "
        "is 3 hours minus 25 minutes = 2 hours 35 minutes.\n\nAnswer: 2 h 35 min",
        1.0,
    ),
    (
        "From 3:40 to 6:15 the hours go from 3 to 6, so 3 hours, and the minutes from 40 to 15."
        "[[W]] Wait, 15 is less than 40, so I must borrow an hour: 6:15 is 5:75. 5:75 minus 3:40"
        " is 2 hours and 35 minutes.\n\nAnswer: 2 h 35 min",
        1.0,
    ),
    (
        "6:15 minus 3:40: 6 minus 3 is 3 hours, 40 minus 15 is 25 minutes, so the trip takes"
        "[[M]] 3 hours 25 minutes.\n\nAnswer: 3 h 25 min",
        0.0,
    ),
    (
        "Let me compute the difference. <tool>python: (6*60+15)-(3*60+40)\n155</tool> 155"
        " minutes is 2 hours and 35 minutes.\n\nAnswer: 2 h 35 min",
        1.0,
    ),
]


def pieces(text: str) -> list[str]:
    return _PIECE.findall(text)


def _rollout(text: str, rng: np.random.Generator) -> dict[str, list[object]]:
    tokens: list[str] = []
    lp: list[float] = []
    ent: list[float] = []
    mask: list[int] = []
    mismatch: list[int] = []
    in_tool = False
    marked = ""
    for chunk in re.split(r"(\[\[W\]\]|\[\[M\]\]|<tool>|</tool>)", text):
        if chunk in ("[[W]]", "[[M]]"):
            marked = chunk  # the next token is the fork, or the mismatch
            continue
        if chunk in ("<tool>", "</tool>"):
            tokens.append(chunk)
            lp.append(math.log(0.97))
            ent.append(0.15)
            mask.append(1)
            in_tool = chunk == "<tool>"
            continue
        for piece in pieces(chunk):
            word = piece.strip()
            confident = not word.isdigit() and len(word) > 1
            p = rng.uniform(0.9, 0.999) if confident else rng.uniform(0.45, 0.97)
            h = float(-p * math.log(p) + (1 - p) * (1.5 + rng.uniform(0, 1.5)))
            if marked == "[[W]]":  # the fork: many continuations were likely here
                p, h = 0.31, 2.14
            elif marked == "[[M]]":
                mismatch.append(len(tokens))
            marked = ""
            tokens.append(piece)
            lp.append(math.log(p))
            ent.append(h)
            mask.append(0 if in_tool else 1)  # tool output is not the policy's: out of the loss
    sampler = np.array(lp)
    trainer = sampler + rng.normal(0, 0.01, len(sampler))  # bf16 recompute: tiny differences
    for i in mismatch:  # the sampler saw this token as likely, the trainer does not
        sampler[i] = math.log(0.58)
        trainer[i] = math.log(0.04)
    trainer = np.minimum(trainer, -1e-5)
    ref = sampler - np.abs(rng.normal(0.05, 0.05, len(sampler)))
    return {
        "response_tokens": tokens,
        "rollout_logprobs": sampler.astype(np.float32).tolist(),
        "train_logprobs": trainer.astype(np.float32).tolist(),
        "ref_logprobs": ref.astype(np.float32).tolist(),
        "entropy": np.array(ent, dtype=np.float32).tolist(),
        "response_mask": mask,
    }


def demo_table() -> pa.Table:
    """One GRPO group of four rollouts at step 120 (seeded: the same file every time)."""
    rng = np.random.default_rng(120)
    rows = [_rollout(text, rng) for text, _ in ANSWERS]
    rewards = np.array([r for _, r in ANSWERS])
    adv = (rewards - rewards.mean()) / (rewards.std() + 1e-6)  # GRPO's group-normalised advantage
    return pa.table(
        {
            "id": [f"rollout-{i + 1}" for i in range(len(rows))],
            "step": [120] * len(rows),
            "uid": ["train-trip-duration"] * len(rows),
            "prompt": [PROMPT] * len(rows),
            "response_tokens": [r["response_tokens"] for r in rows],
            "rollout_logprobs": pa.array(
                [r["rollout_logprobs"] for r in rows], pa.list_(pa.float32())
            ),
            "train_logprobs": pa.array([r["train_logprobs"] for r in rows], pa.list_(pa.float32())),
            "ref_logprobs": pa.array([r["ref_logprobs"] for r in rows], pa.list_(pa.float32())),
            "entropy": pa.array([r["entropy"] for r in rows], pa.list_(pa.float32())),
            "advantages": pa.array(
                [[float(a)] * len(r["response_tokens"]) for a, r in zip(adv, rows, strict=True)],
                pa.list_(pa.float32()),
            ),
            "response_mask": pa.array([r["response_mask"] for r in rows], pa.list_(pa.int8())),
            "reward": rewards.tolist(),
        }
    )


def step_table(n_rows: int, n_tokens: int, seed: int = 0, group: int = 16) -> pa.Table:
    """One RL step: ``n_rows`` rollouts of ``n_tokens`` tokens, three channels (sampler and
    trainer logprob, entropy), no alternatives, built column-wise (no per-token objects)."""
    rng = np.random.default_rng(seed)
    vocab = np.array(
        [f" w{i}" for i in range(4096)] + [",", ".", "\n", " the", " is"], dtype=object
    )
    n = n_rows * n_tokens
    tok = pa.array(vocab[rng.integers(0, len(vocab), n)].tolist(), pa.string())
    offsets = pa.array(np.arange(0, n + 1, n_tokens, dtype=np.int32))
    sampler = np.log(rng.uniform(0.05, 1.0, n)).astype(np.float32)
    trainer = (sampler + rng.normal(0, 0.02, n).astype(np.float32)).clip(max=-1e-6)
    entropy = rng.uniform(0, 3, n).astype(np.float32)

    def lists(values: object) -> pa.Array:
        return pa.ListArray.from_arrays(offsets, pa.array(values))

    return pa.table(
        {
            "id": [f"r{i:05d}" for i in range(n_rows)],
            "step": [1] * n_rows,
            "uid": [f"p{i // group:04d}" for i in range(n_rows)],
            "response_tokens": pa.ListArray.from_arrays(offsets, tok),
            "rollout_logprobs": lists(sampler),
            "train_logprobs": lists(trainer),
            "entropy": lists(entropy),
            "reward": rng.integers(0, 2, n_rows).astype(np.float64),
        }
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("what", choices=["demo", "step"])
    ap.add_argument("out", type=Path)
    ap.add_argument("--rows", type=int, default=8192)
    ap.add_argument("--tokens", type=int, default=2000)
    args = ap.parse_args()
    table = demo_table() if args.what == "demo" else step_table(args.rows, args.tokens)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, args.out, compression="zstd")
    print(f"{args.out}: {table.num_rows} rollouts, {args.out.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
