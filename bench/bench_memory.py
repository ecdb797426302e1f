"""Peak memory of a cold build against the number of traces (and against the largest trace).

SPEC §12: peak memory grows with the largest trace, not with the number of traces. This builds
galleries of the same traces at several counts (default 200 and 2,000 traces of 1,000 tokens,
top-5) and, with ``--largest N``, the smallest gallery plus one trace of N tokens, and prints a
Markdown table of peak RSS (largest process and whole process tree, as in ``bench_build.py``).

    python bench/bench_memory.py [--counts 200 2000] [--tokens 1000] [--top-k 5] [--jobs 2]
                                 [--largest 20000] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_build
import synth


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--counts", type=int, nargs="+", default=[200, 2000])
    ap.add_argument("--tokens", type=int, default=1000)
    ap.add_argument("--top-k", type=int, default=5)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--format", choices=sorted(synth.WRITERS), default="openai")
    ap.add_argument(
        "--largest", type=int, default=0, help="also: the smallest gallery plus one N-token trace"
    )
    ap.add_argument("--workdir", type=Path, help="work (and keep galleries) here")
    ap.add_argument("--code", metavar="REV", help="benchmark this commit (git archive export)")
    ap.add_argument("--markdown", type=Path, help="also append the table to this file")
    return ap.parse_args(argv)


def gallery(work: Path, args: argparse.Namespace, n: int) -> tuple[Path, int]:
    """A fresh project of ``n`` traces (generated files reused from an earlier run)."""
    ns = argparse.Namespace(
        traces=n, tokens=args.tokens, top_k=args.top_k, format=args.format, jobs=args.jobs
    )
    project = work / f"n{n}" / "project"
    size, _ = bench_build.prepare(project, ns)
    return project, size


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="tracesite-mem-"))
    rows: list[tuple[str, int, bench_build.Run]] = []
    try:
        code = bench_build.snapshot(args.code, work / "code") if args.code else None
        for n in args.counts:
            project, size = gallery(work, args, n)
            bench_build.say(f"cold build of {n} traces")
            run = bench_build.tracesite_build(project, args.jobs, work / f"n{n}.log", code)
            rows.append((f"{n:,} traces × {args.tokens:,} tokens", size, run))
        if args.largest:
            n = min(args.counts)
            project, size = gallery(work, args, n)
            big = project / "content" / "zz-largest.json"
            big.write_text(synth.WRITERS[args.format](999_999, args.largest, args.top_k))
            bench_build.say(f"cold build of {n} traces + one of {args.largest} tokens")
            run = bench_build.tracesite_build(project, args.jobs, work / "largest.log", code)
            rows.append(
                (
                    f"{n:,} traces × {args.tokens:,} tokens + one of {args.largest:,} tokens",
                    size + big.stat().st_size,
                    run,
                )
            )
            big.unlink()
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    lines = [
        f"Machine: {bench_build.machine()}. Cold builds, `--jobs {args.jobs}`, {args.format} input, "
        f"code: {code.label if code else 'the working tree'}.",
        "",
        "| gallery | input | cold build | peak RSS: main process | largest process "
        "| whole tree (summed) |",
        "|---|---|---|---|---|---|",
    ]
    for label, size, run in rows:
        lines.append(
            f"| {label} | {size / bench_build.MB:,.0f} MB | {run.seconds:.1f} s "
            f"| {run.main_peak_mb:,.0f} MB | {run.max_process_mb:,.0f} MB "
            f"| {run.tree_peak_mb:,.0f} MB |"
        )
    table = "\n".join(lines)
    print(table)
    if args.markdown:
        with args.markdown.open("a", encoding="utf-8") as fh:
            fh.write(table + "\n\n")


if __name__ == "__main__":
    main()
