"""Find the content of a project: trace files, notes, standalone pages, static files (sorted)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath

from tracesite.core.safetext import safe_text
from tracesite.site.urls import trace_slug

# Files copied into the site as they are (images for notes, PDFs...).
STATIC_SUFFIXES = frozenset(
    ".png .jpg .jpeg .gif .svg .webp .avif .ico .pdf .css .js .mp4 .webm .woff .woff2 .csv".split()  # noqa: SIM905
)
# Names never read as content and never a reason to rebuild: editors' and the OS's files.
_IGNORED = re.compile(
    r"""^(
        \..*                          # hidden: .#lock (Emacs), .file.swp (Vim), .DS_Store
      | .*~                           # backups
      | \#.*\#                        # Emacs autosave
      | .*\.sw[a-px]                  # Vim swap files
      | 4913                          # Vim's "can I write here" probe
      | .*\.(tmp|temp|bak|crswap|kate-swp|pyc)
      | .*___jb_(tmp|old)___          # JetBrains safe-write
      | __pycache__ | Thumbs\.db | desktop\.ini
    )$""",
    re.X | re.I,
)


def is_ignored(name: str) -> bool:
    """True for a file or folder name that is not content: hidden names and the files editors
    and the OS write next to real ones. Discovery skips them and the dev server's watcher does
    not rebuild for them: one rule for both."""
    return bool(_IGNORED.match(name))


def resolve_inside(root: Path, path: Path) -> Path | None:
    """Where ``path`` (a path under ``root``, or relative to it) really is, symlinks followed,
    when that is inside ``root``; None when it leads outside (or loops, or cannot be looked up).

    The one rule for what may reach the site: content files, notes, ```` ```trace ```` blocks
    and theme files are all read through it, so a symlink in ``content/`` to ``/etc/passwd`` or
    to a file holding the build's environment is refused, never copied into the site.
    """
    base = root.resolve()
    try:
        target = (base / path).resolve()
    except (OSError, RuntimeError, ValueError):  # a loop (RuntimeError on 3.11), NUL (ValueError)
        return None
    return target if target.is_relative_to(base) else None


@dataclass(frozen=True)
class TraceSource:
    """A trace file under content/ and the note beside it, if any."""

    path: Path
    rel: str  # posix path under content/, as pages show it (see shown_rel)
    slug: str  # "evals/run1" for content/evals/run1.json
    section: str  # first folder under content/, "" at the top
    note: Path | None = None
    section_file: Path | None = None  # the section's _section.md or index.md (see SECTION_FILES)


@dataclass
class Content:
    traces: list[TraceSource] = field(default_factory=list)
    pages: list[tuple[Path, str]] = field(default_factory=list)  # (path, rel)
    static: list[tuple[Path, str]] = field(default_factory=list)
    #: symlinks under content/ that lead outside it, left out: (the link, where it points)
    refused: list[tuple[Path, str]] = field(default_factory=list)
    #: section (first folder under content/) -> the file giving its title, description, order
    section_files: dict[str, Path] = field(default_factory=dict)


def shown_rel(path: Path, root: Path) -> str:
    """``path`` under ``root`` as pages and URLs name it: a file name that is not UTF-8 (its
    bytes reach Python as lone surrogates) shown with their codes, so it can be written."""
    return safe_text(path.relative_to(root).as_posix())


def _link_target(path: Path) -> str:
    try:
        return str(path.readlink())
    except OSError:
        return "?"


def excluded(rel: str, patterns: Sequence[str]) -> bool:
    """Whether the content path ``rel`` (posix, under content/) is left out: a part of it starts
    with ``_`` (as Jekyll and Hugo leave such paths out), or it matches an ``[build] exclude``
    glob (like MkDocs' ``exclude_docs``): a pattern without ``/`` matches any part's name, one
    with ``/`` the path from content/, and a folder's pattern everything in it."""
    parts = rel.split("/")
    if any(p.startswith("_") for p in parts):
        return True
    for pat in patterns:
        pat = pat.strip("/")
        if "/" not in pat and any(fnmatch(p, pat) for p in parts):
            return True
        prefixes = ["/".join(parts[: k + 1]) for k in range(len(parts))]
        if any(fnmatch(p, pat) or fnmatch(p, pat.removesuffix("/**")) for p in prefixes):
            return True
    return False


#: The files that describe a section (a first-level folder of content/), first found wins:
#: ``_section.md`` (read although ``_`` names are not content; not a page, so no link or search
#: hit leads to one), else an ``index.md`` that is no trace's note (still published as a page at
#: ``<folder>/index/``, as before sections read it).
SECTION_FILES = ("_section.md", "index.md")


def _section_file(rel_parts: tuple[str, ...], exclude: Sequence[str]) -> bool:
    """Whether ``rel_parts`` is a section's ``_section.md`` in a folder that is content."""
    return (
        len(rel_parts) == 2
        and rel_parts[1] == SECTION_FILES[0]
        and not excluded(rel_parts[0], exclude)
    )


def _sections(pages: Sequence[tuple[Path, str]]) -> dict[str, Path]:
    """Section -> its file, among ``pages`` and the ``_section.md`` files (as (path, rel))."""
    found: dict[str, dict[str, Path]] = {}
    for path, rel in pages:
        parts = rel.split("/")
        if len(parts) == 2 and parts[1] in SECTION_FILES:
            found.setdefault(parts[0], {})[parts[1]] = path
    return {sec: next(f[n] for n in SECTION_FILES if n in f) for sec, f in found.items()}


def discover(content_dir: Path, exclude: Sequence[str] = ()) -> Content:
    """Walk ``content_dir`` in sorted order; pair ``foo.md`` with ``foo.<ext>`` trace files.
    Paths :func:`excluded` by ``exclude`` (and ``_`` names) are not content."""
    result = Content()
    if not content_dir.is_dir():
        return result
    files: list[Path] = []
    for path in sorted(content_dir.rglob("*")):
        rel_parts = path.relative_to(content_dir).parts
        if any(is_ignored(part) for part in rel_parts) or not path.is_file():
            continue
        if excluded("/".join(rel_parts), exclude) and not _section_file(rel_parts, exclude):
            continue
        if resolve_inside(content_dir, path) is None:  # a symlink (here or above) leads out
            result.refused.append((path, _link_target(path)))
            continue
        files.append(path)
    notes = {p for p in files if p.suffix.lower() == ".md"}
    trace_files = [p for p in files if p not in notes and p.suffix.lower() not in STATIC_SUFFIXES]
    notes_by_dir: dict[Path, dict[str, Path]] = {}
    for note_path in sorted(notes):
        notes_by_dir.setdefault(note_path.parent, {})[note_path.name[:-3]] = note_path
    paired: set[Path] = set()
    for path in trace_files:
        source = trace_source(path, content_dir, notes_by_dir.get(path.parent, {}))
        if source.note is not None:
            paired.add(source.note)
        result.traces.append(source)
    described: list[tuple[Path, str]] = []  # the _section.md files
    for note in sorted(notes - paired):
        rel = shown_rel(note, content_dir)
        if _section_file(tuple(rel.split("/")), exclude):
            described.append((note, rel))
        else:
            result.pages.append((note, rel))
    result.section_files = _sections([*result.pages, *described])
    result.traces = [
        replace(t, section_file=result.section_files.get(t.section)) if t.section else t
        for t in result.traces
    ]
    for path in files:
        if path.suffix.lower() in STATIC_SUFFIXES:
            result.static.append((path, shown_rel(path, content_dir)))
    return result


def trace_source(path: Path, content_dir: Path, notes: dict[str, Path]) -> TraceSource:
    """What the site makes of the trace file ``path`` under ``content_dir``: its URL slug, its
    section and its note among ``notes`` (the notes of its folder, by stem)."""
    rel = shown_rel(path, content_dir)
    parts = PurePosixPath(rel).parts
    return TraceSource(
        path=path,
        rel=rel,
        slug=trace_slug(rel),
        section=parts[0] if len(parts) > 1 else "",
        note=note_for(path, notes),
    )


def notes_beside(folder: Path) -> dict[str, Path]:
    """The notes of ``folder`` by stem, as discovery pairs them (``.md`` in any case, ignored
    names left out)."""
    return {
        p.name[:-3]: p
        for p in sorted(folder.iterdir())
        if p.suffix.lower() == ".md"
        and not is_ignored(p.name)
        and p.is_file()
        and (not p.is_symlink() or resolve_inside(folder, p) is not None)
    }


def note_for(trace: Path, notes: dict[str, Path]) -> Path | None:
    """``run1.md`` is the note of ``run1.json``, ``run1.sse.txt``... (the longest stem wins)."""
    name = trace.name
    for i in range(len(name) - 1, 0, -1):
        if name[i] == "." and name[:i] in notes:
            return notes[name[:i]]
    return None
