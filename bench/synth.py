"""Synthetic trace galleries with realistic token-probability distributions, for the benchmarks.

The numbers follow what real chat models return when asked for ``logprobs`` (compare
``../shared/corpus/real/``): about two thirds of positions are near-certain (p > 0.97, many
exactly 0.0 logprob), a broad middle, and a heavy tail of low p where the sampled token is
often not the top-1 and now and then not in the top-k at all. Alternatives are plausible
token strings: words with a leading space, punctuation, digits, ``\\n\\n``, tabs, accented and
CJK text, and emoji split across two byte-level tokens (whose ``bytes`` are incomplete UTF-8,
as OpenAI returns them).

Files are written as compact OpenAI Chat Completions responses (what users save) or as
tracesite's native format. Generation is deterministic per seed.
"""

from __future__ import annotations

import json
import math
import random
import struct
from pathlib import Path

_WORDS = str.split(
    "the of and to a in is that it for as was with be by on not he this are or his from at which "
    "but have an they you were her she there one all we their has been if more when will would "
    "who so no model token probability answer first then step because therefore result value "
    "number equals multiply add divide solve check compute reason think consider problem each "
    "two three four five hundred thousand first second next finally let us we can see note that "
    "however since thus hence given suppose assume case both either neither same different"
)
_PUNCT = [".", ",", ":", ";", "?", "!", "'s", "'ll", "(", ")", "-", " =", " +", " *", " /", '"']
_DIGITS = [str(d) for d in range(10)] + [" 1", " 2", " 10", " 42", " 100", " 2024"]
_SPACING = ["\n", "\n\n", ".\n\n", " ", "\t", "  ", ":\n", "\n-", " \u00a0"]
_UNICODE = [
    " café",
    " naïve",
    " über",
    " 日本",
    "語",
    " 的",
    "。",
    " —",
    " “",
    "”",
    " →",
    " ≈",
    " π",
]
# emoji split into two byte-level tokens, as OpenAI's tokenizer does: the label is the
# provider's escaped form, the bytes are the truth (and incomplete UTF-8 on their own).
_EMOJI = ["🙂", "🚀", "✅", "🤔"]


def _vocabulary() -> list[tuple[str, bytes]]:
    """Tokens in rough frequency order (picked Zipf-like): words with punctuation and spacing
    mixed in near the top, capitalised words and the rest further down."""
    head = [" " + w for w in _WORDS]
    marks = _PUNCT[:4] + _SPACING[:3] + _DIGITS[:6] + _PUNCT[4:] + _SPACING[3:] + _DIGITS[6:]
    order: list[str] = []
    for i, w in enumerate(head):
        order.append(w)
        if i % 3 == 2 and marks:
            order.append(marks.pop(0))
    order += marks + _UNICODE + [w.capitalize() for w in _WORDS]
    return [(t, t.encode()) for t in order]


VOCAB = _vocabulary()
#: Bump when the generated data changes (bench_build.py reuses a --workdir's gallery otherwise).
VERSION = 1
N_COMMON = len(VOCAB)


def _split_emoji(e: str) -> list[tuple[str, bytes]]:
    raw = e.encode()
    cut = 2
    parts = [raw[:cut], raw[cut:]]
    return [("bytes:" + "".join(f"\\x{b:02x}" for b in p), p) for p in parts]


def _chosen_p(rng: random.Random) -> float:
    """p of the sampled token: mostly near 1, a broad middle, a heavy low tail."""
    u = rng.random()
    if u < 0.62:
        return 1.0 if rng.random() < 0.3 else 1.0 - rng.expovariate(1 / 0.008) % 0.03
    if u < 0.87:
        return rng.betavariate(4.0, 1.5)
    return max(1e-5, rng.betavariate(0.7, 2.5))


def _alt_probs(rng: random.Random, rest: float, k: int) -> list[float]:
    """k alternatives sharing part of the remaining mass, decreasing (Dirichlet-like)."""
    gammas = [rng.gammavariate(0.6, 1.0) for _ in range(k + 2)]
    total = sum(gammas) or 1.0
    return sorted((max(rest * g / total, 1e-30) for g in gammas[:k]), reverse=True)


def _logprob(p: float) -> float:
    if p >= 1.0:
        return 0.0
    # float32 values printed at float64 precision, like the OpenAI API (-0.20239226520061493)
    return float(struct.unpack("f", struct.pack("f", math.log(p)))[0])


def make_trace(seed: int, n_tokens: int, top_k: int) -> list[dict[str, object]]:
    """Positions as ``[{"c": (label, bytes, logprob), "top": [(label, bytes, logprob)...]}]``."""
    rng = random.Random(seed)
    positions: list[dict[str, object]] = []
    pending: list[tuple[str, bytes]] = []
    for _ in range(n_tokens):
        if pending:
            chosen = pending.pop(0)
        elif rng.random() < 0.01:
            first, second = _split_emoji(rng.choice(_EMOJI))
            chosen, pending = first, [second]
        else:
            chosen = VOCAB[min(int(rng.expovariate(1 / 40)), N_COMMON - 1)]
        p = _chosen_p(rng)
        # near-certain positions still list alternatives, at logprobs of -10 to -25 (as OpenAI)
        others = _alt_probs(rng, max(1.0 - p, math.exp(-rng.uniform(10, 25))), top_k)
        cands = [(p, chosen)]
        seen = {chosen[0]}
        for q in others:
            tok = VOCAB[rng.randrange(N_COMMON)]
            while tok[0] in seen:
                tok = VOCAB[rng.randrange(N_COMMON)]
            seen.add(tok[0])
            cands.append((q, tok))
        cands.sort(key=lambda c: -c[0])
        top = [(t[0], t[1], _logprob(q)) for q, t in cands[:top_k]]
        positions.append({"c": (chosen[0], chosen[1], _logprob(p)), "top": top})
    return positions


def _text(positions: list[dict[str, object]]) -> str:
    raw = b"".join(pos["c"][1] for pos in positions)  # type: ignore[index]
    return raw.decode("utf-8", "replace")


def openai_json(seed: int, n_tokens: int, top_k: int) -> str:
    """A compact OpenAI Chat Completions response with ``logprobs.content``."""
    positions = make_trace(seed, n_tokens, top_k)

    def entry(label: str, raw: bytes, lp: float) -> dict[str, object]:
        return {"token": label, "logprob": lp, "bytes": list(raw)}

    content = []
    for pos in positions:
        c = entry(*pos["c"])  # type: ignore[misc]
        c["top_logprobs"] = [entry(*t) for t in pos["top"]]  # type: ignore[attr-defined]
        content.append(c)
    response = {
        "id": f"chatcmpl-bench{seed:08d}",
        "object": "chat.completion",
        "created": 1754332382 + seed,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": _text(positions), "refusal": None},
                "logprobs": {"content": content, "refusal": None},
                "finish_reason": "length",
            }
        ],
        "usage": {"prompt_tokens": 42, "completion_tokens": n_tokens},
        "system_fingerprint": "fp_bench",
    }
    return json.dumps(response, ensure_ascii=False, separators=(",", ":"))


def native_json(seed: int, n_tokens: int, top_k: int) -> str:
    """The same trace in tracesite's native format (bytes only where the label is not the text)."""
    positions = make_trace(seed, n_tokens, top_k)

    def entry(label: str, raw: bytes, lp: float) -> dict[str, object]:
        d: dict[str, object] = {"text": label, "logprob": lp}
        if raw != label.encode():
            d["bytes"] = list(raw)
        return d

    tokens = []
    for pos in positions:
        c = entry(*pos["c"])  # type: ignore[misc]
        c["top"] = [entry(*t) for t in pos["top"]]  # type: ignore[attr-defined]
        tokens.append(c)
    doc = {"tracesite": 1, "model": "gpt-4o-mini-2024-07-18", "tokens": tokens}
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


WRITERS = {"openai": openai_json, "native": native_json}


def trace_name(i: int) -> str:
    return f"trace-{i:05d}.json"


def write_one(args: tuple[Path, int, int, int, str, int]) -> int:
    folder, i, n_tokens, top_k, fmt, seed_base = args
    text = WRITERS[fmt](seed_base + i, n_tokens, top_k)
    (folder / trace_name(i)).write_text(text, encoding="utf-8")
    return len(text)


def write_gallery(
    folder: Path, n_traces: int, n_tokens: int, top_k: int, fmt: str = "openai", jobs: int = 2
) -> int:
    """Write ``n_traces`` files into ``folder``; returns the total bytes written."""
    from multiprocessing import get_context

    folder.mkdir(parents=True, exist_ok=True)
    tasks = [(folder, i, n_tokens, top_k, fmt, 0) for i in range(n_traces)]
    if jobs <= 1 or n_traces < 8:
        return sum(map(write_one, tasks))
    with get_context("spawn").Pool(jobs) as pool:
        return sum(pool.imap_unordered(write_one, tasks, chunksize=8))


def change_one(folder: Path, i: int, n_tokens: int, top_k: int, fmt: str) -> None:
    """Replace trace ``i`` with a different one of the same size (a user re-ran a prompt)."""
    target = folder / trace_name(i)
    text = WRITERS[fmt](10_000_000 + i, n_tokens, top_k)
    if target.read_text(encoding="utf-8") == text:
        raise RuntimeError(f"{target} already holds the changed trace")
    target.write_text(text, encoding="utf-8")
