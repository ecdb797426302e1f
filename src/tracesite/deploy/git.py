"""The git plumbing ``tracesite deploy`` runs: git in a clean environment (failures become
DeployErrors with a hint), and a temporary index that stages the site folder as its own work tree.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tracesite.build.writer import MARKER
from tracesite.core.errors import DeployError

# Variables that would point git at another repository, index or work tree than ours.
_GIT_LOCATION_VARS = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_PREFIX", "GIT_COMMON_DIR")
# Settings that must not change what ``git add`` stages from the site folder.
_STAGING_CONFIG = (
    "core.autocrlf=false",
    "core.safecrlf=false",
    "core.sparseCheckout=false",
    "core.fsmonitor=false",
)


class Git:
    """Runs git in one repository with a clean environment; failures become DeployErrors."""

    def __init__(self, project: Path) -> None:
        if not project.is_dir():
            raise DeployError("no such folder", path=str(project))
        self.env = {k: v for k, v in os.environ.items() if k not in _GIT_LOCATION_VARS}
        self.project = project
        self.git_dir = Path(self.run("rev-parse", "--absolute-git-dir", what="find the repository"))

    def run(
        self,
        *args: str,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        stdin: bytes | None = None,
        what: str = "",
        check: bool = True,
    ) -> str:
        """Run ``git args`` and return its stdout, stripped; raise a DeployError on failure
        (or return "" when ``check`` is false)."""
        proc = self._run(args, cwd, env, stdin)
        out = proc.stdout.decode("utf-8", "replace").strip()
        if proc.returncode != 0:
            if check:
                err = proc.stderr.decode("utf-8", "replace").strip() or out
                raise git_error(args, err, self.project, what)
            return ""
        return out

    def ok(self, *args: str) -> bool:
        """Whether ``git args`` succeeds (for yes/no questions such as ``merge-base``)."""
        return self._run(args, None, None, None).returncode == 0

    def _run(
        self,
        args: tuple[str, ...],
        cwd: Path | None,
        env: dict[str, str] | None,
        stdin: bytes | None,
    ) -> subprocess.CompletedProcess[bytes]:
        try:
            return subprocess.run(
                ["git", *args],
                cwd=cwd or self.project,
                env=env or self.env,
                input=stdin,
                capture_output=True,
                check=False,
            )
        except FileNotFoundError:
            raise DeployError("git is not installed (or not on PATH)") from None

    def ref(self, name: str) -> str | None:
        """The commit a ref points to, or None."""
        return (
            self.run("rev-parse", "--verify", "--quiet", f"{name}^{{commit}}", check=False) or None
        )


def git_error(args: tuple[str, ...], stderr: str, project: Path, what: str) -> DeployError:
    """A git failure as one clear DeployError, with a hint for the usual causes."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip() and not ln.startswith("hint:")]
    detail = "; ".join(lines[-4:]) or "no message"
    low = stderr.lower()
    if "not a git repository" in low:
        return DeployError(
            "not inside a git repository; run `git init` and add a GitHub remote first",
            path=str(project),
        )
    hint = ""
    if "non-fast-forward" in low or "fetch first" in low or "[rejected]" in low:
        hint = (
            " (the remote branch has commits your local copy lacks, e.g. a deploy from another "
            "machine: run `git fetch` and deploy again)"
        )
    elif any(s in low for s in ("authentication", "permission denied", "could not read username")):
        hint = " (check your credentials and that you may push to this repository)"
    elif "please tell me who you are" in low or "empty ident" in low:
        hint = ' (set `git config user.name "..."` and `git config user.email ...`)'
    doing = what or f"git {args[0]}"
    return DeployError(f"git failed to {doing}: {detail}{hint}", path=str(project))


class Staging:
    """A temporary index whose work tree is the site folder: the branch's next tree."""

    def __init__(self, git: Git, site: Path, index: Path) -> None:
        self.git = git
        self.site = site
        # GIT_DIR is explicit: the site folder may live outside the repository's work tree
        self.env = dict(
            git.env, GIT_DIR=str(git.git_dir), GIT_WORK_TREE=str(site), GIT_INDEX_FILE=str(index)
        )

    def run(self, *args: str, stdin: bytes | None = None, what: str = "stage the site") -> str:
        return self.git.run(*args, cwd=self.site, env=self.env, stdin=stdin, what=what)

    def add_site(self) -> set[str]:
        """Stage every file of the site (minus tracesite's marker); return the top-level names."""
        cfg = [arg for c in _STAGING_CONFIG for arg in ("-c", c)]
        # -f: the user's global or repository excludes must not drop files of the site
        self.run(*cfg, "add", "--all", "--force", "--", ".")
        self.remove(MARKER)
        names = self.run("ls-files", "-z").split("\0")
        return {n.split("/", 1)[0] for n in names if n}

    def paths(self) -> set[str]:
        """Every path staged so far."""
        return {n for n in self.run("ls-files", "-z").split("\0") if n}

    def add_blob(self, mode: str, blob: str, path: str) -> None:
        """Add a file of an earlier commit (its blob) to the tree."""
        self.run(
            "update-index", "--add", "--cacheinfo", f"{mode},{blob},{path}", what=f"keep {path}"
        )

    def add_text(self, name: str, text: str) -> None:
        """Add a top-level file to the tree without writing it into the site folder."""
        blob = self.run("hash-object", "-w", "--stdin", stdin=text.encode(), what=f"add {name}")
        self.run(
            "update-index", "--add", "--cacheinfo", f"100644,{blob},{name}", what=f"add {name}"
        )

    def remove(self, name: str) -> None:
        self.run("rm", "--cached", "--quiet", "--ignore-unmatch", "--", name)

    def write_tree(self) -> str:
        return self.run("write-tree", what="write the site's tree")
