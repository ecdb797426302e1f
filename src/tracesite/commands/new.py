"""``tracesite new``: scaffold a gallery project a new user can serve, build and publish at once.

The template is a folder of real files (``tracesite/scaffold/``, shipped in the wheel). Dot-files
are stored as ``dot-*`` so that they are packaged and do not act on this repository (a
``.gitignore`` or ``.github/`` inside the package would); they are renamed when copied.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path, PurePosixPath

import click

from tracesite.core.errors import TracesiteError

#: Top-level names stored with a ``dot-`` prefix in the template.
DOT_PREFIX = "dot-"
#: Files whose placeholders are filled in: name -> how the title is written there.
_TITLE_IN = {"tracesite.toml": "toml", "README.md": "text"}
_VERSION_IN = ("README.md", ".github/workflows/pages.yml")
# Folders a fresh `git init` or `gh repo clone` leave; scaffolding next to them is fine.
_ALLOWED_EXISTING = frozenset({".git"})


class ScaffoldError(TracesiteError):
    """A project cannot be created where asked (a non-empty folder, a file in the way)."""


def template_files() -> Iterator[tuple[str, Traversable]]:
    """Every file of the template as (path in the new project, resource), sorted."""
    root = files("tracesite.commands").joinpath("scaffold")

    def walk(node: Traversable, rel: PurePosixPath) -> Iterator[tuple[str, Traversable]]:
        for child in sorted(node.iterdir(), key=lambda c: c.name):
            name = child.name
            if name == "__pycache__":
                continue
            if name.startswith(DOT_PREFIX):
                name = "." + name[len(DOT_PREFIX) :]
            if child.is_dir():
                yield from walk(child, rel / name)
            else:
                yield str(rel / name), child

    yield from walk(root, PurePosixPath())


def project_title(directory: Path) -> str:
    """A title from the folder name: ``my-traces`` -> ``My traces``."""
    words = re.sub(r"[-_\s]+", " ", directory.resolve().name).strip()
    return words[:1].upper() + words[1:] if words else "Trace gallery"


def new_project(directory: Path, *, echo: Callable[[str], None] = click.echo) -> None:
    """Write a new project into ``directory`` (created, or existing and empty; never overwrites)."""
    if directory.exists() and not directory.is_dir():
        raise ScaffoldError("exists and is not a folder", path=str(directory))
    if directory.is_dir():
        present = sorted(p.name for p in directory.iterdir() if p.name not in _ALLOWED_EXISTING)
        if present:
            shown = ", ".join(present[:5]) + (", ..." if len(present) > 5 else "")
            raise ScaffoldError(
                f"folder is not empty ({shown}); choose a new or empty folder", path=str(directory)
            )
    from tracesite.commands.install_spec import install_spec
    from tracesite.core.version import __version__

    title = project_title(directory)
    spec = install_spec(__version__)  # what the workflow installs: a git URL before PyPI
    written: list[str] = []
    for rel, resource in template_files():
        data = resource.read_bytes()
        if rel in _TITLE_IN or rel in _VERSION_IN:
            text = data.decode("utf-8")
            if rel in _TITLE_IN:
                value = json.dumps(title, ensure_ascii=False) if _TITLE_IN[rel] == "toml" else title
                text = text.replace("__PROJECT_TITLE__", value)
            text = text.replace("__TRACESITE_SPEC__", spec)
            data = text.replace("__TRACESITE_VERSION__", __version__).encode("utf-8")
        target = directory / rel
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "xb") as fh:  # "x": never overwrite, even if something appeared
                fh.write(data)
        except OSError as exc:
            raise ScaffoldError(f"cannot write: {exc.strerror or exc}", path=str(target)) from None
        written.append(rel)
    echo(f"created {directory}/ with {len(written)} files:")
    for rel in written:
        echo(f"  {rel}")
    echo("next:")
    echo(f"  cd {directory}")
    echo("  tracesite serve      # preview at http://127.0.0.1:8000/, reloads on every save")
    echo("publish: see README.md (a GitHub Actions workflow is in .github/workflows/pages.yml)")
