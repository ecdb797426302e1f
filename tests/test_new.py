"""`tracesite new`: the scaffolded project, its GitHub Pages workflow, and the packaged template."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

import tracesite
from tracesite.commands.install_spec import install_spec
from tracesite.commands.new import new_project
from tracesite.core.config import load_config
from tracesite.core.errors import TracesiteError

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "src/tracesite/commands/scaffold"
Cli = Callable[..., subprocess.CompletedProcess[str]]


def scaffold(directory: Path) -> Path:
    new_project(directory, echo=lambda _line: None)
    return directory


def load_workflow(path: Path) -> dict[Any, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    # YAML 1.1 reads the bare key `on` as the boolean True (GitHub reads it as "on")
    if True in data:
        data["on"] = data.pop(True)
    return data


def steps_using(workflow: dict[Any, Any], action: str) -> list[tuple[str, dict[str, Any]]]:
    """(job name, step) for every step that uses ``action`` (any version)."""
    return [
        (name, step)
        for name, job in workflow["jobs"].items()
        for step in job.get("steps", [])
        if str(step.get("uses", "")).split("@")[0] == action
    ]


def build_step(workflow: dict[Any, Any]) -> dict[str, Any]:
    [step] = [
        s
        for job in workflow["jobs"].values()
        for s in job.get("steps", [])
        if "tracesite build" in str(s.get("run", ""))
    ]
    return step


def check_pages_workflow(workflow: dict[Any, Any]) -> None:
    """What both workflows must do to publish with the official Pages actions."""
    assert "push" in workflow["on"] and "workflow_dispatch" in workflow["on"]
    assert workflow["permissions"]["pages"] == "write"
    assert workflow["permissions"]["id-token"] == "write"
    assert workflow["concurrency"]["group"]
    [(job, configure)] = steps_using(workflow, "actions/configure-pages")
    [(upload_job, upload)] = steps_using(workflow, "actions/upload-pages-artifact")
    [(deploy_job, deploy)] = steps_using(workflow, "actions/deploy-pages")
    assert job == upload_job != deploy_job
    assert workflow["jobs"][deploy_job]["needs"] == upload_job
    assert workflow["jobs"][deploy_job]["environment"]["name"] == "github-pages"
    # the base URL the Pages action provides is passed to the build as --base-url
    build = build_step(workflow)
    assert f"steps.{configure['id']}.outputs.base_url" in build["env"]["BASE_URL"]
    args = shlex.split(build["run"])
    assert args[args.index("--base-url") + 1] == "$BASE_URL/"
    # and the folder built is the folder uploaded
    assert args[args.index("--output") + 1] == upload["with"]["path"]
    steps = workflow["jobs"][job]["steps"]
    assert steps.index(configure) < steps.index(build) < steps.index(upload)
    assert deploy["id"] in workflow["jobs"][deploy_job]["environment"]["url"]


def test_new_writes_a_complete_project(tmp_path: Path) -> None:
    project = scaffold(tmp_path / "my-traces")
    for rel in (
        "tracesite.toml",
        "README.md",
        ".gitignore",
        ".github/workflows/pages.yml",
        "content/example.json",
        "content/example.md",
        "content/about.md",
    ):
        assert (project / rel).is_file(), rel
    ignored = (project / ".gitignore").read_text().split()
    assert "site/" in ignored and ".tracesite-cache/" in ignored
    assert "# My traces" in (project / "README.md").read_text()
    assert "__" not in (project / "README.md").read_text()  # every placeholder filled


def test_config_has_every_spec_key_with_its_default(tmp_path: Path) -> None:
    project = scaffold(tmp_path / "my-traces")
    text = (project / "tracesite.toml").read_text()
    data = tomllib.loads(text)
    assert data["site"]["title"] == "My traces"
    assert data["site"]["base_url"] == "/"
    assert data["build"] == {"content_dir": "content", "output_dir": "site", "theme": "default"}
    assert data["heatmap"] == {
        "columns": 20,
        "alternatives": 3,
        "color_by": "probability",
        "low_confidence": 0.5,
    }
    assert text.count("#") >= 10  # commented for a newcomer
    config = load_config(project)  # tracesite itself accepts it
    assert config.site.title == "My traces"


def test_title_with_quotes_stays_valid_toml(tmp_path: Path) -> None:
    project = scaffold(tmp_path / 'Bob\'s "evals"')
    assert load_config(project).site.title == 'Bob\'s "evals"'


def test_example_content_reads(tmp_path: Path) -> None:
    project = scaffold(tmp_path / "p")
    [trace] = tracesite.load(project / "content/example.json")
    assert trace.n_tokens > 20
    assert trace.stats.min_prob < 0.7 < trace.stats.mean_prob  # something worth a note
    assert (project / "content/example.md").read_text().startswith("---\ntitle:")


def test_new_refuses_a_non_empty_folder_and_writes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "busy"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(TracesiteError, match="not empty"):
        scaffold(target)
    assert [p.name for p in target.iterdir()] == ["notes.txt"]
    assert (target / "notes.txt").read_text() == "mine"


def test_new_refuses_a_file_in_the_way(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(TracesiteError, match="not a folder"):
        scaffold(tmp_path / "file")


def test_new_accepts_an_empty_folder_or_a_fresh_git_repository(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    scaffold(tmp_path / "empty")
    subprocess.run(["git", "init", "-q", str(tmp_path / "repo")], check=True)
    scaffold(tmp_path / "repo")
    assert (tmp_path / "repo/.github/workflows/pages.yml").is_file()


def test_cli_new_exit_codes(tmp_path: Path, cli: Cli) -> None:
    r = cli("new", str(tmp_path / "site-a"))
    assert r.returncode == 0, r.stderr
    assert "tracesite serve" in r.stdout
    r = cli("new", str(tmp_path / "site-a"))
    assert r.returncode == 1
    assert "not empty" in r.stderr and "Traceback" not in r.stderr


def test_scaffold_workflow_publishes_with_the_pages_actions(tmp_path: Path) -> None:
    project = scaffold(tmp_path / "p")
    workflow = load_workflow(project / ".github/workflows/pages.yml")
    check_pages_workflow(workflow)
    # tracesite is installed by one commented, changeable spec: the one that made the project
    # (this checkout has no GitHub remote: the version pin, with the line to change stated)
    assert workflow["env"]["TRACESITE_SPEC"] == install_spec(tracesite.__version__)
    installs = [
        s["run"]
        for s in workflow["jobs"]["build"]["steps"]
        if "pip install" in str(s.get("run", ""))
    ]
    assert len(installs) == 1
    assert installs[0].startswith('python -m pip install "$TRACESITE_SPEC" ||')
    assert "::error::" in installs[0] and "git+https://github.com/OWNER/tracesite" in installs[0]
    raw = (project / ".github/workflows/pages.yml").read_text()
    assert "# The tracesite to install" in raw
    assert (
        'change\n  # this one line to "tracesite @ git+https://github.com/OWNER/tracesite"' in raw
    )


def test_the_workflow_install_step_names_the_line_to_change_when_it_fails(tmp_path: Path) -> None:
    """The step's shell, run with a pip that fails (tracesite is not on PyPI yet)."""
    project = scaffold(tmp_path / "p")
    workflow = load_workflow(project / ".github/workflows/pages.yml")
    [run] = [s["run"] for s in workflow["jobs"]["build"]["steps"] if "pip" in str(s.get("run"))]
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "python").write_text("#!/bin/sh\necho ERROR: No matching distribution >&2\nexit 1\n")
    (fake / "python").chmod(0o755)
    env = {"PATH": f"{fake}:/usr/bin:/bin", "TRACESITE_SPEC": workflow["env"]["TRACESITE_SPEC"]}
    out = subprocess.run(["bash", "-e", "-c", run], capture_output=True, text=True, env=env)
    assert out.returncode == 1
    assert "::error::cannot install tracesite" in out.stdout
    assert "set TRACESITE_SPEC at the top of .github/workflows/pages.yml" in out.stdout


def test_install_spec_follows_where_tracesite_came_from(tmp_path: Path) -> None:
    git_install = {
        "url": "https://github.com/octo/tracesite.git",
        "vcs_info": {"vcs": "git", "commit_id": "abc123"},
    }
    assert install_spec("0.1", git_install) == (
        "tracesite @ git+https://github.com/octo/tracesite.git@abc123"
    )
    assert install_spec("0.1", {"url": "https://files.example/t.whl", "archive_info": {}}) == (
        "tracesite==0.1"
    )
    # a clone whose origin is on GitHub: that repository, at the commit when the remote has it
    clone = tmp_path / "clone"
    subprocess.run(["git", "init", "-q", str(clone)], check=True)
    run = lambda *a: subprocess.run(["git", "-C", str(clone), *a], check=True, capture_output=True)  # noqa: E731
    run("-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q", "--allow-empty", "-m", "x")
    run("remote", "add", "origin", "git@github.com:octo/tracesite.git")
    local = {"url": clone.as_uri(), "dir_info": {"editable": True}}
    assert install_spec("0.1", local) == "tracesite @ git+https://github.com/octo/tracesite"
    run("update-ref", "refs/remotes/origin/main", "HEAD")  # pushed
    head = subprocess.run(
        ["git", "-C", str(clone), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    assert install_spec("0.1", local) == f"tracesite @ git+https://github.com/octo/tracesite@{head}"
    # the scaffold's README says to make a venv first (Debian/Ubuntu refuse pip outside one)
    readme = (scaffold(tmp_path / "p") / "README.md").read_text()
    assert "python3 -m venv .venv" in readme and "__TRACESITE_SPEC__" not in readme


def test_repository_demo_workflow_installs_this_checkout() -> None:
    path = REPO / ".github/workflows/pages.yml"
    workflow = load_workflow(path)
    check_pages_workflow(workflow)
    installs = [
        s["run"]
        for s in workflow["jobs"]["build"]["steps"]
        if "pip install" in str(s.get("run", ""))
    ]
    assert installs == ["python -m pip install ."]


def test_scaffolded_project_builds_as_the_workflow_builds_it(tmp_path: Path, cli: Cli) -> None:
    project = scaffold(tmp_path / "gallery")
    r = cli("build", cwd=project)
    assert r.returncode == 0, r.stdout + r.stderr
    site = project / "site"
    for rel in ("index.html", "traces/example/index.html", "about/index.html", ".nojekyll"):
        assert (site / rel).is_file(), rel
    assert "17 × 24" in (site / "traces/example/index.html").read_text(encoding="utf-8")
    # the exact command line of the workflow, with the base URL configure-pages would give
    workflow = load_workflow(project / ".github/workflows/pages.yml")
    run = build_step(workflow)["run"].replace("$BASE_URL", "https://octo.github.io/gallery")
    args = shlex.split(run)
    assert args[:2] == ["tracesite", "build"]
    shutil.rmtree(site)
    r = cli(*args[1:], cwd=project)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (site / "traces/example/index.html").is_file()


@pytest.mark.slow
def test_wheel_ships_the_template(tmp_path: Path) -> None:
    """The template must be package data, or `tracesite new` breaks for pip-installed users."""
    src = tmp_path / "src-copy"  # build a copy: never write build/ or egg-info into the checkout
    src.mkdir()
    shutil.copy(REPO / "pyproject.toml", src)
    shutil.copytree(REPO / "src", src / "src", ignore=shutil.ignore_patterns("*.egg-info"))
    shutil.copytree(REPO / "themes", src / "themes")
    readme = REPO / "README.md"
    (src / "README.md").write_text(readme.read_text() if readme.is_file() else "tracesite\n")
    out = tmp_path / "wheel"
    r = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(src)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    [wheel] = out.glob("tracesite-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        "tracesite/commands/scaffold/" + p.relative_to(TEMPLATE).as_posix()
        for p in TEMPLATE.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert "tracesite/commands/scaffold/dot-github/workflows/pages.yml" in expected
    assert expected <= names, sorted(expected - names)
    assert "tracesite/commands/new.py" in names
    assert "tracesite/serve/livereload.js" in names  # the dev server's browser client
    # the built-in theme ships too (SPEC §3: themes/default/ inside the wheel)
    theme = {
        "tracesite/themes/" + p.relative_to(REPO / "themes").as_posix()
        for p in (REPO / "themes").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert "tracesite/themes/default/templates/trace.html" in theme
    assert "tracesite/themes/default/static/gallery.js" in theme
    assert theme <= names, sorted(theme - names)
