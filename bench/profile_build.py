"""Where a build's time goes: sample a cold and a no-change build with py-spy, sum by stage.

The build runs with ``--jobs 1`` so every stage runs in one process (py-spy's ``--subprocesses``
did not pick up the spawned workers here; the per-file work is the same in a worker). py-spy
samples without slowing Python calls down, unlike cProfile, which inflates call-heavy code such
as Jinja's generated templates several times. Without py-spy, cProfile is used instead.

    python bench/profile_build.py PROJECT OUT_DIR     (PROJECT: a project bench_build.py made)

Writes ``OUT_DIR/{cold,nochange}.txt`` (raw collapsed stacks, or pstats text) and prints a
Markdown table: share of samples per stage, and the top functions by own time.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

#: (stage, frame markers): a sample belongs to the stage of its outermost matching frame, so a
#: JSON read inside the cache counts as cache work. Imports anywhere in a stack count as imports
#: (a one-time cost, e.g. Bokeh on the first heatmap).
STAGES = [
    ("cache: hash the input, read entries", ("cache_key (tracesite/build/cache", "load_cached (")),
    ("cache: write entries", ("store (tracesite/build/cache",)),
    ("cache: read fragments for pages", ("load_entry (",)),
    (READER := "read: format reader -> Trace", ("read_bytes (tracesite/formats",)),
    ("statistics and card summary", ("summarise (tracesite/model/summary",)),
    ("heatmap (Bokeh model + components())", ("render_heatmap (tracesite/heatmap",)),
    ("text view", ("render_text_view (",)),
    ("page templates (Jinja)", ("Renderer.render (tracesite/pages",)),
    ("page writes (hash, atomic write)", ("SiteWriter.write (", "SiteWriter.finish (")),
    ("static files, BokehJS copy", ("copy_static (",)),
    ("discovery, notes, config", ("discover (", "_read_notes (", "load_config (")),
]
JSON_PARSE = "read: JSON parsing (orjson, json)"
#: Frames that parse JSON: orjson (C, so its samples end in fast_loads) and the json fallback.
_JSON_MARKERS = ("fast_loads (tracesite/formats/containers", "raw_decode (json/decoder")
IMPORTS = "imports (tracesite, numpy, Bokeh, Jinja)"
OTHER = "other (orchestration, interpreter)"


def stage_of(frames: list[str]) -> str:
    """The stage of one sampled stack (frames outermost first)."""
    if any("_find_and_load (" in f for f in frames):
        return IMPORTS
    for f in frames:
        for name, markers in STAGES:
            if any(m in f for m in markers):
                if name == READER and any(m in g for g in frames for m in _JSON_MARKERS):
                    return JSON_PARSE
                return name
    return OTHER


def summarise_raw(path: Path, top: int = 12) -> tuple[Counter[str], Counter[str], int]:
    """(samples per stage, own samples per leaf function, total) from py-spy's raw output."""
    stages: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    total = 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        if frames[0].startswith("process "):  # py-spy names the process with --subprocesses
            frames = frames[1:]
        total += n
        stages[stage_of(frames)] += n
        if frames:
            leaves[frames[-1].rsplit(":", 1)[0] + ")"] += n
    return stages, leaves, total


def run(project: Path, out: Path, name: str, env: dict[str, str] | None) -> Path:
    cmd_build = [sys.executable, "-m", "tracesite", "build", str(project), "--jobs", "1"]
    spy = shutil.which("py-spy")
    if spy:
        target = out / f"{name}.txt"
        cmd = [spy, "record", "--format", "raw", "--rate", "200", "-o", str(target), "--"]
        subprocess.run(cmd + cmd_build, check=True, capture_output=True, env=env)
        return target
    target = out / f"{name}.prof"
    subprocess.run(
        [sys.executable, "-m", "cProfile", "-o", str(target), *cmd_build[1:]],
        check=True,
        capture_output=True,
        env=env,
    )
    return target


def pstats_text(prof: Path) -> str:
    import io
    import pstats

    buf = io.StringIO()
    stats = pstats.Stats(str(prof), stream=buf)
    stats.sort_stats("cumulative").print_stats(40)
    stats.sort_stats("tottime").print_stats(25)
    return buf.getvalue()


def profile(project: Path, out: Path, env: dict[str, str] | None = None) -> str:
    """Profile a cold build, then a no-change one; return the Markdown report."""
    out.mkdir(parents=True, exist_ok=True)
    for stale in ("site", ".tracesite-cache"):
        shutil.rmtree(project / stale, ignore_errors=True)
    results = {name: run(project, out, name, env) for name in ("cold", "nochange")}
    if any(p.suffix == ".prof" for p in results.values()):
        for name, prof in results.items():
            (out / f"{name}.pstats.txt").write_text(pstats_text(prof))
        return f"py-spy is not installed: cProfile output is in {out}/*.pstats.txt"
    parsed = {name: summarise_raw(p) for name, p in results.items()}
    lines = [
        "| stage | cold build | no-change rebuild |",
        "|---|---|---|",
    ]
    names = [s for s, _ in STAGES] + [JSON_PARSE, IMPORTS, OTHER]
    names.sort(key=lambda s: -parsed["cold"][0][s])
    for s in names:
        cells = []
        for name in ("cold", "nochange"):
            stages, _, total = parsed[name]
            cells.append(f"{100 * stages[s] / total:.1f}%" if total else "—")
        lines.append(f"| {s} | {' | '.join(cells)} |")
    totals = " | ".join(str(parsed[n][2]) for n in ("cold", "nochange"))
    lines.append(f"| samples (200/s, one process) | {totals} |")
    for name in ("cold", "nochange"):
        _, leaves, total = parsed[name]
        lines += ["", f"Top functions by own time, {name} build:", ""]
        lines += ["| function | share |", "|---|---|"]
        for fn, n in leaves.most_common(12):
            lines.append(f"| `{fn.replace('|', '/')}` | {100 * n / total:.1f}% |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("project", type=Path)
    ap.add_argument("out", type=Path)
    args = ap.parse_args()
    print(profile(args.project, args.out))


if __name__ == "__main__":
    main()
