"""`tracesite deploy` against a real local bare repository as the remote (real git, no network)."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import native_trace
from tracesite.cli import main
from tracesite.core.errors import DeployError, ErrorCollection, TracesiteError
from tracesite.deploy import publish as deploy_mod
from tracesite.deploy.publish import (
    DeployOptions,
    DeployResult,
    base_url_mismatch,
    deploy_project,
    pages_url,
)

SITE_FILES = {
    "index.html": "<h1>gallery</h1>",
    "404.html": "<h1>not found</h1>",
    "traces/run1/index.html": "<h1>run 1</h1>",
    "traces/run2/index.html": "<h1>run 2</h1>",
    "assets/app.js": "console.log(1)",
    ".nojekyll": "",
}


def git(*args: str, cwd: Path) -> str:
    out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return out.stdout.strip()


@pytest.fixture(autouse=True)
def hermetic_git(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Known identity and no user/system git config leaking into the tests."""
    cfg = tmp_path_factory.mktemp("gitconfig") / "gitconfig"
    cfg.write_text(
        "[user]\n\tname = Test\n\temail = test@example.com\n[init]\n\tdefaultBranch = main\n"
    )
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(cfg))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_TERMINAL_PROMPT", "0")


def write_site(site: Path, files: dict[str, str]) -> None:
    """A built site as `tracesite build` leaves it: the files plus the .tracesite-build marker."""
    for rel, text in files.items():
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_text(text, encoding="utf-8")
    marker = {"generator": "tracesite", "files": {rel: "x" for rel in files}}
    (site / ".tracesite-build").write_text(json.dumps(marker), encoding="utf-8")


class Repo:
    """A user's repository (``work``) whose ``origin`` is a local bare repository."""

    def __init__(self, root: Path) -> None:
        self.remote = root / "remote.git"
        self.work = root / "work"
        root.mkdir(parents=True, exist_ok=True)
        git("init", "--bare", "-q", str(self.remote), cwd=root)
        git("init", "-q", str(self.work), cwd=root)
        (self.work / "README.md").write_text("my project\n")
        (self.work / ".gitignore").write_text("site/\n")
        git("add", "README.md", ".gitignore", cwd=self.work)
        git("commit", "-q", "-m", "start", cwd=self.work)
        git("remote", "add", "origin", str(self.remote), cwd=self.work)
        self.site = self.work / "site"

    def published(self, branch: str = "gh-pages") -> set[str]:
        """The files of the branch on the remote, as `git ls-tree` on the bare repository sees."""
        out = git("ls-tree", "-r", "--name-only", branch, cwd=self.remote)
        return set(out.splitlines())

    def remote_branches(self) -> list[str]:
        return git("for-each-ref", "--format=%(refname)", "refs/heads", cwd=self.remote).split()

    def show(self, path: str, branch: str = "gh-pages") -> str:
        return git("show", f"{branch}:{path}", cwd=self.remote)

    def user_state(self) -> dict[str, str]:
        """Everything of the user's checkout deploy must leave alone."""
        return {
            "head": git("rev-parse", "HEAD", cwd=self.work),
            "branch": git("symbolic-ref", "HEAD", cwd=self.work),
            "status": git("status", "--porcelain", "--ignored", cwd=self.work),
            "index": git("ls-files", "--stage", cwd=self.work),
            "staged": git("diff", "--cached", cwd=self.work),
            "unstaged": git("diff", cwd=self.work),
        }


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    r = Repo(tmp_path)
    write_site(r.site, SITE_FILES)
    return r


def deploy(repo: Repo, **options: object) -> DeployResult:
    opts = DeployOptions(**{"build": False, "quiet": True, **options})  # type: ignore[arg-type]
    return deploy_project(repo.work, opts)


def expected(files: dict[str, str]) -> set[str]:
    return set(files) | {".nojekyll"}


def test_first_deploy_publishes_the_site_and_leaves_the_checkout_alone(repo: Repo) -> None:
    # a user mid-work: a staged change, an unstaged change, an untracked file
    (repo.work / "staged.txt").write_text("staged\n")
    git("add", "staged.txt", cwd=repo.work)
    (repo.work / "README.md").write_text("edited, not staged\n")
    (repo.work / "untracked.txt").write_text("untracked\n")
    before = repo.user_state()
    files_before = {
        p: p.read_bytes() for p in repo.work.rglob("*") if p.is_file() and ".git" not in p.parts
    }

    result = deploy(repo)

    assert repo.published() == expected(SITE_FILES)
    assert ".tracesite-build" not in repo.published()  # tracesite's record is not published
    assert repo.show("traces/run1/index.html") == "<h1>run 1</h1>"
    assert result.commit == git("rev-parse", "gh-pages", cwd=repo.remote)
    assert result.n_files == len(SITE_FILES)
    assert repo.user_state() == before
    files_after = {
        p: p.read_bytes() for p in repo.work.rglob("*") if p.is_file() and ".git" not in p.parts
    }
    assert files_after == files_before
    # the local branch follows the remote, and the source commit is named in the message
    assert git("rev-parse", "gh-pages", cwd=repo.work) == result.commit
    assert before["head"][:12] in git("log", "-1", "--format=%B", "gh-pages", cwd=repo.remote)


def test_second_deploy_removes_deleted_pages_and_keeps_history(repo: Repo) -> None:
    first = deploy(repo)
    (repo.site / "traces/run2/index.html").unlink()
    (repo.site / "traces/run2").rmdir()
    write_site(repo.site, {"traces/run3/index.html": "<h1>run 3</h1>"})

    second = deploy(repo, message="second deploy")

    published = repo.published()
    assert "traces/run2/index.html" not in published
    assert "traces/run3/index.html" in published
    assert "traces/run1/index.html" in published
    assert git("rev-parse", "gh-pages^", cwd=repo.remote) == first.commit
    assert git("log", "-1", "--format=%s", "gh-pages", cwd=repo.remote) == "second deploy"
    assert second.changed


def test_deploying_an_unchanged_site_adds_no_commit(repo: Repo) -> None:
    first = deploy(repo)
    again = deploy(repo)
    assert not again.changed
    assert again.commit == first.commit == git("rev-parse", "gh-pages", cwd=repo.remote)


def test_cname_is_published_kept_and_removable(repo: Repo) -> None:
    result = deploy(repo, cname="https://Docs.Example.com/")
    assert "CNAME" in repo.published()
    assert repo.show("CNAME") == "docs.example.com"
    assert result.url == "https://docs.example.com/"
    # a later deploy without --cname must not drop the custom domain from GitHub Pages
    write_site(repo.site, {"new.html": "new"})
    kept = deploy(repo)
    assert repo.show("CNAME") == "docs.example.com"
    assert kept.url == "https://docs.example.com/"
    deploy(repo, cname="")
    assert "CNAME" not in repo.published()


def test_a_bad_cname_is_refused(repo: Repo) -> None:
    with pytest.raises(DeployError, match="not a domain name"):
        deploy(repo, cname="not a domain")
    assert repo.remote_branches() == []


def test_site_files_ignored_by_git_excludes_are_still_published(repo: Repo) -> None:
    (repo.work / ".git/info/exclude").write_text("*.js\n*.html\n")
    deploy(repo)
    assert repo.published() == expected(SITE_FILES)


def test_project_in_a_subfolder_with_output_outside_the_work_tree(tmp_path: Path) -> None:
    repo = Repo(tmp_path)
    project = repo.work / "gallery"
    project.mkdir()
    (project / "tracesite.toml").write_text('[build]\noutput_dir = "../../public"\n')
    write_site(tmp_path / "public", {"index.html": "hi"})
    before = repo.user_state()
    deploy_project(project, DeployOptions(build=False, quiet=True))
    assert repo.published() == {"index.html", ".nojekyll"}
    assert repo.user_state() == before


def test_failed_build_publishes_nothing(repo: Repo) -> None:
    (repo.work / "content").mkdir()
    (repo.work / "content/good.json").write_text(json.dumps(native_trace(10)))
    (repo.work / "content/broken.json").write_text('{"tracesite": 1, "tokens": [{"text": 5}]}')
    with pytest.raises(TracesiteError) as info:
        deploy_project(repo.work, DeployOptions(quiet=True))
    assert "broken.json" in str(info.value)  # the build's own error, with its address
    assert "nothing was published" in str(info.value)
    assert repo.remote_branches() == []
    assert git("branch", "--list", "gh-pages", cwd=repo.work) == ""
    # on the command line too: the build's errors, the refusal, exit 1, no traceback
    result = CliRunner().invoke(main, ["deploy", str(repo.work)])
    assert result.exit_code == 1
    assert "broken.json" in result.output and "nothing was published" in result.output
    assert "Traceback" not in result.output
    assert repo.remote_branches() == []


def test_deploy_builds_the_project_first(tmp_path: Path) -> None:
    repo = Repo(tmp_path)
    (repo.work / "content").mkdir()
    (repo.work / "content/run1.json").write_text(json.dumps(native_trace(10)))
    deploy_project(repo.work, DeployOptions(quiet=True))
    published = repo.published()
    assert {"index.html", ".nojekyll", "traces/run1/index.html"} <= published
    assert ".tracesite-build" not in published


def test_push_rejected_by_the_remote_is_a_clear_error(repo: Repo) -> None:
    hook = repo.remote / "hooks/pre-receive"
    hook.write_text("#!/bin/sh\necho 'denied by policy' >&2\nexit 1\n")
    hook.chmod(0o755)
    with pytest.raises(DeployError) as info:
        deploy(repo)
    message = str(info.value)
    assert "push" in message and "denied by policy" in message
    assert repo.remote_branches() == []
    # the local branch moves only once the push succeeded
    assert git("branch", "--list", "gh-pages", cwd=repo.work) == ""


def test_remote_ahead_after_another_machine_deployed(repo: Repo, tmp_path: Path) -> None:
    deploy(repo)
    other = Repo(tmp_path / "other")  # another clone deploying to the same remote
    git("remote", "set-url", "origin", str(repo.remote), cwd=other.work)
    git("fetch", "-q", "origin", cwd=other.work)
    write_site(other.site, {"index.html": "from the other machine"})
    deploy(other)

    write_site(repo.site, {"index.html": "mine again"})
    with pytest.raises(DeployError, match="git fetch"):
        deploy(repo)
    git("fetch", "-q", "origin", cwd=repo.work)
    deploy(repo)  # based on the fetched tip, so the push fast-forwards
    assert repo.show("index.html") == "mine again"


def test_fresh_clone_deploys_on_top_of_the_remote_branch(repo: Repo, tmp_path: Path) -> None:
    first = deploy(repo)
    clone = tmp_path / "clone"
    git("clone", "-q", str(repo.remote), str(clone), cwd=tmp_path)
    write_site(clone / "site", {"index.html": "from the clone"})
    result = deploy_project(clone, DeployOptions(build=False, quiet=True))
    assert git("rev-parse", "gh-pages^", cwd=repo.remote) == first.commit
    assert result.commit == git("rev-parse", "gh-pages", cwd=repo.remote)


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda r: (r.site / "link.html").symlink_to(r.site / "index.html"), "symbolic link"),
        (lambda r: (r.site / "sub").symlink_to(r.site / "traces"), "symbolic link"),
        (lambda r: (r.site / "big.bin").write_bytes(b"x" * 2000), "GitHub refuses files over"),
    ],
    ids=["symlinked-file", "symlinked-folder", "file-too-big"],
)
def test_unpublishable_sites_are_refused(
    repo: Repo, monkeypatch: pytest.MonkeyPatch, setup: Callable[[Repo], object], message: str
) -> None:
    monkeypatch.setattr(deploy_mod, "MAX_FILE_BYTES", 1000)
    setup(repo)
    with pytest.raises(ErrorCollection) as info:
        deploy(repo)
    assert message in str(info.value)
    assert "nothing was published" in str(info.value)
    assert repo.remote_branches() == []


def test_site_over_the_size_limit_is_refused_listing_every_problem(
    repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deploy_mod, "MAX_SITE_BYTES", 50)
    (repo.site / "link.html").symlink_to(repo.site / "index.html")
    with pytest.raises(ErrorCollection) as info:
        deploy(repo)
    text = str(info.value)
    assert "GitHub Pages refuses sites over" in text
    assert "symbolic link" in text  # all problems at once, not just the first
    assert repo.remote_branches() == []


def test_a_folder_tracesite_did_not_build_is_refused(repo: Repo) -> None:
    (repo.site / ".tracesite-build").unlink()
    with pytest.raises(DeployError, match="not written by `tracesite build`"):
        deploy(repo)
    assert repo.remote_branches() == []


def test_an_output_folder_containing_the_project_is_refused(repo: Repo) -> None:
    (repo.work / "tracesite.toml").write_text('[build]\noutput_dir = "."\n')
    (repo.work / ".tracesite-build").write_text("{}")  # even with a marker
    with pytest.raises(TracesiteError, match="the project"):
        deploy(repo)
    assert repo.remote_branches() == []


def test_the_checked_out_branch_is_refused(repo: Repo, tmp_path: Path) -> None:
    with pytest.raises(DeployError, match="checked out"):
        deploy(repo, branch="main")
    assert repo.remote_branches() == []
    first = deploy(repo)
    git("worktree", "add", "-q", str(tmp_path / "pages-wt"), "gh-pages", cwd=repo.work)
    write_site(repo.site, {"new.html": "new"})
    with pytest.raises(DeployError, match="another worktree"):
        deploy(repo)
    assert git("rev-parse", "gh-pages", cwd=repo.remote) == first.commit


def test_deploy_from_a_linked_worktree(repo: Repo, tmp_path: Path) -> None:
    wt = tmp_path / "feature-wt"
    git("worktree", "add", "-q", "-b", "feature", str(wt), cwd=repo.work)
    write_site(wt / "site", {"index.html": "from the worktree"})
    deploy_project(wt, DeployOptions(build=False, quiet=True))
    assert repo.show("index.html") == "from the worktree"
    assert git("symbolic-ref", "HEAD", cwd=wt) == "refs/heads/feature"
    assert git("status", "--porcelain", cwd=wt) == ""  # site/ is git-ignored; nothing staged


def test_cli_reports_a_missing_remote_without_a_traceback(repo: Repo) -> None:
    git("remote", "remove", "origin", cwd=repo.work)
    result = CliRunner().invoke(main, ["deploy", str(repo.work), "--no-build"])
    assert result.exit_code == 1
    assert "no git remote named 'origin'" in result.output
    assert "Traceback" not in result.output


def test_cli_outside_a_git_repository(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cli: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    project = tmp_path / "nogit"
    write_site(project / "site", SITE_FILES)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))  # no repository found above
    r = cli("deploy", str(project), "--no-build")
    assert r.returncode == 1
    assert "not inside a git repository" in r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    assert not (project / ".git").exists()


def test_cli_prints_where_the_site_will_be(repo: Repo) -> None:
    # the URL comes from the configured remote URL; pushes go to the local bare repository
    git("remote", "set-url", "origin", "git@github.com:Octo-Cat/trace-notes.git", cwd=repo.work)
    git("remote", "set-url", "--push", "origin", str(repo.remote), cwd=repo.work)
    # base_url is "/" by default: refused, and the user is told the fix
    result = CliRunner().invoke(main, ["deploy", str(repo.work), "--no-build"])
    assert result.exit_code == 1, result.output
    assert "--base-url https://octo-cat.github.io/trace-notes/" in result.output
    assert 'base_url = "https://octo-cat.github.io/trace-notes/"' in result.output
    assert "--force" in result.output and "Traceback" not in result.output
    assert repo.remote_branches() == []  # nothing was pushed
    # --force publishes anyway, and says why it should not have
    result = CliRunner().invoke(main, ["deploy", str(repo.work), "--no-build", "--force"])
    assert result.exit_code == 0, result.output
    assert "https://octo-cat.github.io/trace-notes/" in result.output
    assert "warning" in result.output and "would be wrong there" in result.output
    (repo.work / "tracesite.toml").write_text('[site]\nbase_url = "/trace-notes/"\n')
    result = CliRunner().invoke(main, ["deploy", str(repo.work), "--no-build"])
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output
    assert repo.published() == expected(SITE_FILES)


def test_a_token_in_the_remote_url_is_never_printed(repo: Repo) -> None:
    url = "https://x-access-token:SECRET123@github.com/octo/notes.git"
    (repo.work / "tracesite.toml").write_text(
        '[site]\nbase_url = "https://octo.github.io/notes/"\n'
    )
    git("remote", "set-url", "origin", url, cwd=repo.work)
    git("remote", "set-url", "--push", "origin", str(repo.remote), cwd=repo.work)
    result = CliRunner().invoke(main, ["deploy", str(repo.work), "--no-build"])
    assert result.exit_code == 0, result.output
    assert "https://octo.github.io/notes/" in result.output
    assert "SECRET123" not in result.output
    git(
        "remote",
        "set-url",
        "--push",
        "origin",
        url.replace("github.com", "127.0.0.1:9"),
        cwd=repo.work,
    )
    write_site(repo.site, {"changed.html": "x"})
    result = CliRunner().invoke(main, ["deploy", str(repo.work), "--no-build"])
    assert result.exit_code == 1
    assert "SECRET123" not in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("remote", "url"),
    [
        ("https://github.com/Owner/repo.git", "https://owner.github.io/repo/"),
        ("https://github.com/owner/repo", "https://owner.github.io/repo/"),
        ("https://token@github.com/owner/my.repo.git", "https://owner.github.io/my.repo/"),
        ("git@github.com:owner/repo.git", "https://owner.github.io/repo/"),
        ("ssh://git@github.com/owner/repo.git", "https://owner.github.io/repo/"),
        ("ssh://git@ssh.github.com:443/owner/repo.git", "https://owner.github.io/repo/"),
        ("git@github.com:Owner/owner.github.io.git", "https://owner.github.io/"),
        ("https://github.com/owner/Owner.GitHub.io", "https://owner.github.io/"),
        ("https://gitlab.com/owner/repo.git", None),
        ("/srv/git/repo.git", None),
        ("git@github.com.evil.example:owner/repo.git", None),
    ],
)
def test_pages_url_from_remote(remote: str, url: str | None) -> None:
    assert pages_url(remote) == url


def test_pages_url_with_custom_domain() -> None:
    assert (
        pages_url("git@github.com:owner/repo.git", "docs.example.com")
        == "https://docs.example.com/"
    )


@pytest.mark.parametrize(
    ("base_url", "fits"),
    [
        ("/repo/", True),
        ("/repo", True),
        ("https://owner.github.io/repo/", True),
        ("/", False),
        ("https://owner.github.io/", False),
        ("https://example.com/repo/", False),
    ],
)
def test_base_url_mismatch(base_url: str, fits: bool) -> None:
    assert (base_url_mismatch(base_url, "https://owner.github.io/repo/") is None) == fits


# ------------------------------------------------------------------ base_url refusals (16.4)
def _github_remote(repo: Repo, remote: str = "https://github.com/alice/notes.git") -> None:
    """The configured URL names a GitHub repository; pushes go to the local bare repository."""
    git("remote", "set-url", "origin", remote, cwd=repo.work)
    git("remote", "set-url", "--push", "origin", str(repo.remote), cwd=repo.work)


@pytest.mark.parametrize(
    ("base_url", "why"),
    [
        ("https://bob.github.io/other/", "will be served at https://alice.github.io/notes/"),
        ("http://localhost:8000/", "points at localhost"),
        ("http://127.0.0.1:8000/notes/", "points at 127.0.0.1"),
    ],
)
def test_a_base_url_that_cannot_be_right_is_refused_unless_forced(
    repo: Repo, base_url: str, why: str
) -> None:
    _github_remote(repo)
    (repo.work / "tracesite.toml").write_text(f'[site]\nbase_url = "{base_url}"\n')
    with pytest.raises(DeployError) as err:
        deploy(repo)
    message = str(err.value)
    assert why in message
    assert "--base-url https://alice.github.io/notes/" in message and "--force" in message
    assert repo.remote_branches() == []  # refused before anything was pushed
    result = deploy(repo, force=True)
    assert repo.published() == expected(SITE_FILES)
    assert any(why in w for w in result.warnings)


def test_localhost_is_refused_for_any_remote(repo: Repo) -> None:
    (repo.work / "tracesite.toml").write_text('[site]\nbase_url = "http://localhost:8000/"\n')
    with pytest.raises(DeployError, match=re.escape("--base-url https://USER.github.io/REPO/")):
        deploy(repo)  # a local bare repository: where it is served is unknown, localhost is not it


def test_a_custom_domain_is_where_the_site_is_served(repo: Repo) -> None:
    _github_remote(repo)
    (repo.work / "tracesite.toml").write_text('[site]\nbase_url = "https://traces.example.org/"\n')
    deploy(repo, cname="traces.example.org")
    with pytest.raises(DeployError, match=re.escape("served at https://traces.example.org/")):
        deploy(repo, base_url="https://alice.github.io/notes/", build=True)


def test_deploy_base_url_builds_the_site_with_it(tmp_path: Path) -> None:
    r = Repo(tmp_path)
    _github_remote(r)
    (r.work / "content").mkdir()
    (r.work / "content" / "run1.json").write_text(json.dumps(native_trace(20)), encoding="utf-8")
    git("add", "content", cwd=r.work)
    git("commit", "-q", "-m", "a trace", cwd=r.work)
    with pytest.raises(DeployError):
        deploy_project(r.work, DeployOptions(quiet=True))  # "/" is not where it is served
    url = "https://alice.github.io/notes/"
    result = CliRunner().invoke(main, ["deploy", str(r.work), "--base-url", url])
    assert result.exit_code == 0, result.output
    assert "warning:" not in result.output
    sitemap = r.show("sitemap.xml")
    assert f"<loc>{url}traces/run1/</loc>" in sitemap
    page = r.show("traces/run1/index.html")
    assert f'<link rel="canonical" href="{url}traces/run1/">' in page
    assert f'content="{url}previews/run1.png"' in page
    assert 'href="/notes/' in r.show("404.html")  # the 404 page's links under the base path
    assert "previews/run1.png" in r.published()


def test_base_url_with_no_build_is_a_usage_error(repo: Repo) -> None:
    with pytest.raises(DeployError, match="drop one of them"):
        deploy(repo, base_url="https://alice.github.io/notes/")
