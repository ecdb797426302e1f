"""Where the render cache lives: the project's ``.tracesite-cache/``, or, when the project
cannot be written (a read-only checkout, a mounted volume, a CI cache layer), a folder of the
user's own, with a warning. A build into a writable ``-o`` then works from a read-only project.

The choice is the same every time it is asked for a project (the build's stages ask it apart);
the fallbacks are folders only this user can write, so no other account can plant cache entries
(rendered HTML) in them.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tracesite.build.cache import CACHE_DIR
from tracesite.core.errors import BuildError


@dataclass(frozen=True)
class CacheDir:
    """The render cache folder of a project, and why it is not the usual one ("" when it is)."""

    path: Path
    fallback_reason: str = ""

    def warning(self, shown_project: str) -> BuildError | None:
        """The warning a build prints when the cache is not in the project, or None."""
        if not self.fallback_reason:
            return None
        return BuildError(
            f"{self.fallback_reason}; the render cache is kept in {self.path} instead",
            path=shown_project,
        )


def _usable(folder: Path) -> bool:
    return folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)


def _private(folder: Path) -> bool:
    """Made (now or before) by this user, writable by nobody else."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = folder.lstat()
    except OSError:
        return False
    if not stat.S_ISDIR(st.st_mode) or st.st_mode & 0o022:
        return False
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        return False
    return _usable(folder)


def _user_cache_roots() -> list[Path]:
    roots = []
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and Path(xdg).is_absolute():
        roots.append(Path(xdg) / "tracesite")
    with contextlib.suppress(RuntimeError):  # no home folder
        roots.append(Path.home() / ".cache" / "tracesite")
    uid = os.getuid() if hasattr(os, "getuid") else 0
    roots.append(Path(tempfile.gettempdir()) / f"tracesite-cache-{uid}")
    return roots


def cache_dir_for(project: Path) -> CacheDir:
    """The render cache folder for ``project`` (created if missing); raises BuildError when no
    folder at all can be written."""
    project = project.resolve()
    preferred = project / CACHE_DIR
    try:
        if not preferred.exists() and os.access(project, os.W_OK | os.X_OK):
            preferred.mkdir(exist_ok=True)
    except OSError:
        pass
    if _usable(preferred):
        return CacheDir(preferred)
    reason = (
        f"{CACHE_DIR} cannot be written"
        if preferred.exists()
        else "the project folder cannot be written"
    )
    key = hashlib.sha256(os.fsencode(project)).hexdigest()[:16]
    for root in _user_cache_roots():
        if _private(root) and _private(root / key):
            return CacheDir(root / key, reason)
    raise BuildError(
        f"{reason}, and no folder of yours can hold the render cache "
        "(tried $XDG_CACHE_HOME, ~/.cache and the temporary folder)",
        path=str(project),
    )
