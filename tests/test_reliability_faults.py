"""Issue 17, point 4: faults leave things whole and clear.

A full disk is an addressed error and the previous site is kept; a read-only project gets its
render cache elsewhere; ``kill -9`` of a build leaves no worker behind; deploy names uncommitted
inputs in its warning and its commit, and keeps files on the Pages branch it did not write.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conftest import native_trace
from tracesite.build import writer as writer_mod
from tracesite.build.cache import CACHE_DIR
from tracesite.build.cachedir import cache_dir_for
from tracesite.build.pipeline import BuildOptions, build_project
from tracesite.build.writer import MARKER, read_marker
from tracesite.deploy.publish import DeployOptions, deploy_project

# -- a full disk ------------------------------------------------------------------------------------


def _site_bytes(site: Path) -> dict[str, bytes]:
    return {
        p.relative_to(site).as_posix(): p.read_bytes()
        for p in sorted(site.rglob("*"))
        if p.is_file() and p.name != MARKER
    }


@pytest.fixture
def built(make_project: Callable[..., Path]) -> Path:
    proj = make_project(
        {f"content/run{i}.json": native_trace(10, seed=i, model="old") for i in range(6)}
    )
    assert build_project(proj, BuildOptions(jobs=1, quiet=True)).ok
    for i in range(6):  # every page changes in the next build
        (proj / f"content/run{i}.json").write_text(
            json.dumps(native_trace(10, seed=i, model="new")), encoding="utf-8"
        )
    return proj


def test_a_full_disk_is_an_addressed_error_and_the_previous_site_is_kept(
    built: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _site_bytes(built / "site")
    real = writer_mod.atomic_write
    full_from = "traces/run3/index.html"

    def atomic_write(target: Path, data: object) -> None:
        if target.is_relative_to(built / "site") and (
            target.relative_to(built / "site").as_posix() >= full_from
        ):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(target, data)  # type: ignore[arg-type]

    monkeypatch.setattr(writer_mod, "atomic_write", atomic_write)
    result = build_project(built, BuildOptions(jobs=1, quiet=True))
    messages = [str(e) for e in result.errors]
    assert messages[0] == (
        "content/run3.json: no space left on device writing site/traces/run3/index.html"
    ), messages
    assert len(messages) == 2 and "more file(s) not written after the disk was full" in messages[1]
    after = _site_bytes(built / "site")
    assert set(after) == set(before), "nothing of the previous site was removed"
    for rel, data in before.items():  # each file is the old one or a whole new one
        assert after[rel] == data or rel < full_from, rel
    assert b"old" in after["traces/run5/index.html"]
    marker = read_marker(built / "site")
    assert marker is not None and not marker.complete  # the next build trusts no digest

    monkeypatch.setattr(writer_mod, "atomic_write", real)
    again = build_project(built, BuildOptions(jobs=1, quiet=True))
    assert again.ok, [str(e) for e in again.errors]
    assert all(b"new" in (built / f"site/traces/run{i}/index.html").read_bytes() for i in range(6))
    assert read_marker(built / "site").complete  # type: ignore[union-attr]


def test_a_file_name_too_long_fails_only_its_page(
    built: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = writer_mod.atomic_write

    def atomic_write(target: Path, data: object) -> None:
        if target.name == "index.html" and target.parent.name == "run2":
            raise OSError(errno.ENAMETOOLONG, os.strerror(errno.ENAMETOOLONG))
        real(target, data)  # type: ignore[arg-type]

    monkeypatch.setattr(writer_mod, "atomic_write", atomic_write)
    result = build_project(built, BuildOptions(jobs=1, quiet=True))
    assert [str(e) for e in result.errors] == [
        "content/run2.json: file name too long writing site/traces/run2/index.html"
    ]
    assert b"new" in (built / "site/traces/run4/index.html").read_bytes()


def test_writes_never_go_through_a_symlink_out_of_the_site(built: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    traces = built / "site/traces"
    for child in sorted(traces.rglob("*"), reverse=True):
        child.unlink() if child.is_file() else child.rmdir()
    traces.rmdir()
    traces.symlink_to(outside, target_is_directory=True)
    result = build_project(built, BuildOptions(jobs=1, quiet=True))
    assert list(outside.iterdir()) == []
    assert any("a folder on its way is a symlink out of the output folder" in str(e)
               for e in result.errors)  # fmt: skip


# -- a read-only project ----------------------------------------------------------------------------


def test_the_cache_falls_back_when_the_project_cannot_be_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    assert cache_dir_for(project).path == project / CACHE_DIR
    assert cache_dir_for(project).warning("proj") is None
    (project / CACHE_DIR).rmdir()

    real_access = os.access

    def access(path: object, mode: int, **kw: object) -> bool:
        if Path(str(path)) in (project, project / CACHE_DIR) and mode & os.W_OK:
            return False  # as on a read-only mount (root ignores chmod, so it is simulated)
        return real_access(path, mode, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "access", access)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    choice = cache_dir_for(project)
    assert choice.path.is_relative_to(tmp_path / "xdg" / "tracesite")
    assert choice.path.is_dir() and not (project / CACHE_DIR).exists()
    assert cache_dir_for(project) == choice, "the same answer every time it is asked"
    warning = choice.warning("proj")
    assert warning is not None and "the project folder cannot be written" in str(warning)
    assert str(choice.path) in str(warning)


def test_a_planted_fallback_folder_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    monkeypatch.setattr(os, "access", lambda p, m, **kw: not (m & os.W_OK and Path(p) == project))
    xdg = tmp_path / "xdg"
    (xdg / "tracesite").mkdir(parents=True)
    (xdg / "tracesite").chmod(0o777)  # anyone could plant cache entries (rendered HTML) here
    monkeypatch.setenv("XDG_CACHE_HOME", str(xdg))
    assert not cache_dir_for(project).path.is_relative_to(xdg)


def test_a_read_only_project_builds_into_a_writable_output(
    make_project: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A project the user cannot write builds into a writable ``-o``, its cache elsewhere.
    Made read-only with chmod; as root (CI), which writes through any mode, the project is
    reported unwritable by ``os.access`` instead, the check tracesite makes before writing."""
    proj = make_project({"content/a.json": native_trace(8, seed=1)})
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    as_root = os.geteuid() == 0
    if as_root:
        real = os.access

        def access(p: object, mode: int, **kw: object) -> bool:
            inside = Path(str(p)).resolve().is_relative_to(proj.resolve())
            return False if (mode & os.W_OK and inside) else real(p, mode, **kw)  # type: ignore[arg-type]

        monkeypatch.setattr(os, "access", access)
    else:
        for p in [proj, *proj.rglob("*")]:
            p.chmod(0o555 if p.is_dir() else 0o444)
    try:
        result = build_project(proj, BuildOptions(output=tmp_path / "out", jobs=1, quiet=True))
    finally:
        for p in [proj, *proj.rglob("*")]:
            p.chmod(0o755 if p.is_dir() else 0o644)
    assert result.ok, [str(e) for e in result.errors]
    assert (tmp_path / "out/traces/a/index.html").is_file()
    assert any("render cache is kept in" in str(w) for w in result.warnings)
    assert not (proj / ".tracesite-cache").exists()  # nothing written into the project


# -- kill -9 leaves no worker -----------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    """The live processes whose parent is ``pid`` (from /proc)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2 :].split()[0] != "Z"  # a zombie has exited


@pytest.fixture
def many_traces(make_project: Callable[..., Path]) -> Path:
    return make_project({f"content/t{i:03}.json": native_trace(400, seed=i) for i in range(80)})


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_kill_9_of_a_build_leaves_no_worker_process(many_traces: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tracesite", "build", "--jobs", "2"],
        cwd=many_traces,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while len(workers) < 2 and time.monotonic() < deadline and proc.poll() is None:
            workers = _children(proc.pid)
            time.sleep(0.02)
        assert len(workers) == 2, "the build started its two workers"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 5
        while any(_alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = [w for w in workers if _alive(w)]
        assert left == [], f"workers outlived the killed build: {left}"
    finally:
        for w in workers:  # never leave anything behind, even when the test fails
            if _alive(w):
                os.kill(w, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()


# -- deploy -----------------------------------------------------------------------------------------


def git(*args: str, cwd: Path) -> str:
    r = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return r.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A gallery project in git whose origin is a local bare repository."""
    cfg = tmp_path / "gitconfig"
    cfg.write_text("[user]\n\tname = T\n\temail = t@example.com\n[init]\n\tdefaultBranch = main\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(cfg))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    remote, work = tmp_path / "remote.git", tmp_path / "work"
    git("init", "--bare", "-q", str(remote), cwd=tmp_path)
    git("init", "-q", str(work), cwd=tmp_path)
    (work / "content").mkdir()
    (work / "content/a.json").write_text(json.dumps(native_trace(8, seed=1)))
    (work / ".gitignore").write_text("site/\n.tracesite-cache/\n")
    git("add", ".", cwd=work)
    git("commit", "-q", "-m", "start", cwd=work)
    git("remote", "add", "origin", str(remote), cwd=work)
    yield work


def _deploy(work: Path) -> object:
    return deploy_project(work, DeployOptions(quiet=True))


def _message(work: Path) -> str:
    return git("log", "-1", "--format=%B", "gh-pages", cwd=work)


def test_deploy_names_uncommitted_inputs(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    head = git("rev-parse", "HEAD", cwd=repo)[:12]
    clean = _deploy(repo)
    assert clean.warnings == []  # type: ignore[attr-defined]
    assert f"Publish site from {head}\n" in _message(repo)
    (repo / "content/a.json").write_text(json.dumps(native_trace(8, seed=2)))
    (repo / "content/new.json").write_text(json.dumps(native_trace(8, seed=3)))
    dirty = _deploy(repo)
    warnings = dirty.warnings  # type: ignore[attr-defined]
    assert any("uncommitted changes" in w and "content/new.json" in w for w in warnings), warnings
    message = _message(repo)
    assert f"from {head} with uncommitted changes (content/a.json, content/new.json)" in message


def _commit_on_branch(work: Path, branch: str, files: dict[str, str]) -> None:
    """Commit files onto ``branch`` by hand, as a GitHub web edit would (plumbing only)."""
    env = dict(os.environ, GIT_INDEX_FILE=str(work / ".git/hand-index"))
    run = lambda *a, **kw: subprocess.run(  # noqa: E731
        ["git", *a], cwd=work, env=env, capture_output=True, text=True, check=True, **kw
    ).stdout.strip()
    run("read-tree", branch)
    for name, text in files.items():
        blob = run("hash-object", "-w", "--stdin", input=text)
        run("update-index", "--add", "--cacheinfo", f"100644,{blob},{name}")
    tree = run("write-tree")
    commit = run("commit-tree", tree, "-p", branch, "-m", "Add verification file")
    run("update-ref", f"refs/heads/{branch}", commit)
    run("push", "-q", "origin", f"{branch}:{branch}")


def test_deploy_keeps_files_on_the_branch_it_did_not_write(repo: Path) -> None:
    _deploy(repo)
    _commit_on_branch(
        repo, "gh-pages", {"google1234.html": "google-site-verification", "keybase.txt": "k"}
    )
    (repo / "content/b.json").write_text(json.dumps(native_trace(8, seed=4)))
    git("add", ".", cwd=repo)
    git("commit", "-q", "-m", "b", cwd=repo)
    second = _deploy(repo)
    warnings = second.warnings  # type: ignore[attr-defined]
    assert any("kept 2 file(s)" in w and "google1234.html" in w for w in warnings), warnings
    files = set(git("ls-tree", "-r", "--name-only", "gh-pages", cwd=repo).splitlines())
    assert {"google1234.html", "keybase.txt", "traces/b/index.html"} <= files
    assert 'Kept-file: "google1234.html"' in _message(repo)

    (repo / "content/b.json").unlink()  # a page tracesite wrote goes; the foreign files stay
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "no b", cwd=repo)
    third = _deploy(repo)
    files = set(git("ls-tree", "-r", "--name-only", "gh-pages", cwd=repo).splitlines())
    assert "traces/b/index.html" not in files
    assert {"google1234.html", "keybase.txt"} <= files
    assert any("google1234.html" in w for w in third.warnings)  # type: ignore[attr-defined]
