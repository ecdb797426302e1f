"""Benchmark a tracesite build against the naive way and against bare ``json.load``.

One command generates a synthetic gallery (realistic token distributions, see ``synth.py``) in a
temporary folder and measures, in the same run:

- tracesite: cold build, no-change rebuild, one-trace-changed rebuild (``tracesite build``,
  each a fresh process, wall-clock), pages/s, peak RSS, site size, bytes per token of a trace page;
- the naive script (``naive_baseline.py``: one ``bokeh.io.save`` per trace, INLINE resources,
  a hand-written index), on every trace or on a sample extrapolated linearly (``--naive-sample``);
- plain ``json.load`` of the same input files, in one process;

and prints a Markdown table with the ratios and SPEC §12's targets.

    python bench/bench_build.py [--traces 1000] [--tokens 1000] [--top-k 5] [--jobs 2]
                                [--naive-sample N] [--format openai|native] [--profile DIR]

Peak RSS is measured two ways: the largest single process of the command's tree (``wait4``'s
``ru_maxrss``, exact) and the sum over the whole tree (every live descendant's RSS, sampled
every 0.1 s from ``/proc``; Linux only, and shared pages are counted once per process).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import synth  # noqa: E402  (a sibling module, found through the line above)

MB = 1024 * 1024


# ----------------------------------------------------------------------------- measuring


@dataclass
class Run:
    """One measured command."""

    seconds: float
    max_process_mb: float  # largest single process of the tree (ru_maxrss via wait4)
    tree_peak_mb: float  # sum over the live tree, sampled
    main_peak_mb: float  # the command's own process (the build's main process), sampled
    cpu_seconds: float  # user + system time of the process and the descendants it waited for
    returncode: int
    log: str = ""
    extra: dict[str, float] = field(default_factory=dict)


def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        # the command name may hold spaces or parentheses: fields start after the last ')'
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        kids.setdefault(ppid, []).append(int(entry.name))
    return kids


def tree_rss_mb(root: int) -> tuple[float, float]:
    """Resident memory of ``root`` and all its descendants, and of ``root`` alone, now (MB)."""
    kids = _children_map()
    page = os.sysconf("SC_PAGE_SIZE")
    total, own, todo = 0, 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(kids.get(pid, ()))
        try:
            with open(f"/proc/{pid}/statm", "rb") as fh:
                rss = int(fh.read().split()[1]) * page
        except (OSError, IndexError, ValueError):
            continue
        total += rss
        own = rss if pid == root else own
    return total / MB, own / MB


def measure(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> Run:
    """Run ``cmd`` to completion; wall time, peak RSS of its tree, output saved to ``log``."""
    peak = [0.0, 0.0]
    done = threading.Event()
    with log.open("wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)

        def sample() -> None:
            while not done.wait(0.1):
                tree, own = tree_rss_mb(proc.pid)
                peak[0], peak[1] = max(peak[0], tree), max(peak[1], own)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        # wait4, not proc.wait(): it also returns the child's rusage, whose ru_maxrss covers
        # the child and every descendant it waited for (the worker processes)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        done.set()
        sampler.join()
    text = log.read_text(encoding="utf-8", errors="replace")
    cpu = usage.ru_utime + usage.ru_stime
    return Run(seconds, usage.ru_maxrss / 1024, peak[0], peak[1], cpu, proc.returncode, text)


def check(run: Run, what: str) -> Run:
    if run.returncode != 0:
        sys.exit(f"{what} failed (exit {run.returncode}):\n{run.log[-3000:]}")
    return run


# ----------------------------------------------------------------------------- the contenders

JSON_LOAD = """
import json, sys, time
from pathlib import Path
started = time.perf_counter()
n = 0
for path in sorted(Path(sys.argv[1]).glob("*.json")):
    with path.open("rb") as fh:
        json.load(fh)
    n += 1
print(json.dumps({"files": n, "loop": time.perf_counter() - started}))
"""


@dataclass(frozen=True)
class Code:
    """Which tracesite the benchmark runs: a ``git archive`` export of one commit, so that the
    measured code (and the render cache's source fingerprint) cannot change during a run."""

    label: str
    env: dict[str, str]


def snapshot(rev: str, dest: Path) -> Code:
    repo = BENCH.parent
    sha = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--short", rev],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    tar = subprocess.run(
        ["git", "-C", str(repo), "archive", "--format=tar", sha], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        archive.extractall(dest, filter="data")
    # the wheel ships themes/ as tracesite.themes; an export needs the same place for it
    (dest / "src" / "tracesite" / "themes").symlink_to(dest / "themes")
    env = dict(os.environ, PYTHONPATH=str(dest / "src"))
    return Code(f"commit {sha} (`git archive` export)", env)


#: ``tracesite build PROJECT --jobs N`` through the same function the CLI calls, printing the
#: BuildResult's counts as a last JSON line (the CLI does not say how many files it rendered).
BUILD = """
import json, sys
from pathlib import Path
from tracesite.build import BuildOptions, build_project  # the same in every version
r = build_project(Path(sys.argv[1]), BuildOptions(jobs=int(sys.argv[2])))
print(json.dumps({"rendered": r.rendered, "traces": r.n_traces, "pages": r.n_pages,
                  "errors": len(r.errors), "changed": len(r.changed), "seconds": r.seconds}))
sys.exit(0 if r.ok else 1)
"""


def _last_json(run: Run) -> dict[str, float]:
    for line in reversed(run.log.splitlines()):
        if line.startswith("{"):
            parsed: dict[str, float] = json.loads(line)
            return parsed
    return {}


def tracesite_build(project: Path, jobs: int, log: Path, code: Code | None = None) -> Run:
    cmd = [sys.executable, "-c", BUILD, str(project), str(jobs)]
    run = check(measure(cmd, log, code.env if code else None), "tracesite build")
    run.extra = _last_json(run)
    return run


def json_load(content: Path, log: Path) -> Run:
    run = check(measure([sys.executable, "-c", JSON_LOAD, str(content)], log), "json.load")
    run.extra = _last_json(run)
    return run


def naive(content: Path, out: Path, limit: int, log: Path) -> Run:
    cmd = [sys.executable, str(BENCH / "naive_baseline.py"), str(content), str(out), "--timing"]
    if limit:
        cmd += ["--limit", str(limit)]
    run = check(measure(cmd, log), "naive baseline")
    run.extra = _last_json(run)
    return run


# ----------------------------------------------------------------------------- site facts


def folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


@dataclass(frozen=True)
class SiteFacts:
    n_html: int
    total_bytes: int
    page_bytes: list[int]  # trace pages (HTML only)
    bokeh_bytes: int  # the shared BokehJS folder


def site_facts(site: Path) -> SiteFacts:
    pages = sorted((site / "traces").rglob("index.html"))
    bokeh = sum(folder_bytes(d) for d in (site / "assets").glob("bokeh-*"))
    return SiteFacts(
        n_html=sum(1 for _ in site.rglob("*.html")),
        total_bytes=folder_bytes(site),
        page_bytes=[p.stat().st_size for p in pages],
        bokeh_bytes=bokeh,
    )


def machine() -> str:
    import bokeh

    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
        ram = f"{mem:.0f} GiB RAM"
    except (ValueError, OSError):
        ram = "RAM unknown"
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} cores ({cpu}), {ram}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, Bokeh {bokeh.__version__}"
    )


# ----------------------------------------------------------------------------- the report


def fmt_s(x: float) -> str:
    return f"{x:.2f} s" if x < 100 else f"{x:.0f} s"


def fmt_mb(x: float) -> str:
    return f"{x:,.0f} MB" if x >= 10 else f"{x:.1f} MB"


def verdict(ok: bool) -> str:
    return "yes" if ok else "**NO**"


@dataclass
class Results:
    args: argparse.Namespace
    input_bytes: int
    gen_seconds: float
    cold: Run
    nochange: Run
    onechange: Run
    jl: Run
    site: SiteFacts
    naive: Run | None
    naive_site: SiteFacts | None
    naive_n: int
    all_seconds: dict[str, list[float]]
    code: str
    baseline: Run | None = None
    baseline_label: str = ""


def naive_estimates(r: Results) -> tuple[float, float, bool]:
    """(seconds, site bytes, extrapolated?) of the naive script for all traces."""
    assert r.naive is not None and r.naive_site is not None
    n, total = r.naive_n, r.args.traces
    if n >= total:
        return r.naive.seconds, r.naive_site.total_bytes, False
    loop = r.naive.extra.get("loop", r.naive.seconds)
    fixed = r.naive.seconds - loop  # interpreter start and imports: paid once
    return fixed + loop * total / n, r.naive_site.total_bytes * total / n, True


def report(r: Results) -> str:
    a = r.args
    n_tokens = a.tokens
    per_token = [b / n_tokens for b in r.site.page_bytes]
    cold = r.cold.seconds
    lines = [
        f"### {a.traces:,} traces × {a.tokens:,} tokens, top-{a.top_k}, {a.format} input, "
        f"--jobs {a.jobs}",
        "",
        f"Machine: {machine()}. Code: {r.code}. "
        f"Input: {r.input_bytes / MB:,.0f} MB in {a.traces:,} files "
        f"(generated in {r.gen_seconds:.0f} s).",
        "",
    ]
    naive_s = naive_bytes = None
    note = ""
    if r.naive is not None and r.naive_site is not None:
        naive_s, naive_bytes, extrapolated = naive_estimates(r)
        if extrapolated:
            note = (
                f" (extrapolated linearly from a sample of {r.naive_n:,} traces, "
                f"measured {r.naive.seconds:.1f} s)"
            )
    jl = r.jl.seconds
    naive_cell = fmt_s(naive_s) if naive_s else "not run"

    def vs_naive(x: float) -> str:
        return f"{x / naive_s:.3f}" if naive_s else "—"

    def row(*cells: str) -> str:
        return "| " + " | ".join(cells) + " |"

    rows = [
        row(
            "measure",
            "tracesite",
            "naive `bokeh.io.save`" + note,
            "`json.load` only",
            "tracesite / naive",
            "tracesite / json.load",
            "target",
            "met",
        ),
        row(*["---"] * 8),
    ]
    faster = f" ({naive_s / cold:.1f}× faster)" if naive_s else ""
    rows.append(
        row(
            "cold build",
            f"{fmt_s(cold)} ({r.cold.extra.get('rendered', '?')} files rendered)",
            naive_cell,
            fmt_s(jl),
            vs_naive(cold) + faster,
            f"{cold / jl:.2f}",
            "≥ 4× faster than naive; ≤ 3× json.load",
            verdict((not naive_s or naive_s >= 4 * cold) and cold <= 3 * jl),
        )
    )
    nc = r.nochange.seconds
    rows.append(
        row(
            "no-change rebuild",
            f"{fmt_s(nc)} = {100 * nc / cold:.1f}% of cold ({r.nochange.extra.get('rendered', '?')} "
            f"rendered, {r.nochange.extra.get('changed', '?')} files written)",
            f"{naive_cell} (no cache: re-renders all)" if naive_s else naive_cell,
            "—",
            vs_naive(nc),
            f"{nc / jl:.2f}",
            "< 10% of cold",
            verdict(nc < 0.1 * cold),
        )
    )
    oc = r.onechange.seconds
    rows.append(
        row(
            "one trace changed",
            f"{fmt_s(oc)} = {100 * oc / cold:.1f}% of cold ({r.onechange.extra.get('rendered', '?')} "
            f"rendered, {r.onechange.extra.get('changed', '?')} files written)",
            naive_cell,
            "—",
            vs_naive(oc),
            f"{oc / jl:.2f}",
            "—",
            "—",
        )
    )
    rows.append(
        row(
            "CPU time of the cold run (user+sys, all processes)",
            fmt_s(r.cold.cpu_seconds),
            fmt_s(r.naive.cpu_seconds) + (" (sample)" if note else "") if r.naive else "—",
            fmt_s(r.jl.cpu_seconds),
            "—",
            f"{r.cold.cpu_seconds / r.jl.cpu_seconds:.2f}",
            "—",
            "—",
        )
    )
    pages = r.site.n_html
    rows.append(
        row(
            "pages/s (cold)",
            f"{pages / cold:,.0f} ({pages:,} HTML pages)",
            f"{(a.traces + 1) / naive_s:,.1f}" if naive_s else "—",
            "—",
            "—",
            "—",
            "—",
            "—",
        )
    )
    nv = r.naive
    rows.append(
        row(
            "peak RSS, largest process",
            fmt_mb(r.cold.max_process_mb),
            fmt_mb(nv.max_process_mb) if nv else "—",
            fmt_mb(r.jl.max_process_mb),
            "—",
            "—",
            "grows with the largest trace, not the count",
            "see memory scaling",
        )
    )
    rows.append(
        row(
            "peak RSS, whole process tree",
            fmt_mb(r.cold.tree_peak_mb),
            fmt_mb(nv.tree_peak_mb) if nv else "—",
            fmt_mb(r.jl.tree_peak_mb),
            "—",
            "—",
            "—",
            "—",
        )
    )
    rows.append(
        row(
            "site size",
            f"{fmt_mb(r.site.total_bytes / MB)} (incl. BokehJS once, {r.site.bokeh_bytes / MB:.1f} MB)",
            fmt_mb(naive_bytes / MB) if naive_bytes else "—",
            "—",
            f"{r.site.total_bytes / naive_bytes:.3f}" if naive_bytes else "—",
            "—",
            "well under 1 GB",
            verdict(r.site.total_bytes < 1024**3 / 2),
        )
    )
    naive_pt = "—"
    if r.naive_site is not None and r.naive_site.page_bytes:
        naive_pt = f"{statistics.median(r.naive_site.page_bytes) / n_tokens:,.0f} (BokehJS inlined)"
    rows.append(
        row(
            "trace page bytes/token (HTML, shared BokehJS not counted)",
            f"median {statistics.median(per_token):.1f}, max {max(per_token):.1f}",
            naive_pt,
            "—",
            "—",
            "—",
            "≤ 100",
            verdict(max(per_token) <= 100),
        )
    )
    lines += rows
    lines += [
        "",
        f"tracesite: `tracesite build PROJECT --jobs {a.jobs}` (the CLI's own function, through "
        "`python -c` so the run can report how many files it rendered), each run a fresh process, "
        "wall clock including interpreter start and imports. Naive: `python "
        "bench/naive_baseline.py` (one process, as a user would run it). json.load: one process "
        "loading every file. Peak RSS of the whole tree is sampled every 0.1 s (the build and "
        "its worker processes summed).",
    ]
    if (a.traces, a.tokens, a.top_k) != (1000, 1000, 5):
        lines += [
            "",
            "The targets are SPEC §12's for 1,000 traces × 1,000 tokens, top-5; at other sizes "
            "the fixed costs (interpreter start, imports, worker start) weigh differently.",
        ]
    if r.baseline is not None:
        ratio = r.cold.seconds / r.baseline.seconds
        cpu = r.cold.cpu_seconds / r.baseline.cpu_seconds
        lines += [
            "",
            f"Against the baseline ({r.baseline_label}), cold build in the same rounds: "
            f"{r.cold.seconds:.2f} s vs {r.baseline.seconds:.2f} s wall (**{ratio:.3f}×**), "
            f"{r.cold.cpu_seconds:.2f} s vs {r.baseline.cpu_seconds:.2f} s CPU ({cpu:.3f}×).",
        ]
    if a.repeat > 1:
        spread = "; ".join(
            f"{name} " + ", ".join(f"{x:.1f}" for x in xs) for name, xs in r.all_seconds.items()
        )
        lines += [
            "",
            f"Fastest of {a.repeat} interleaved rounds shown; every round's seconds: {spread}.",
        ]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- main


def prepare(project: Path, args: argparse.Namespace) -> tuple[int, float]:
    """A fresh project with the generated gallery: no site, no cache. A ``--workdir`` that
    already holds the same gallery (same sizes and format) reuses its files."""
    content = project / "content"
    stamp = project / "gallery.json"
    want = {
        "traces": args.traces,
        "tokens": args.tokens,
        "top_k": args.top_k,
        "format": args.format,
        "version": synth.VERSION,
    }
    for stale in ("site", ".tracesite-cache"):
        shutil.rmtree(project / stale, ignore_errors=True)
    shutil.rmtree(project.parent / "naive-site", ignore_errors=True)
    try:
        known = json.loads(stamp.read_text())
    except (OSError, ValueError):
        known = {}
    if {k: known.get(k) for k in want} == want:
        say(f"reusing the generated gallery in {content}")
        # an interrupted run may have left the "one trace changed" file changed
        synth.write_one((content, args.traces // 2, args.tokens, args.top_k, args.format, 0))
        return int(known["bytes"]), float(known["seconds"])
    shutil.rmtree(project, ignore_errors=True)
    say(f"generating {args.traces} traces × {args.tokens} tokens ({args.format}) in {content}")
    t0 = time.perf_counter()
    size = synth.write_gallery(
        content, args.traces, args.tokens, args.top_k, args.format, jobs=args.jobs
    )
    seconds = time.perf_counter() - t0
    stamp.write_text(json.dumps({**want, "bytes": size, "seconds": seconds}))
    return size, seconds


def best(runs: list[Run]) -> Run:
    """The fastest of repeated runs (the least disturbed by other load), with the highest peak
    memory seen in any of them."""
    fastest = min(runs, key=lambda r: r.seconds)
    fastest.max_process_mb = max(r.max_process_mb for r in runs)
    fastest.tree_peak_mb = max(r.tree_peak_mb for r in runs)
    fastest.main_peak_mb = max(r.main_peak_mb for r in runs)
    return fastest


def run_benchmark(args: argparse.Namespace, work: Path) -> Results:
    project = work / "project"
    content = project / "content"
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    input_bytes, gen = prepare(project, args)
    code = snapshot(args.code, work / "code") if args.code else None
    base = snapshot(args.baseline, work / "baseline") if args.baseline else None
    changed = args.traces // 2
    runs: dict[str, list[Run]] = {"jl": [], "cold": [], "nochange": [], "onechange": []}
    if base is not None:
        runs["baseline"] = []
    # Interleaved repeats: load from other processes drifts, and each measurement should see
    # the same drift as the one it is compared with.
    for rep in range(1, args.repeat + 1):
        for stale in ("site", ".tracesite-cache"):
            shutil.rmtree(project / stale, ignore_errors=True)
        say(f"round {rep}/{args.repeat}: json.load of every file")
        runs["jl"].append(json_load(content, logs / f"json_load-{rep}.log"))
        if base is not None:  # the same cold build with the baseline's code, in the same round
            say(f"  {runs['jl'][-1].seconds:.2f} s; baseline cold build ({base.label})")
            runs["baseline"].append(
                tracesite_build(project, args.jobs, logs / f"baseline-{rep}.log", base)
            )
            for stale in ("site", ".tracesite-cache"):
                shutil.rmtree(project / stale, ignore_errors=True)
            say(
                f"  {runs['baseline'][-1].seconds:.2f} s; tracesite cold build (--jobs {args.jobs})"
            )
        else:
            say(f"  {runs['jl'][-1].seconds:.2f} s; tracesite cold build (--jobs {args.jobs})")
        runs["cold"].append(tracesite_build(project, args.jobs, logs / f"cold-{rep}.log", code))
        say(f"  {runs['cold'][-1].seconds:.2f} s; no-change rebuild")
        runs["nochange"].append(
            tracesite_build(project, args.jobs, logs / f"nochange-{rep}.log", code)
        )
        synth.change_one(content, changed, args.tokens, args.top_k, args.format)
        say(f"  {runs['nochange'][-1].seconds:.2f} s; rebuild with one trace changed")
        runs["onechange"].append(
            tracesite_build(project, args.jobs, logs / f"onechange-{rep}.log", code)
        )
        synth.write_one((content, changed, args.tokens, args.top_k, args.format, 0))
        say(f"  {runs['onechange'][-1].seconds:.2f} s")
    site = site_facts(project / "site")
    naive_run = naive_site = None
    naive_n = 0
    if not args.skip_naive:
        naive_n = min(args.naive_sample or args.traces, args.traces)
        say(f"naive baseline on {naive_n} traces")
        out = work / "naive-site"
        naive_run = naive(content, out, naive_n if naive_n < args.traces else 0, logs / "naive.log")
        naive_site = SiteFacts(
            n_html=sum(1 for _ in out.glob("*.html")),
            total_bytes=folder_bytes(out),
            page_bytes=[p.stat().st_size for p in out.glob("trace-*.html")],
            bokeh_bytes=0,
        )
        say(f"  {naive_run.seconds:.2f} s")
    return Results(
        args,
        input_bytes,
        gen,
        best(runs["cold"]),
        best(runs["nochange"]),
        best(runs["onechange"]),
        best(runs["jl"]),
        site,
        naive_run,
        naive_site,
        naive_n,
        {k: [r.seconds for r in v] for k, v in runs.items()},
        code.label if code else "the working tree as it was (uncommitted edits included)",
        best(runs["baseline"]) if base is not None else None,
        base.label if base is not None else "",
    )


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--traces", type=int, default=1000)
    ap.add_argument("--tokens", type=int, default=1000)
    ap.add_argument("--top-k", type=int, default=5)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument(
        "--format",
        choices=sorted(synth.WRITERS),
        default="openai",
        help="input files: OpenAI chat responses (what users save) or native",
    )
    ap.add_argument(
        "--naive-sample",
        type=int,
        default=0,
        help="time the naive script on N traces and extrapolate (0: all)",
    )
    ap.add_argument(
        "--code",
        metavar="REV",
        help="benchmark this commit (git archive export; e.g. HEAD) instead of the working tree",
    )
    ap.add_argument(
        "--baseline",
        metavar="REV",
        help="also time a cold build of this commit in every round, and report the ratio",
    )
    ap.add_argument(
        "--repeat", type=int, default=1, help="interleaved rounds; the fastest of each is shown"
    )
    ap.add_argument("--skip-naive", action="store_true", help="do not run the naive script")
    ap.add_argument("--workdir", type=Path, help="work here instead of a temporary folder")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="also profile a cold and a no-change build (py-spy, else cProfile) into DIR",
    )
    ap.add_argument("--markdown", type=Path, help="also append the table to this file")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="tracesite-bench-"))
    try:
        results = run_benchmark(args, work)
        table = report(results)
        print(table)
        if args.markdown:
            with args.markdown.open("a", encoding="utf-8") as fh:
                fh.write(table + "\n\n")
        if args.profile:
            import profile_build

            say(f"profiling a cold and a no-change build (--jobs 1) -> {args.profile}")
            env = snapshot(args.code, work / "code").env if args.code else None
            prof = profile_build.profile(work / "project", args.profile, env)
            print("\n" + prof)
            if args.markdown:
                with args.markdown.open("a", encoding="utf-8") as fh:
                    fh.write(prof + "\n\n")
    finally:
        if not (args.keep or args.workdir):
            shutil.rmtree(work, ignore_errors=True)
        else:
            say(f"kept {work}")


if __name__ == "__main__":
    main()
