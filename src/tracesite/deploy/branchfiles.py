"""What a deploy says about where the site came from, and what it keeps of the branch.

- **Uncommitted inputs.** The site is built from the working tree, not from a commit, so a deploy
  whose ``content/`` (or ``tracesite.toml``, or ``themes/``) has uncommitted or untracked changes
  would publish a site no commit holds, under a message naming ``HEAD``. :func:`dirty_inputs`
  lists them; deploy warns, and its commit says "from <HEAD> with uncommitted changes (...)".
- **Foreign files on the branch.** A Pages branch often holds files tracesite never wrote: a
  search engine's verification file (``google1234.html``), ``keybase.txt``, anything committed
  there by hand or by another tool. :func:`foreign_files` finds them (the files of the previous
  tip that the last tracesite deploy did not publish, or kept as foreign itself), and deploy keeps
  them, named in a warning, instead of dropping them with the stale pages.

Each tracesite deploy commit ends with a ``Published-by: tracesite deploy`` trailer and one
``Kept-file: "<path>"`` trailer per foreign file it kept, so the next deploy can tell them apart.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

#: The trailer every tracesite deploy commit carries (the older message line is read too).
PUBLISHED_BY = "Published-by: tracesite deploy"
_OLD_MARK = "Written by `tracesite deploy`"
KEPT = "Kept-file: "

Run = Callable[..., str]  # Git.run: ``run(*args, check=False) -> stdout``


def dirty_inputs(run: Run, project: Path, inputs: Iterable[Path]) -> list[str]:
    """The paths under ``inputs`` (the content folder, tracesite.toml, themes/) that differ
    from ``HEAD``: modified, staged, deleted or untracked (ignored files are not inputs git
    could hold). Paths as git shows them, relative to the project."""
    specs = []
    for p in inputs:
        try:
            specs.append(p.resolve().relative_to(project.resolve()).as_posix() or ".")
        except ValueError:  # outside the project: git cannot say
            continue
    if not specs:
        return []
    # names only (a status line's leading blank would not survive Git.run's strip)
    changed = run("diff", "--name-only", "--relative", "-z", "HEAD", "--", *specs, check=False)
    if not run("rev-parse", "--verify", "--quiet", "HEAD", check=False):
        changed = run("ls-files", "-z", "--", *specs, check=False)  # no commit holds anything
    untracked = run("ls-files", "--others", "--exclude-standard", "-z", "--", *specs, check=False)
    return sorted({p for p in (changed + "\0" + untracked).split("\0") if p})


def shown_list(paths: list[str], limit: int = 5) -> str:
    """``a, b, c and 4 more``."""
    head = ", ".join(paths[:limit])
    return head if len(paths) <= limit else f"{head} and {len(paths) - limit} more"


@dataclass(frozen=True)
class BranchFile:
    mode: str
    blob: str
    path: str


def tree_files(run: Run, commit: str) -> dict[str, BranchFile]:
    """Every file of ``commit``'s tree by path."""
    out = run("ls-tree", "-r", "-z", "--full-tree", commit, check=False)
    files: dict[str, BranchFile] = {}
    for entry in out.split("\0"):
        meta, _, path = entry.partition("\t")
        parts = meta.split()
        if len(parts) == 3 and parts[1] == "blob":
            files[path] = BranchFile(parts[0], parts[2], path)
    return files


def _kept_in(message: str) -> set[str]:
    kept = set()
    for line in message.splitlines():
        if line.startswith(KEPT):
            try:
                value = json.loads(line[len(KEPT) :])
            except ValueError:
                continue
            if isinstance(value, str):
                kept.add(value)
    return kept


def foreign_files(run: Run, parent: str | None, site_files: set[str]) -> list[BranchFile]:
    """The files of the branch tip ``parent`` that tracesite did not write and the new site
    does not replace (``CNAME`` and ``.nojekyll`` are deploy's own business)."""
    if parent is None:
        return []
    files = tree_files(run, parent)
    last = run(
        "log", "-1", "--format=%H", "-F", f"--grep={PUBLISHED_BY}", f"--grep={_OLD_MARK}",
        parent, check=False,
    )  # fmt: skip
    ours: set[str] = set()
    if last:
        ours = set(tree_files(run, last)) - _kept_in(run("log", "-1", "--format=%B", last))
    skip = ours | site_files | {"CNAME", ".nojekyll"}
    return [f for path, f in sorted(files.items()) if path not in skip]


def trailers(dirty: list[str], kept: list[BranchFile]) -> str:
    """The lines a deploy commit ends with: who published it, and what it kept."""
    lines = [PUBLISHED_BY]
    lines += [f"{KEPT}{json.dumps(f.path)}" for f in kept]
    if dirty:
        lines.append(f"Uncommitted-inputs: {len(dirty)}")
    return "\n".join(lines) + "\n"


def check_inputs(run: Run, project: Path, content: Path) -> list[str]:
    """The uncommitted changes to the site's inputs (content/, tracesite.toml, themes/):
    deploy publishes them with a warning, and its commit message says so."""
    return dirty_inputs(run, project, [content, project / "tracesite.toml", project / "themes"])


def commit_message(
    head: str | None, custom: str | None, dirty: list[str], kept: list[BranchFile]
) -> str:
    """The deploy commit's message: the source commit, honestly (with the uncommitted changes
    it was built with, if any), and the trailers the next deploy reads."""
    end = trailers(dirty, kept)
    if custom:
        return custom.rstrip("\n") + "\n\n" + end
    from tracesite.core.version import __version__

    source = f" from {head[:12]}" if head else " from no commit"
    if dirty:
        source += f" with uncommitted changes ({shown_list(dirty)})"
    return (
        f"Publish site{source}\n\nWritten by `tracesite deploy` (tracesite {__version__}).\n\n"
        + end
    )
