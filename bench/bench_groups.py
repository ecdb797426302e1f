"""Benchmark a group's numbers (SPEC §16, issue 14): 1,000 same-prompt traces of 2,000 tokens
that share ~100 tokens and fork at 80 places. Times, in one run: building the traces' token
matrix, ``group_stats`` (n_unique, first_divergence), the prefix tree and its forks; and, as the
baseline, numpy's ``np.unique(axis=0)`` on the same matrix. Checks the numbers are exact.

    python bench/bench_groups.py [--traces 1000] [--tokens 2000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from tracesite import Trace, TraceMeta
from tracesite.model.groups import first_divergence, forks, group_stats, prefix_tree, token_codes


def traces(n: int, length: int) -> list[Trace]:
    rng = np.random.default_rng(0)
    base = [f"t{i}" for i in rng.integers(0, 50, length)]
    out = []
    for k in range(n):
        s = list(base)
        s[100 + (k % 80)] = "FORK"  # 80 distinct completions, all equal for the first 100 tokens
        out.append(Trace(tokens=s, logprobs=np.full(length, -0.1), meta=TraceMeta(group="g")))
    return out


def best(fn, repeat: int) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    times, got = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        got = fn()
        times.append(time.perf_counter() - t0)
    return min(times), got


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--traces", type=int, default=1000)
    ap.add_argument("--tokens", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    ts = traces(args.traces, args.tokens)
    t_codes, codes = best(lambda: token_codes(ts), args.repeat)
    t_stats, st = best(lambda: group_stats("g", ts), args.repeat)
    t_tree, tree = best(lambda: prefix_tree(codes), args.repeat)  # type: ignore[arg-type]
    t_forks, fk = best(lambda: forks(ts, tree[0]), args.repeat)  # type: ignore[index]
    t_np, uniq = best(lambda: np.unique(codes, axis=0), args.repeat)  # type: ignore[call-overload]
    assert st.n_unique == 80 == len(uniq) and st.first_divergence == 101  # type: ignore[attr-defined]
    assert first_divergence(codes) == 101  # type: ignore[arg-type]
    print(
        f"{args.traces:,} traces x {args.tokens:,} tokens, 80 distinct completions (best of {args.repeat})\n"
    )
    print("| step | seconds |")
    print("|---|---:|")
    print(f"| token matrix (token_codes) | {t_codes:.3f} |")
    print(f"| group_stats: n_unique, first_divergence (includes the matrix) | {t_stats:.3f} |")
    print(f"| prefix tree | {t_tree:.3f} |")
    print(f"| forks ({len(fk)}) | {t_forks:.3f} |")  # type: ignore[arg-type]
    print(f"| baseline: np.unique(axis=0) on the matrix | {t_np:.3f} |")
    total = t_stats + t_tree + t_forks
    print(
        f"\ntotal {total:.2f} s (target ≤ 5 s); n_unique = {st.n_unique}, first_divergence = {st.first_divergence}"
    )  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
