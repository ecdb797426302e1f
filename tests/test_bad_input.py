"""The bad-input corpus (SPEC §13, issue 8): every case through the real CLI.

Each case is a file dropped into a project beside ONE good trace. ``tracesite build`` must build
the good trace's page, exit 1, and print exactly one addressed line naming the bad file (or, for
the few inputs with a documented reading, build it and exit 0); no Python traceback may reach
the user. ``tracesite inspect`` on each bad trace file must do the same on its own.

The cases are generated in code (tests/badinput/cases.py), not committed as files, so each one
says what it is; the large ones (a 200 MB file, a 1,000,000-token trace) are written into
``tmp_path`` at test time and marked slow. docs/reliability.md lists every case with the message it gets.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from badinput.cases import ALL_CASES, GOOD_NATIVE, TRACE_CASES, Case
from conftest import native_trace
from htmlcheck import parse

GOOD_PAGE = "site/traces/good/index.html"


def test_the_corpus_is_big_and_ids_are_unique() -> None:
    ids = [c.id for c in ALL_CASES]
    assert len(ids) == len(set(ids))
    names = [c.name for c in ALL_CASES]
    assert len(names) == len(set(names)) and "good.json" not in names
    assert len([c for c in ALL_CASES if c.error is not None]) >= 40


def _project(make_project: Callable[..., Path], case: Case, tmp_path: Path) -> Path:
    files: dict[str, object] = {"content/good.json": native_trace(12, seed=1)}
    files[f"content/{case.name}"] = case.data
    files.update(case.extra)
    proj = make_project(files)
    if case.id == "trace-block-symlink-out":
        outside = tmp_path / "outside.json"
        outside.write_bytes(GOOD_NATIVE)
        (proj / "content/link.json").symlink_to(outside)
    if case.id == "trace-block-symlink-loop":
        (proj / "content/loop.json").symlink_to("loop.json")
    return proj


def _error_lines(stderr: str) -> list[str]:
    """The addressed error lines: not progress, not warnings, not the summary."""
    return [ln for ln in stderr.splitlines() if ln.startswith("content/")]


def _no_traceback(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr
    assert "internal error" not in stderr, stderr


@pytest.mark.parametrize("case", ALL_CASES, ids=[c.id for c in ALL_CASES])
def test_build_reports_the_bad_file_and_builds_the_rest(
    case: Case,
    make_project: Callable[..., Path],
    cli: Callable[..., subprocess.CompletedProcess[str]],
    tmp_path: Path,
) -> None:
    proj = _project(make_project, case, tmp_path)
    r = cli("build", cwd=proj)
    _no_traceback(r.stderr)
    good = proj / GOOD_PAGE
    assert good.is_file(), r.stderr
    assert "traces/good/" in " ".join(parse(proj / "site/index.html").links())
    lines = _error_lines(r.stderr)
    if case.skipped:  # not a trace: a warning, the build succeeds; --strict fails it
        assert r.returncode == 0, r.stderr
        assert lines == []
        (warning,) = [ln for ln in r.stderr.splitlines() if ln.startswith("warning: ")]
        assert warning.startswith(f"warning: content/{case.name}: not a trace; skipped"), warning
        assert re.search(case.error.removeprefix(r"\$: "), warning), warning  # type: ignore[union-attr]
        assert cli("build", "--strict", cwd=proj).returncode == 1
        return
    if case.error is None:
        assert r.returncode == 0, r.stderr
        assert lines == []
        assert len(list((proj / "site/traces").iterdir())) == 2, "the accepted file has its page"
        return
    assert r.returncode == 1, r.stderr
    mine = [ln for ln in lines if ln.startswith(f"content/{case.name}")]
    assert len(mine) == 1, f"expected one line naming content/{case.name}:\n{r.stderr}"
    assert re.match(re.escape(f"content/{case.name}") + r"(: |:\d)", mine[0])
    assert re.search(case.error, mine[0][len(f"content/{case.name}") :]), mine[0]
    others = [ln for ln in lines if ln not in mine]
    assert len(others) == len(case.also), r.stderr
    for pattern, line in zip(case.also, others, strict=True):
        assert re.search(pattern, line), line
    assert f"{1 + len(case.also)} errors" in r.stderr.splitlines()[-1]
    assert "/tmp/" not in mine[0] and str(proj) not in mine[0], "paths as the user typed them"


INSPECTED = [c for c in TRACE_CASES]


@pytest.mark.parametrize("case", INSPECTED, ids=[c.id for c in INSPECTED])
def test_inspect_reports_the_bad_file(
    case: Case, cli: Callable[..., subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    (tmp_path / "content").mkdir()
    (tmp_path / "content" / case.name).write_bytes(case.data)
    r = cli("inspect", "--json", f"content/{case.name}", cwd=tmp_path)
    _no_traceback(r.stderr)
    if case.error is None:
        assert r.returncode == 0, r.stderr
        assert case.reading is not None
        assert case.reading(json.loads(r.stdout)), r.stdout
        return
    assert r.returncode == 1
    assert json.loads(r.stdout) == []
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith(f"content/{case.name}")
    assert re.search(case.error, lines[0][len(f"content/{case.name}") :]), lines[0]


def test_inspect_reads_the_good_files_among_bad_ones(
    cli: Callable[..., subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    bad = [c for c in TRACE_CASES if c.error is not None][:10]
    for c in bad:
        (tmp_path / c.name).write_bytes(c.data)
    (tmp_path / "good.json").write_bytes(GOOD_NATIVE)
    r = cli("inspect", "--json", *[c.name for c in bad], "good.json", cwd=tmp_path)
    _no_traceback(r.stderr)
    assert r.returncode == 1
    assert [o["source"] for o in json.loads(r.stdout)] == ["good.json"]
    assert len(r.stderr.splitlines()) == len(bad), "every bad file reported, one line each"


# -- large inputs (generated at test time, never committed) ----------------------------------------


def write_long_trace(path: Path, n: int, top_k: int = 5) -> None:
    """A native trace of ``n`` tokens with top-k alternatives, written in a stream (small memory)."""
    words = [" the", " model", " wrote", " this", ",", " and", "\n", " 42", ".", " token"]
    with path.open("w", encoding="utf-8") as fh:
        fh.write('{"tracesite": 1, "model": "long-model", "tokens": [')
        for i in range(n):
            lp = round(math.log(0.5 + 0.49 * math.sin(i * 0.7) ** 2), 4)
            t = words[i % 10]
            top = [{"text": t, "logprob": lp}] + [
                {"text": words[(i + k) % 10] + "x", "logprob": round(lp - k - 1, 4)}
                for k in range(top_k - 1)
            ]
            sep = "," if i else ""
            fh.write(
                sep + json.dumps({"text": t, "logprob": lp, "top": top}, separators=(",", ":"))
            )
        fh.write("]}")


def _timed_build(proj: Path) -> tuple[subprocess.CompletedProcess[str], float, int]:
    """Run ``tracesite build`` (one process) and return it with wall seconds and its peak RSS (kB).

    ``os.wait4`` gives that child's own resource usage (not the session's high-water mark).
    """
    out, err = proj / "build.out", proj / "build.err"
    start = time.perf_counter()
    with out.open("w") as fo, err.open("w") as fe:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tracesite", "build", "--jobs", "1"],
            cwd=proj,
            stdout=fo,
            stderr=fe,
        )
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    result = subprocess.CompletedProcess(
        proc.args, proc.returncode, out.read_text(), err.read_text()
    )
    return result, seconds, usage.ru_maxrss


@pytest.mark.slow
def test_a_200_mb_truncated_file_is_an_addressed_error(make_project: Callable[..., Path]) -> None:
    proj = make_project({"content/good.json": native_trace(12, seed=1)})
    big = proj / "content/huge.json"
    write_long_trace(big, 950_000)
    size = big.stat().st_size
    assert size > 200_000_000
    with big.open("r+b") as fh:  # cut in the middle of the last token, as a full disk would
        fh.truncate(size - 40)
    r, seconds, peak_kb = _timed_build(proj)
    print(
        f"\n200 MB truncated file: {size / 1e6:.0f} MB, {seconds:.1f} s, peak RSS {peak_kb / 1e3:.0f} MB"
    )
    _no_traceback(r.stderr)
    assert r.returncode == 1
    (line,) = [ln for ln in _error_lines(r.stderr) if ln.startswith("content/huge.json")]
    assert re.match(r"content/huge\.json: line 1: not valid JSON: ", line), line
    assert (proj / GOOD_PAGE).is_file()


@pytest.mark.slow
def test_a_200_mb_binary_file_is_refused_quickly(make_project: Callable[..., Path]) -> None:
    proj = make_project({"content/good.json": native_trace(12, seed=1)})
    with (proj / "content/weights.bin").open("wb") as fh:  # a model checkpoint dropped in content/
        block = bytes(range(256)) * 4096
        for _ in range(200):
            fh.write(block)
    r, seconds, peak_kb = _timed_build(proj)
    print(f"\n200 MB binary file: {seconds:.1f} s, peak RSS {peak_kb / 1e3:.0f} MB")
    _no_traceback(r.stderr)
    assert r.returncode == 1
    # bytes 0..127 hold one newline (0x0a), so the first bad byte is on line 2
    assert "content/weights.bin: line 2: not UTF-8 text: byte 0x80 at offset 128" in r.stderr
    assert (proj / GOOD_PAGE).is_file()


@pytest.mark.slow
def test_a_million_token_trace_builds(make_project: Callable[..., Path]) -> None:
    proj = make_project({"content/good.json": native_trace(12, seed=1)})
    write_long_trace(proj / "content/million.json", 1_000_000)
    r, seconds, peak_kb = _timed_build(proj)
    page = proj / "site/traces/million/index.html"
    print(
        f"\n1,000,000 tokens (top-5, {(proj / 'content/million.json').stat().st_size / 1e6:.0f} MB): "
        f"{seconds:.1f} s, peak RSS {peak_kb / 1e3:.0f} MB, page {page.stat().st_size / 1e6:.1f} MB"
    )
    _no_traceback(r.stderr)
    assert r.returncode == 0, r.stderr
    assert (proj / GOOD_PAGE).is_file()
    text = " ".join(parse(page).text)
    assert "1,000,000" in text or "1000000" in text


# -- symlinks in content/ ---------------------------------------------------------------------------


def test_symlink_loops_and_dangling_links_in_content_do_not_break_the_build(
    make_project: Callable[..., Path], cli: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    """Documented reading: symlinked folders are not descended into (a loop cannot hang the
    build), and links to nothing are skipped like any file that is not there."""
    proj = make_project({"content/good.json": native_trace(12, seed=1)})
    (proj / "content/sub").mkdir()
    (proj / "content/sub/loop").symlink_to("..", target_is_directory=True)
    (proj / "content/self.json").symlink_to("self.json")
    (proj / "content/dangling.json").symlink_to(proj / "nowhere.json")
    r = cli("build", cwd=proj, timeout=120)
    _no_traceback(r.stderr)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (proj / "site/traces").iterdir()) == ["good"]


# -- coverage-guided fuzzing with atheris (bench/fuzz_readers.py) -----------------------------------

FUZZ_SECONDS = 45
# A fixed seed and number of runs: CI replays the same ~60,000 inputs every time, so a red run
# is a real regression, not the luck of the draw. Open-ended fuzzing with fresh seeds is a bench
# job: `python bench/fuzz_readers.py --mode json --findings DIR -max_total_time=600`.
FUZZ_SEED = 20261124
FUZZ_RUNS = 60_000


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["bytes", "json"])
def test_atheris_finds_no_reader_crash(mode: str, tmp_path: Path) -> None:
    """Only TraceReadError may escape a reader, on arbitrary and mutated real inputs."""
    import importlib.util

    if importlib.util.find_spec("atheris") is None:
        pytest.skip(
            "atheris is not installed: pip install '.[fuzz]' (Linux; .ci/run checks it is there)"
        )
    harness = Path(__file__).resolve().parents[1] / "bench/fuzz_readers.py"
    corpus, findings = tmp_path / "corpus", tmp_path / "findings"
    subprocess.run([sys.executable, str(harness), "--write-seeds", str(corpus)], check=True)
    r = subprocess.run(
        [
            sys.executable,
            str(harness),
            "--mode",
            mode,
            "--findings",
            str(findings),
            f"-seed={FUZZ_SEED}",
            f"-runs={FUZZ_RUNS}",
            f"-max_total_time={FUZZ_SECONDS * 4}",  # a cap for a very slow machine only
            "-rss_limit_mb=4096",
            "-timeout=30",
            f"-artifact_prefix={tmp_path}/",
            *([str(corpus)] if mode == "bytes" else []),
        ],
        capture_output=True,
        text=True,
        timeout=FUZZ_SECONDS * 4 + 240,
    )
    found = sorted(findings.glob("*.input")) if findings.is_dir() else []
    report = [
        f"{p.name}: {p.read_bytes()[:300]!r}\n{p.with_suffix('.txt').read_text()[-1500:]}"
        for p in found
    ]
    assert found == [], "readers crashed:\n" + "\n".join(report)
    assert r.returncode == 0, r.stderr[-3000:]
    assert f"Done {FUZZ_RUNS} runs in " in r.stderr, r.stderr[-2000:]  # every planned input ran
