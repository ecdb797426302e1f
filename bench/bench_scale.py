"""A gallery at scale (issue 13): N rollouts x 1,000 tokens, cold build, main-process peak RSS,
site bytes, bytes per token of the token shards and of the postings.

    python bench/bench_scale.py                  # 100,000 rollouts (100 Parquet files)
    python bench/bench_scale.py --traces 10000   # a smaller run

The rollouts (three channels, groups of 8, 1,000 rollouts per step file; bench/synth_rollouts)
are generated once into ``--data`` and reused. The build runs in a child process that reports
its own ``ru_maxrss`` (the main process only: the worker processes are not counted).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROWS_PER_FILE = 1000
TOKENS = 1000

_CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from tracesite.build import BuildOptions, build_project
t = time.perf_counter()
r = build_project(Path(sys.argv[1]), BuildOptions(quiet=True, jobs=int(sys.argv[2]) or None))
print(json.dumps({"seconds": time.perf_counter() - t, "ok": r.ok, "errors": [str(e) for e in r.errors[:3]],
                  "n": r.n_traces, "pages": r.n_pages,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def make_data(folder: Path, n_traces: int) -> list[Path]:
    """``n_traces // 1000`` step files (each made once, kept for the next run)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import pyarrow.parquet as pq
    from synth_rollouts import step_table

    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for step in range(max(1, n_traces // ROWS_PER_FILE)):
        path = folder / f"step-{step:04d}.parquet"
        if not path.is_file():
            rows = min(ROWS_PER_FILE, n_traces)
            table = step_table(rows, TOKENS, seed=step, group=8)
            pq.write_table(table, path.with_suffix(".tmp"), compression="zstd")
            path.with_suffix(".tmp").rename(path)
        files.append(path)
    return files


def project(root: Path, files: list[Path]) -> Path:
    """A fresh project whose content hard-links the step files (a symlink out of content/ is
    refused by discovery; a copy where a hard link cannot be made)."""
    shutil.rmtree(root, ignore_errors=True)
    (root / "content/rollouts").mkdir(parents=True)
    for f in files:
        target = root / "content/rollouts" / f.name
        try:
            os.link(f, target)
        except OSError:
            shutil.copyfile(f, target)
    return root


def bytes_of(site: Path, pattern: str) -> int:
    return sum(p.stat().st_size for p in site.glob(pattern) if p.is_file())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--traces", type=int, default=100_000)
    ap.add_argument("--data", type=Path, default=Path("/tmp/tracesite-bench-scale"))
    ap.add_argument("--jobs", type=int, default=0, help="worker processes (0: the cores)")
    ap.add_argument("--max-pages", type=int, default=None, help="[build] max_pages (default: its)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    files = make_data(args.data / "steps", args.traces)
    made = time.perf_counter() - t0
    root = project(args.data / f"project-{args.traces}", files)
    # a cold build: a fresh project, so no render cache and no site
    toml = "" if args.max_pages is None else f"[build]\nmax_pages = {args.max_pages}\n"
    (root / "tracesite.toml").write_text(toml)
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(root), str(args.jobs)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        sys.exit(proc.stderr[-3000:])
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    site = root / "site"
    tokens = got["n"] * TOKENS
    rows = [
        ("traces", f"{got['n']:,}"),
        ("tokens", f"{tokens:,}"),
        ("data generated (s, first run only)", f"{made:.1f}"),
        ("cold build (s)", f"{got['seconds']:.1f}"),
        ("main-process peak RSS (MB)", f"{got['rss_mb']:.0f}"),
        ("pages written", f"{got['pages']:,}"),
        ("site bytes", f"{bytes_of(site, '**/*'):,}"),
        ("site bytes per token", f"{bytes_of(site, '**/*') / tokens:.1f}"),
        ("token shards, bytes per token", f"{bytes_of(site, 'assets/tokens/*.js') / tokens:.1f}"),
        ("postings, bytes per token", f"{bytes_of(site, 'assets/index/s-*.js') / tokens:.1f}"),
        ("token index, bytes per token", f"{bytes_of(site, 'assets/index/k-*.js') / tokens:.2f}"),
        ("cards + columns (bytes)", f"{bytes_of(site, 'assets/index/c*.js'):,}"),
        ("index.html (bytes)", f"{(site / 'index.html').stat().st_size:,}"),
        ("build ok", str(got["ok"]) + ("" if got["ok"] else f" {got['errors']}")),
    ]
    width = max(len(k) for k, _ in rows)
    print(f"| {'measure':<{width}} | value |")
    print(f"|{'-' * (width + 2)}|-------|")
    for k, v in rows:
        print(f"| {k:<{width}} | {v} |")


if __name__ == "__main__":
    main()
