"""``tracesite deploy``: publish the built site as the whole content of a GitHub Pages branch.

Like ghp-import, this uses git plumbing with a temporary index (``GIT_INDEX_FILE``): the site
folder is staged as its own work tree, written as a tree, committed on top of the branch's previous
tip and pushed. The user's checked-out branch, index and working tree are never touched, pages
deleted from the site disappear from the branch, and nothing is deleted anywhere on disk.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import click

from tracesite.build.writer import MARKER, check_output_dir, read_marker
from tracesite.core.errors import DeployError, ErrorCollection, TracesiteError
from tracesite.deploy.branchfiles import (
    BranchFile,
    check_inputs,
    commit_message,
    foreign_files,
    shown_list,
)
from tracesite.deploy.git import Git, Staging
from tracesite.deploy.pages_url import (
    base_url_mismatch,
    base_url_refusal,
    normalise_cname,
    pages_url,
)

#: GitHub Pages refuses published sites larger than 1 GB.
MAX_SITE_BYTES = 1024**3
#: GitHub rejects pushes holding a file larger than 100 MiB.
MAX_FILE_BYTES = 100 * 1024 * 1024
#: GitHub warns about files larger than 50 MiB on push; we warn first.
WARN_FILE_BYTES = 50 * 1024 * 1024

_ZERO_OID = "0" * 40


@dataclass(frozen=True)
class DeployOptions:
    remote: str = "origin"
    branch: str = "gh-pages"
    message: str | None = None  # default: "Publish site ... from <source commit>"
    cname: str | None = None  # None keeps the previous deploy's CNAME; "" removes it
    build: bool = True  # build first; False publishes the existing output folder
    quiet: bool = False  # print nothing but errors
    base_url: str | None = None  # overrides [site] base_url for the build (needs build=True)
    force: bool = False  # publish even when base_url cannot be right for the remote


@dataclass
class DeployResult:
    output: Path  # the folder that was published
    remote: str
    branch: str
    commit: str  # the branch tip that was pushed
    url: str | None  # where GitHub Pages will serve it, when that can be worked out
    n_files: int = 0
    n_bytes: int = 0
    changed: bool = True  # False when the site was identical to the previous deploy
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SiteSize:
    n_files: int
    n_bytes: int
    warnings: tuple[str, ...] = ()


def check_site(site: Path) -> SiteSize:
    """Refuse what GitHub Pages cannot publish: symlinks, special files, nested ``.git``, files over
    :data:`MAX_FILE_BYTES`, a site over :data:`MAX_SITE_BYTES`. Reports every problem at once."""
    errors: list[TracesiteError] = []
    warnings: list[str] = []
    n_files = n_bytes = 0
    for folder, dirs, files in os.walk(site):
        here = Path(folder)
        for name in sorted(dirs + files):
            path = here / name
            st = path.lstat()
            problem = _unpublishable(name, st)
            if problem:
                errors.append(DeployError(problem, path=str(path)))
            elif stat.S_ISREG(st.st_mode) and not (here == site and name == MARKER):
                if st.st_size > WARN_FILE_BYTES:
                    warnings.append(f"{path}: {_size(st.st_size)}; GitHub warns on files this big")
                n_files += 1
                n_bytes += st.st_size
        dirs[:] = [d for d in dirs if d != ".git" and not (here / d).is_symlink()]
    if n_bytes > MAX_SITE_BYTES:
        errors.append(
            DeployError(
                f"the site is {_size(n_bytes)}; GitHub Pages refuses sites over "
                f"{_size(MAX_SITE_BYTES)}",
                path=str(site),
            )
        )
    if errors:
        errors.append(DeployError("nothing was published", path=str(site)))
        raise ErrorCollection(errors)
    return SiteSize(n_files, n_bytes, tuple(warnings))


def _unpublishable(name: str, st: os.stat_result) -> str | None:
    """Why one entry of the site cannot be published, or None."""
    if name == ".git":
        return "a .git folder or file inside the site"
    if stat.S_ISLNK(st.st_mode):
        return "a symbolic link in the site; GitHub Pages does not serve links, copy the file"
    if stat.S_ISDIR(st.st_mode):
        return None
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file"
    if st.st_size > MAX_FILE_BYTES:
        return f"file is {_size(st.st_size)}; GitHub refuses files over {_size(MAX_FILE_BYTES)}"
    return None


def _size(n: int) -> str:
    """Sizes as GitHub states its limits (binary units, written MB/GB)."""
    if n < 1024:
        return f"{n} bytes"
    value = float(n)
    for unit in ("kB", "MB", "GB"):
        value /= 1024
        if value < 1024 or unit == "GB":
            break
    return f"{value:.1f} {unit}"


def deploy_project(project: Path, options: DeployOptions | None = None) -> DeployResult:
    """Build ``project`` (unless told not to) and push the site to the Pages branch.

    Every check that can refuse (repository, remote, branch, build, site contents) runs before
    anything is written to git; the local branch moves only after the push succeeded.
    """
    options = options or DeployOptions()
    project = project.resolve()
    say: Callable[[str], None] = (lambda _line: None) if options.quiet else click.echo
    cname = normalise_cname(options.cname) if options.cname else options.cname
    git = Git(project)
    remote_url, push_url = _remote_urls(git, options.remote)
    _check_branch(git, options)

    from tracesite.core.config import load_config

    if options.base_url is not None and not options.build:
        raise DeployError(
            "--base-url changes the build, and --no-build publishes the site as it was built; "
            "drop one of them",
            address="--base-url",
        )
    config = load_config(project, base_url=options.base_url)
    refusal = _check_base_url(git, options, config.site.base_url, remote_url, cname)
    # a site this deploy builds comes from the working tree; --no-build publishes an earlier one
    dirty = check_inputs(git.run, project, config.build.content_dir) if options.build else []
    site = _site_folder(project, options, config.build.output_dir, config.build.content_dir)
    size = check_site(site)
    warnings = list(size.warnings)
    if dirty:
        warnings.append(
            f"publishing uncommitted changes to the site's inputs ({shown_list(dirty)}): the "
            "site matches no commit, and the deploy commit's message says so"
        )

    parent = _parent(git, options)
    tree, kept, cname = _stage_site(git, site, parent, cname, say)
    if kept:
        warnings.append(
            f"kept {len(kept)} file(s) of the {options.branch} branch that tracesite did not "
            f"write: {shown_list([f.path for f in kept])} (delete them from the branch yourself "
            "if they should go)"
        )
    changed, commit = _site_commit(git, tree, parent, options, dirty, kept)
    _push(git, options, push_url, commit, say)

    url = pages_url(remote_url, cname)
    if refusal:  # published anyway (--force)
        warnings.append(refusal)
    elif url is not None and (mismatch := base_url_mismatch(config.site.base_url, url)):
        warnings.append(mismatch)
    result = DeployResult(
        output=site,
        remote=options.remote,
        branch=options.branch,
        commit=commit,
        url=url,
        n_files=size.n_files,
        n_bytes=size.n_bytes,
        changed=changed,
        warnings=warnings,
    )
    _report(result, first=parent is None, say=say, quiet=options.quiet)
    return result


def _stage_site(
    git: Git, site: Path, parent: str | None, cname: str | None, say: Callable[[str], None]
) -> tuple[str, list[BranchFile], str | None]:
    """The branch's next tree (site, CNAME, .nojekyll, files kept from ``parent``), the kept
    files and the CNAME it publishes."""
    with tempfile.TemporaryDirectory(prefix="tracesite-deploy-") as tmp:
        staging = Staging(git, site, Path(tmp) / "index")
        top_level = staging.add_site()
        if cname is None and "CNAME" in top_level:
            cname = (site / "CNAME").read_text(encoding="utf-8", errors="replace").strip() or None
        elif cname is None:
            cname = _file_in(git, parent, "CNAME")
            if cname:
                say(f"keeping CNAME {cname} from the previous deploy (--cname '' removes it)")
        if cname:
            staging.add_text("CNAME", f"{cname}\n")
        elif "CNAME" in top_level:
            staging.remove("CNAME")  # --cname '': publish without the custom domain
        if ".nojekyll" not in top_level:
            staging.add_text(".nojekyll", "")  # serve as is: no Jekyll, _-prefixed paths kept
        kept = foreign_files(git.run, parent, staging.paths())
        for f in kept:  # a verification file committed by hand stays where Pages serves it
            staging.add_blob(f.mode, f.blob, f.path)
        return staging.write_tree(), kept, cname


def _site_commit(
    git: Git,
    tree: str,
    parent: str | None,
    options: DeployOptions,
    dirty: list[str],
    kept: list[BranchFile],
) -> tuple[bool, str]:
    """Whether the tree differs from ``parent``'s, and the commit to push (``parent`` if not)."""
    changed = parent is None or git.run("rev-parse", f"{parent}^{{tree}}") != tree
    commit = (
        parent
        if parent is not None and not changed
        else _commit(
            git, tree, parent, commit_message(git.ref("HEAD"), options.message, dirty, kept)
        )
    )
    return changed, commit


def _push(
    git: Git, options: DeployOptions, push_url: str, commit: str, say: Callable[[str], None]
) -> None:
    """Push ``commit`` to the remote branch, then move the local branch to it."""
    shown_url = re.sub(r"^([a-z][a-z0-9+.-]*://)[^@/]*@", r"\1", push_url, flags=re.I)
    say(f"pushing to {options.remote} ({shown_url}) {options.branch}...")
    git.run(
        "push",
        "--quiet",
        options.remote,
        f"{commit}:refs/heads/{options.branch}",
        what=f"push to {options.remote} ({shown_url})",  # never print a token in the URL
    )
    local = git.ref(f"refs/heads/{options.branch}")
    if local != commit:
        git.run(
            "update-ref",
            "-m",
            "tracesite deploy",
            f"refs/heads/{options.branch}",
            commit,
            local or _ZERO_OID,
            what=f"update the local {options.branch} branch",
        )


def _commit(git: Git, tree: str, parent: str | None, message: str) -> str:
    return git.run(
        "commit-tree",
        tree,
        *(["-p", parent] if parent else []),
        stdin=message.encode("utf-8"),
        what="commit the site",
    )


def _remote_urls(git: Git, remote: str) -> tuple[str, str]:
    """The remote's URL as configured (before insteadOf rewriting; it names the GitHub repository)
    and the URL pushes go to; refuses a remote that does not exist."""
    push_url = git.run("remote", "get-url", "--push", remote, check=False)
    if not push_url:
        known = git.run("remote", check=False).split()
        listed = f" (this repository has: {', '.join(known)})" if known else ""
        raise DeployError(
            f"no git remote named {remote!r}{listed}; add one with "
            f"`git remote add {remote} https://github.com/USER/REPO.git` or pass --remote",
            path=str(git.project),
        )
    return git.run("config", "--get", f"remote.{remote}.url", check=False) or push_url, push_url


def _check_branch(git: Git, options: DeployOptions) -> None:
    """Refuse branch names git rejects and branches the user works on (they would be replaced)."""
    ref = f"refs/heads/{options.branch}"
    if options.branch.startswith("-") or not git.ok("check-ref-format", ref):
        raise DeployError(f"not a valid branch name: {options.branch!r}", address="--branch")
    worktrees = git.run("worktree", "list", "--porcelain", check=False).splitlines()
    if f"branch {ref}" in worktrees or git.run("symbolic-ref", "-q", "HEAD", check=False) == ref:
        raise DeployError(
            f"branch {options.branch!r} is checked out (here or in another worktree); deploying "
            "to it would replace your files. "
            "Switch to your source branch, or pass another --branch",
            path=str(git.project),
        )
    default = git.run("symbolic-ref", "-q", f"refs/remotes/{options.remote}/HEAD", check=False)
    if default == f"refs/remotes/{options.remote}/{options.branch}":
        raise DeployError(
            f"{options.branch!r} is the default branch of {options.remote}; deploy replaces the "
            "whole branch with the site, so it refuses that one",
            path=str(git.project),
        )


def _site_folder(project: Path, options: DeployOptions, output_dir: Path, content: Path) -> Path:
    """Build (unless --no-build) and return the output folder, refusing a failed build and any
    folder the build itself would refuse to write (the project, the content, a parent of them)."""
    if options.build:
        from tracesite.build.pipeline import BuildOptions, build_project

        result = build_project(
            project, BuildOptions(quiet=options.quiet, base_url=options.base_url)
        )
        if not result.ok:
            refusal = DeployError(
                f"the build failed with {len(result.errors)} error(s); nothing was published",
                path=str(project),
            )
            # the build has printed its errors already, unless it was told to be quiet
            raise ErrorCollection([*result.errors, refusal]) if options.quiet else refusal
        output_dir = result.output
    site = output_dir.resolve()
    if not site.is_dir():
        raise DeployError("no built site here; run `tracesite build` first", path=str(output_dir))
    marker = read_marker(site)
    if marker is None:
        raise DeployError(
            f"this folder was not written by `tracesite build` (no {MARKER} marker); "
            "refusing to publish it",
            path=str(output_dir),
        )
    if not marker.complete:
        raise DeployError(
            "the last build of this folder did not finish; run `tracesite build` again "
            "before publishing it",
            path=str(output_dir),
        )
    check_output_dir(site, project, content)
    return site


def _check_base_url(
    git: Git, options: DeployOptions, base_url: str, remote_url: str, cname: str | None
) -> str | None:
    """Refuse, before building or writing anything to git, a ``base_url`` that cannot be right
    where the remote will serve the site (the custom domain of the previous deploy counts);
    with ``--force``, the reason is returned to be printed as a warning."""
    if cname is None:
        cname = _file_in(git, _parent(git, options), "CNAME")
    refusal = base_url_refusal(base_url, pages_url(remote_url, cname or None))
    if refusal and not options.force:
        raise DeployError(refusal, path=str(git.project))
    return refusal


def _file_in(git: Git, commit: str | None, name: str) -> str | None:
    """The stripped text of ``name`` in ``commit``'s tree, or None."""
    if commit is None:
        return None
    return git.run("cat-file", "blob", f"{commit}:{name}", check=False).strip() or None


def _parent(git: Git, options: DeployOptions) -> str | None:
    """The previous tip to commit on: the local branch, or the remote's copy when that is newer
    (a fresh clone; another machine's deploy, fetched), so that the push fast-forwards."""
    local = git.ref(f"refs/heads/{options.branch}")
    tracking = git.ref(f"refs/remotes/{options.remote}/{options.branch}")
    if local and tracking and local != tracking:
        return local if git.ok("merge-base", "--is-ancestor", tracking, local) else tracking
    return local or tracking


def _report(result: DeployResult, *, first: bool, say: Callable[[str], None], quiet: bool) -> None:
    files = f"{result.n_files} file{'' if result.n_files == 1 else 's'} ({_size(result.n_bytes)})"
    where = f"{result.remote} {result.branch} at {result.commit[:12]}"
    if result.changed:
        say(f"published {files} to {where}")
    else:
        say(f"no change since the last deploy: {where} already holds these {files}")
    if not quiet:
        for warning in result.warnings:
            click.echo(f"warning: {warning}", err=True)
    if result.url:
        say(f"the site will be at {result.url}")
    else:
        say("not a GitHub remote: the site is wherever your host serves this branch")
    if first:
        say(
            "first deploy: in the repository's Settings > Pages, choose 'Deploy from a branch', "
            f"branch {result.branch}, folder / (root)"
        )
