"""Benchmark one DAPO-sized RL step: reading it with pyarrow alone against tracesite's cold build.

One Parquet file of ``--rows`` rollouts × ``--tokens`` tokens (default 8,192 × 2,000: one DAPO
step of 512 prompts × 16 samples), three channels (sampler logprob, trainer logprob, entropy), no
alternatives, token text as a list of strings (``synth_rollouts.step_table``). In the same run:

- **pyarrow alone**: ``pq.read_table`` and every list column flattened to numpy (the least any
  tool that looks at the numbers does), in a fresh process;
- **tracesite**: ``tracesite build`` of a project holding only that file, cold (no cache, no
  site), in a fresh process; wall time, CPU, peak RSS of the main process and of the tree;
- the site: its size, and the bytes per token of a rollout's page (page + its share of nothing
  else: each trace page is self-contained apart from the shared BokehJS).

    python bench/bench_rollouts.py [--rows 8192] [--tokens 2000] [--workdir DIR] [--jobs 2]

Prints a Markdown table (docs/benchmarks.md keeps the last one).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from bench_build import folder_bytes, machine, measure  # noqa: E402  (siblings)

_PYARROW_ALONE = """
import sys, time, numpy as np, pyarrow.parquet as pq
t0 = time.perf_counter()
table = pq.read_table(sys.argv[1])
total = 0
for name in table.column_names:
    col = table[name].combine_chunks()
    if hasattr(col, "flatten"):
        values = col.flatten()
        arr = values.to_numpy(zero_copy_only=False)
        total += len(arr)
print(f"read {table.num_rows} rows, {total} list values in {time.perf_counter() - t0:.2f} s")
"""


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rows", type=int, default=8192)
    ap.add_argument("--tokens", type=int, default=2000)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--workdir", type=Path, default=None, help="kept between runs (the input)")
    args = ap.parse_args(argv)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="tracesite-bench-rollouts-"))
    work.mkdir(parents=True, exist_ok=True)
    project = work / "project"
    data = project / "content" / "step.parquet"
    stamp = work / f"input-{args.rows}x{args.tokens}"
    if not stamp.exists() or not data.exists():
        shutil.rmtree(project, ignore_errors=True)
        print(f"generating {args.rows} x {args.tokens} ...", file=sys.stderr)
        subprocess.run(
            [
                sys.executable,
                str(BENCH / "synth_rollouts.py"),
                "step",
                str(data),
                "--rows",
                str(args.rows),
                "--tokens",
                str(args.tokens),
            ],
            check=True,
        )
        stamp.write_text("ok")
    logs = work / "logs"
    logs.mkdir(exist_ok=True)
    print("pyarrow alone ...", file=sys.stderr)
    alone = measure([sys.executable, "-c", _PYARROW_ALONE, str(data)], logs / "pyarrow.log")
    for leftover in (project / "site", project / ".tracesite-cache"):
        shutil.rmtree(leftover, ignore_errors=True)
    print("tracesite build (cold) ...", file=sys.stderr)
    exe = Path(sys.executable).with_name("tracesite")
    cold = _build(exe, project, args.jobs, logs / "build.log")
    if cold.returncode != 0:
        print(cold.log[-3000:], file=sys.stderr)
        raise SystemExit(f"tracesite build failed (exit {cold.returncode})")
    site = project / "site"
    pages = sorted((site / "traces").rglob("index.html"))
    page_bytes = sum(p.stat().st_size for p in pages)
    n_tokens = args.rows * args.tokens
    size = folder_bytes(site)
    print(f"\nMachine: {machine()}\n")
    print(f"One RL step: {args.rows:,} rollouts × {args.tokens:,} tokens, three channels, no")
    print(f"alternatives, one Parquet file of {data.stat().st_size / 1e6:,.1f} MB.\n")
    print("| | wall | CPU | peak RSS (main) | peak RSS (tree) |")
    print("|---|---:|---:|---:|---:|")
    print(
        f"| pyarrow alone (read + flatten) | {alone.seconds:.1f} s | {alone.cpu_seconds:.1f} s |"
        f" {alone.main_peak_mb:.0f} MB | {alone.tree_peak_mb:.0f} MB |"
    )
    print(
        f"| tracesite cold build (--jobs {args.jobs}) | {cold.seconds:.1f} s |"
        f" {cold.cpu_seconds:.1f} s | {cold.main_peak_mb:.0f} MB | {cold.tree_peak_mb:.0f} MB |"
    )
    print(
        f"| ratio | {cold.seconds / alone.seconds:.0f}× | {cold.cpu_seconds / alone.cpu_seconds:.0f}× | | |"
    )
    print()
    print(f"- rollout pages: {len(pages):,}, {page_bytes / max(len(pages), 1) / 1e3:,.0f} kB each,")
    print(f"  **{page_bytes / n_tokens:.1f} bytes per token**; whole site {size / 1e9:.2f} GB")
    print(f"  ({size / n_tokens:.1f} B/token)")
    print(
        f"- tracesite rollouts/s: {args.rows / cold.seconds:,.0f}; tokens/s: {n_tokens / cold.seconds:,.0f}"
    )


def _build(exe: Path, project: Path, jobs: int, log: Path):  # type: ignore[no-untyped-def]
    cwd = os.getcwd()
    os.chdir(project)
    try:
        return measure([str(exe), "build", "--jobs", str(jobs)], log)
    finally:
        os.chdir(cwd)


if __name__ == "__main__":
    main()
