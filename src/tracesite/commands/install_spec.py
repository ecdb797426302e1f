"""The pip requirement a scaffolded project's Pages workflow installs tracesite with.

tracesite is not on PyPI yet, so ``tracesite==X`` would fail in CI. The running tracesite says
where it came from (PEP 610's ``direct_url.json``): installed from git, the workflow installs that
repository at that commit; installed from a clone (``pip install .``) whose ``origin`` is on
GitHub, it installs that repository at the clone's commit when the remote has it. Otherwise it
falls back to the version pin, and the workflow's comment and its install step's error message
state the one line to change.
"""

from __future__ import annotations

import json
import re
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

_GITHUB = re.compile(
    r"^(?:(?:https?|ssh|git)://(?:[^@/]+@)?github\.com/|(?:[^@/:]+@)?github\.com:)"
    r"(?P<path>[A-Za-z0-9-]+/[A-Za-z0-9._-]+?)(?:\.git)?/?$",
    re.I,
)


def direct_url() -> dict[str, Any] | None:
    """PEP 610's record of where the running tracesite was installed from (None: an index)."""
    try:
        text = metadata.distribution("tracesite").read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return None
    try:
        data = json.loads(text) if text else None
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def github_https(remote: str) -> str | None:
    """``https://github.com/owner/repo`` for any form of a GitHub remote URL, else None."""
    m = _GITHUB.match(remote.strip())
    return f"https://github.com/{m.group('path')}" if m else None


def _git(folder: Path, *args: str) -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def _from_clone(folder: Path) -> str | None:
    """The spec for a tracesite installed from a clone of a GitHub repository."""
    repo = github_https(_git(folder, "config", "--get", "remote.origin.url"))
    if repo is None:
        return None
    commit = _git(folder, "rev-parse", "HEAD")
    pushed = commit and _git(folder, "branch", "-r", "--contains", commit)
    return f"tracesite @ git+{repo}@{commit}" if pushed else f"tracesite @ git+{repo}"


def install_spec(version: str, source: dict[str, Any] | None = None) -> str:
    """The pip requirement for the workflow; ``source`` is a ``direct_url.json`` (default: the
    running tracesite's)."""
    source = direct_url() if source is None else source
    url = str((source or {}).get("url", ""))
    vcs = (source or {}).get("vcs_info")
    if isinstance(vcs, dict) and vcs.get("vcs") == "git" and url:
        commit = vcs.get("commit_id")
        return f"tracesite @ git+{url}" + (f"@{commit}" if commit else "")
    if "dir_info" in (source or {}) and url.startswith("file://"):
        spec = _from_clone(Path(unquote(urlsplit(url).path)))
        if spec:
            return spec
    return f"tracesite=={version}"
