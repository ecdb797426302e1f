"""Output safety (SPEC §13): tracesite never deletes outside its output folder, refuses folders it
must not write into, and a build killed half-way leaves the previous site usable.

The refusals run the real CLI (``build``, ``build --clean``, ``deploy``). The interrupted builds
start ``tracesite build`` as a subprocess over a complete site, wait until the new build has
replaced a page (a file-system event, watched with watchdog), SIGKILL its process group, and look
at what is left.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from conftest import native_trace
from htmlcheck import parse

MARKER = ".tracesite-build"
PRECIOUS = "keep me: written by the user, not by tracesite"


def run(
    *args: str, cwd: Path, home: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """The real ``tracesite`` command; ``home`` replaces $HOME for it."""
    env = dict(os.environ)
    if home is not None:
        env["HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "tracesite", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (symlinks not followed) and its bytes."""
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            out[path.relative_to(folder).as_posix()] = path.read_bytes()
    return out


def refused(r: subprocess.CompletedProcess[str]) -> bool:
    return r.returncode == 1 and "refusing" in r.stderr and "Traceback" not in r.stderr


@pytest.fixture
def project(make_project: Callable[..., Path]) -> Path:
    proj = make_project({"content/a.json": native_trace(8), "content/a.md": "# A\n\nnote\n"})
    (proj / "notes.txt").write_text(PRECIOUS)
    return proj


# -- refused output folders ------------------------------------------------------------------------


@pytest.mark.parametrize("clean", [False, True], ids=["build", "build --clean"])
@pytest.mark.parametrize(
    "where",
    ["project", "content", "parent", "grandparent", "root", "home", "inside-content", "dotdot"],
)
def test_dangerous_output_folders_are_refused_and_nothing_is_touched(
    project: Path, tmp_path: Path, where: str, clean: bool
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".bashrc").write_text(PRECIOUS)
    target = {
        "project": str(project),
        "content": str(project / "content"),
        "parent": str(project.parent),
        "grandparent": str(project.parent.parent),
        "root": "/",
        "home": str(home),
        "inside-content": str(project / "content/site"),
        "dotdot": "..",  # relative to the project, where the command runs
    }[where]
    before_project, before_home = snapshot(project), snapshot(home)
    r = run("build", *(["--clean"] if clean else []), "-o", target, cwd=project, home=home)
    assert refused(r), r.stderr
    line = next(ln for ln in r.stderr.splitlines() if "refusing" in ln)
    named = str((project / target).resolve()) if target == ".." else target
    assert line.startswith(f"{named}: refusing") or where == "root", line
    assert snapshot(project) == before_project
    assert snapshot(home) == before_home
    assert not (project / "content/site").exists()


@pytest.mark.parametrize("output_dir", [".", "..", "content", "/", "content/public"])
def test_dangerous_output_dir_in_the_config_is_refused(project: Path, output_dir: str) -> None:
    (project / "tracesite.toml").write_text(f'[build]\noutput_dir = "{output_dir}"\n')
    before = snapshot(project)
    for args in (("build",), ("build", "--clean")):
        r = run(*args, cwd=project)
        assert refused(r), r.stderr
    assert snapshot(project) == before


def test_home_folder_refused_even_when_empty(project: Path, tmp_path: Path) -> None:
    home = tmp_path / "empty-home"
    home.mkdir()
    r = run("build", "-o", str(home), cwd=project, home=home)
    assert refused(r) and "home folder" in r.stderr
    assert list(home.iterdir()) == []


@pytest.mark.parametrize("clean", [False, True], ids=["build", "build --clean"])
def test_a_non_empty_folder_tracesite_did_not_write_is_refused(
    project: Path, tmp_path: Path, clean: bool
) -> None:
    foreign = tmp_path / "thesis"
    (foreign / "chapters").mkdir(parents=True)
    (foreign / "chapters/1.tex").write_text(PRECIOUS)
    (foreign / "index.html").write_text(PRECIOUS)  # even one that looks like a site
    before = snapshot(foreign)
    r = run("build", *(["--clean"] if clean else []), "-o", str(foreign), cwd=project)
    assert r.returncode == 1 and "not written by tracesite" in r.stderr, r.stderr
    assert snapshot(foreign) == before


def test_an_empty_folder_is_used_and_then_owned(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "empty"
    out.mkdir()
    r = run("build", "-o", str(out), cwd=project)
    assert r.returncode == 0, r.stderr
    assert (out / MARKER).is_file() and (out / "traces/a/index.html").is_file()
    r = run("build", "--clean", "-o", str(out), cwd=project)
    assert r.returncode == 0, r.stderr


# -- symlinks ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("points_to", ["project", "content", "parent", "foreign"])
def test_a_symlinked_output_folder_is_judged_by_where_it_points(
    project: Path, tmp_path: Path, points_to: str
) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "data.csv").write_text(PRECIOUS)
    target = {
        "project": project,
        "content": project / "content",
        "parent": project.parent,
        "foreign": foreign,
    }[points_to]
    link = tmp_path / "out-link"
    link.symlink_to(target, target_is_directory=True)
    before = snapshot(tmp_path)
    for args in (("build", "-o", str(link)), ("build", "--clean", "-o", str(link))):
        r = run(*args, cwd=project)
        assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
        assert "refusing" in r.stderr or "not written by tracesite" in r.stderr
    assert snapshot(tmp_path) == before


def test_a_symlinked_output_folder_to_an_empty_folder_works(project: Path, tmp_path: Path) -> None:
    real = tmp_path / "real-out"
    real.mkdir()
    link = tmp_path / "out-link"
    link.symlink_to(real, target_is_directory=True)
    r = run("build", "-o", str(link), cwd=project)
    assert r.returncode == 0, r.stderr
    assert (real / "traces/a/index.html").is_file()
    assert link.is_symlink(), "the link itself is left alone"


def test_clean_never_follows_symlinks_out_of_the_site(project: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    (outside / "deep").mkdir(parents=True)
    (outside / "deep/precious.txt").write_text(PRECIOUS)
    (outside / "top.txt").write_text(PRECIOUS)
    assert run("build", cwd=project).returncode == 0
    site = project / "site"
    (site / "linked-dir").symlink_to(outside, target_is_directory=True)
    (site / "assets/linked-file.txt").symlink_to(outside / "top.txt")
    (site / "assets/nested").mkdir()
    (site / "assets/nested/up").symlink_to(outside, target_is_directory=True)
    before = snapshot(outside)
    r = run("build", "--clean", cwd=project)
    assert r.returncode == 0, r.stderr
    assert snapshot(outside) == before
    assert not (site / "linked-dir").exists() and not (site / "linked-dir").is_symlink()
    assert (site / "traces/a/index.html").is_file()


def test_stale_file_removal_stays_inside_the_site_whatever_the_marker_says(
    project: Path, tmp_path: Path
) -> None:
    """The marker lists what the last build wrote, and files no longer written are removed. A
    marker edited by hand (or by a hostile archive) must not make tracesite delete elsewhere."""
    outside = tmp_path / "victim.txt"
    outside.write_text(PRECIOUS)
    assert run("build", cwd=project).returncode == 0
    site = project / "site"
    (site / "escape.html").symlink_to(outside)
    marker = json.loads((site / MARKER).read_text())
    for name in (
        "../notes.txt",
        "../../victim.txt",
        str(outside),
        "escape.html",
        "../content/a.md",
    ):
        marker["files"][name] = "0" * 40
    (site / MARKER).write_text(json.dumps(marker))
    r = run("build", cwd=project)
    assert r.returncode == 0, r.stderr
    assert outside.read_text() == PRECIOUS
    assert (project / "notes.txt").read_text() == PRECIOUS
    assert (project / "content/a.md").is_file()


# -- deploy refuses what build refuses --------------------------------------------------------------


def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.mark.parametrize("output_dir", [".", "..", "content", "/"])
def test_deploy_refuses_a_dangerous_output_folder(
    project: Path, tmp_path: Path, output_dir: str
) -> None:
    remote = tmp_path / "remote.git"
    _git("init", "--bare", "-q", str(remote), cwd=tmp_path)
    _git("init", "-q", "-b", "main", cwd=project)
    _git(
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@t",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "x",
        cwd=project,
    )
    _git("remote", "add", "origin", str(remote), cwd=project)
    (project / "tracesite.toml").write_text(f'[build]\noutput_dir = "{output_dir}"\n')
    before = snapshot(project)
    r = run("deploy", cwd=project)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert "refusing" in r.stderr
    after = snapshot(project)
    assert {k: v for k, v in after.items() if not k.startswith(".git/")} == {
        k: v for k, v in before.items() if not k.startswith(".git/")
    }
    assert _git("branch", "--list", "gh-pages", cwd=remote) == ""


# -- interrupted builds ----------------------------------------------------------------------------

N_TRACES = 240


def _gallery(make_project: Callable[..., Path], model: str) -> Path:
    files: dict[str, object] = {
        f"content/t{i:03d}.json": native_trace(40, seed=i, model=model) for i in range(N_TRACES)
    }
    files["content/about.md"] = "# About\n\nA page.\n"
    return make_project(files)


def _rewrite(project: Path, model: str) -> None:
    for i in range(N_TRACES):
        path = project / f"content/t{i:03d}.json"
        path.write_text(json.dumps(native_trace(40, seed=i, model=model)))


class _PageWatch(FileSystemEventHandler):
    """Sets ``seen`` once ``path`` exists with ``needle`` in it (looked at on every event: atomic
    writes arrive as renames, and a new folder's first files may precede its watch)."""

    def __init__(self, path: Path, needle: str) -> None:
        self.path, self.needle = str(path), needle
        self.seen = threading.Event()

    def on_any_event(self, event: FileSystemEvent) -> None:
        if self.seen.is_set():
            return
        try:
            if self.needle in Path(self.path).read_text(encoding="utf-8"):
                self.seen.set()
        except OSError:
            pass  # not written yet


@contextmanager
def watching(root: Path, path: Path, needle: str) -> Iterator[threading.Event]:
    """An event set when ``path`` holds ``needle``. Any event under ``root`` (recursively) makes
    the handler look, so a page written into a folder created a moment earlier is not missed."""
    handler = _PageWatch(path, needle)
    observer = Observer()
    observer.schedule(handler, str(root), recursive=True)
    observer.start()
    try:
        yield handler.seen
    finally:
        observer.stop()
        observer.join(timeout=10)


def _kill_build_when(project: Path, args: list[str], page: Path, needle: str) -> str:
    """Start ``tracesite build`` and SIGKILL its process group once ``page`` holds ``needle``.
    Returns its stderr; fails if the build finished before it could be killed."""
    err = project.parent / "killed-build.err"
    with watching(project, page, needle) as seen, err.open("w") as fe:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tracesite", "build", *args],
            cwd=project,
            stdout=subprocess.DEVNULL,
            stderr=fe,
            start_new_session=True,  # its own process group: the worker processes die with it
        )
        try:
            assert seen.wait(timeout=600), "the build never wrote the page"
            os.killpg(proc.pid, signal.SIGKILL)
        finally:
            proc.wait(timeout=60)
    stderr = err.read_text()
    assert proc.returncode == -signal.SIGKILL, f"the build ended by itself first:\n{stderr}"
    assert " errors in " not in stderr, "the build finished before the kill"
    return stderr


def assert_usable(site: Path, pages: list[str]) -> None:
    """Every listed page exists and parses as a whole page; every local link of the index and of
    each page resolves to a file."""
    for rel in pages:
        path = site / rel
        assert path.is_file(), f"{rel} is gone"
        text = path.read_text(encoding="utf-8")
        assert text.rstrip().endswith("</html>"), f"{rel} is cut short"
        parsed = parse(text)
        for link in parsed.links():
            if re.match(r"^[a-z]+:|^#|^//", link):
                continue
            plain = link.split("#")[0].split("?")[0]
            # 404.html links from the site root (it is served at any depth); the rest relatively
            base = site if plain.startswith("/") else path.parent
            target = (base / plain.lstrip("/")).resolve()
            if link.endswith("/"):
                target = target / "index.html"
            assert target.exists(), f"{rel} links to {link}, which is missing"


def _pages(site: Path) -> list[str]:
    return sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html"))


def _model_of(page: Path) -> str:
    m = re.search(r'<span class="model">([^<]*)</span>', page.read_text(encoding="utf-8"))
    assert m, page
    return m.group(1)


@pytest.mark.slow
def test_a_build_killed_half_way_leaves_the_previous_site_usable(
    make_project: Callable[..., Path],
) -> None:
    proj = _gallery(make_project, "model-A")
    r = run("build", cwd=proj, timeout=900)
    assert r.returncode == 0, r.stderr
    site = proj / "site"
    old_pages = _pages(site)
    assert len(old_pages) >= N_TRACES
    _rewrite(proj, "model-B")
    _kill_build_when(proj, [], site / "traces/t000/index.html", "model-B")
    assert_usable(site, old_pages)
    # a mix of old and new pages, each whole: the kill really came half-way
    models = {_model_of(site / f"traces/t{i:03d}/index.html") for i in (0, N_TRACES - 1)}
    assert models == {"model-A", "model-B"}, models

    # the next build completes the site; no temporary file is left behind
    r = run("build", cwd=proj, timeout=900)
    assert r.returncode == 0, r.stderr
    assert_usable(site, _pages(site))
    assert {_model_of(site / f"traces/t{i:03d}/index.html") for i in range(N_TRACES)} == {"model-B"}
    assert not list(site.rglob(".tmp-*")), "temporary files of the killed build are left"


@pytest.mark.slow
def test_after_a_killed_build_reverting_the_input_rebuilds_the_page(
    make_project: Callable[..., Path],
) -> None:
    """The killed build rewrote t000 from new input; the user reverts the input. The next build
    must not trust the old record of t000 (same input as the record) and keep the new page."""
    proj = _gallery(make_project, "model-A")
    assert run("build", cwd=proj, timeout=900).returncode == 0
    site = proj / "site"
    _rewrite(proj, "model-B")
    _kill_build_when(proj, [], site / "traces/t000/index.html", "model-B")
    _rewrite(proj, "model-A")
    r = run("build", cwd=proj, timeout=900)
    assert r.returncode == 0, r.stderr
    assert _model_of(site / "traces/t000/index.html") == "model-A"


@pytest.mark.slow
def test_a_clean_build_killed_half_way_leaves_the_previous_site_usable(
    make_project: Callable[..., Path],
) -> None:
    proj = _gallery(make_project, "model-A")
    assert run("build", cwd=proj, timeout=900).returncode == 0
    site = proj / "site"
    old_pages = _pages(site)
    _rewrite(proj, "model-B")
    _kill_build_when(proj, ["--clean"], site / "traces/t000/index.html", "model-B")
    assert_usable(site, old_pages)


@pytest.mark.slow
def test_a_first_build_killed_half_way_does_not_lock_the_folder(
    make_project: Callable[..., Path],
) -> None:
    """Killed before it finished, the first build must not leave a folder the next build refuses
    as "not written by tracesite"."""
    proj = _gallery(make_project, "model-A")
    site = proj / "site"
    _kill_build_when(proj, [], site / "traces/t000/index.html", "model-A")
    r = run("build", cwd=proj, timeout=900)
    assert r.returncode == 0, r.stderr
    assert_usable(site, _pages(site))


def test_deploy_refuses_a_folder_whose_last_build_did_not_finish(tmp_path: Path) -> None:
    """A killed build leaves the record marked incomplete; publishing it would ship a mix."""
    from tracesite.build.writer import MARKER, SiteWriter
    from tracesite.core.errors import DeployError
    from tracesite.deploy.publish import DeployOptions, deploy_project

    proj = tmp_path / "p"
    (proj / "content").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(proj)], check=True)
    bare = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    subprocess.run(["git", "-C", str(proj), "remote", "add", "origin", str(bare)], check=True)
    SiteWriter(proj / "site")  # a build that started and was killed before finish()
    assert '"complete": false' in (proj / "site" / MARKER).read_text()
    with pytest.raises(DeployError, match="did not finish"):
        deploy_project(proj, DeployOptions(build=False, quiet=True))
    refs = subprocess.run(["git", "-C", str(bare), "branch", "-a"], capture_output=True, text=True)
    assert refs.stdout.strip() == ""  # nothing pushed
