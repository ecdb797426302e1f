"""The Dask executor (issue 13.5): the same cold build with 1 and 2 Dask workers (a LocalCluster),
against the local process pool with 1 and 2 workers.

    python bench/bench_dask.py                   # 4,000 rollouts x 1,000 tokens (4 Parquet files)
    python bench/bench_dask.py --traces 2000

Each build runs in a fresh child process on a fresh project (no render cache, no site), so every
row is a cold build of the same inputs. The sites are compared file by file: the executor must not
change a byte. On this 2-core machine 2 workers can at best halve the per-trace part; the main
process's work (ids, shards, postings, index) is not parallel.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_scale import make_data, project

from tracesite.build.writer import MARKER

_CHILD = r"""
import json, sys, time
from pathlib import Path
from tracesite.build import BuildOptions, build_project
t = time.perf_counter()
r = build_project(Path(sys.argv[1]), BuildOptions(quiet=True, jobs=int(sys.argv[2]), executor=sys.argv[3]))
print(json.dumps({"seconds": time.perf_counter() - t, "ok": r.ok, "n": r.n_traces,
                  "errors": [str(e) for e in r.errors[:3]]}))
"""


# Bokeh's model ids, document uuids and the heatmap's random element ids differ on every render,
# two process-pool builds included; they are normalised in pages, as tests/test_executor_dask.py
# does, and every other byte of every file (the build marker aside) is hashed.
_RENDER_IDS = re.compile(rb"(p\d{3,}|[0-9a-f]{8,}(?:-[0-9a-f]{4,})*)")


def digest(site: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(site.rglob("*")):
        if p.is_file() and p.name != MARKER:
            data = p.read_bytes()
            data = _RENDER_IDS.sub(b"ID", data) if p.suffix == ".html" else data
            h.update(str(p.relative_to(site)).encode() + b"\0" + data)
    return h.hexdigest()[:16]


def build(root: Path, jobs: int, executor: str) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(root), str(jobs), executor],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        sys.exit(proc.stderr[-3000:])
    got: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    if not got["ok"]:
        sys.exit(f"build failed: {got['errors']}")
    got["digest"] = digest(root / "site")
    got["seconds"] = float(str(got["seconds"]))
    return got


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--traces", type=int, default=4000)
    ap.add_argument("--data", type=Path, default=Path("/tmp/tracesite-bench-scale"))
    args = ap.parse_args()
    files = make_data(args.data / "steps", args.traces)
    runs = [("process", 1), ("process", 2), ("dask", 1), ("dask", 2)]
    got = {}
    for executor, jobs in runs:
        root = project(args.data / f"dask-{args.traces}-{executor}-{jobs}", files)
        got[executor, jobs] = build(root, jobs, executor)
        print(f"  {executor} x{jobs}: {got[executor, jobs]['seconds']:.1f} s", file=sys.stderr)
    base = got["process", 2]["seconds"]
    print(f"{got['process', 1]['n']:,} rollouts x 1,000 tokens, cold builds\n")
    print(
        "| executor | workers | cold build (s) | vs 1 worker | vs process pool, 2 workers | site sha256 |"
    )
    print("|---|---|---|---|---|---|")
    for executor, jobs in runs:
        r = got[executor, jobs]
        s = float(str(r["seconds"]))
        one = float(str(got[executor, 1]["seconds"]))
        print(
            f"| {executor} | {jobs} | {s:.1f} | {one / s:.2f}x speed-up"
            f" | {s / float(str(base)):.2f}x | `{r['digest']}` |"
        )
    same = len({r["digest"] for r in got.values()}) == 1
    print(f"\nsites identical across executors (render ids aside): {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
