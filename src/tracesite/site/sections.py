"""What a section (a first-level folder of ``content/``) says about itself: the title, description,
order (``weight``) and introduction from its ``_section.md`` or ``index.md`` (site/discover.py's
SECTION_FILES), so the folder ``openai`` can read "OpenAI" and come first.

The file is read as a note (``read_note``); the build reads it too, as a page, and reports its
problems there with their line, so here a file that does not read gives the folder's defaults.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from markupsafe import Markup

from tracesite.core.errors import NoteError
from tracesite.site.frontmatter import read_front_matter
from tracesite.site.notes import Note, read_note
from tracesite.site.pages import EMPTY

#: How a section's introduction becomes page HTML on the index (links rewritten, embeds
#: filled); without one, the note's HTML as Markdown rendered it.
IntroFill = Callable[[Note, Path], Markup]


@dataclass(frozen=True)
class SectionInfo:
    title: str
    description: str = ""
    weight: float | None = None
    intro_html: Markup = EMPTY


def default_title(name: str) -> str:
    """A folder name as a heading: ``open-models`` -> ``Open models``; top level "Traces"."""
    return name.replace("-", " ").replace("_", " ").capitalize() or "Traces"


def read_section(name: str, path: Path | None, fill: IntroFill | None = None) -> SectionInfo:
    """The section ``name`` as its file ``path`` (or its folder name, without one) describes it."""
    if path is None:
        return SectionInfo(default_title(name))
    try:
        note = read_note(path)
        weight = read_front_matter(path.read_text(encoding="utf-8"), str(path)).values.get("weight")
    except (NoteError, OSError, UnicodeDecodeError):
        return SectionInfo(default_title(name))  # reported by the build, with its line
    body = fill(note, path) if fill is not None else Markup(note.html)
    return SectionInfo(
        title=note.title or default_title(name),
        description=note.description,
        weight=weight,
        intro_html=body if str(body).strip() else Markup(""),
    )


def section_order(name: str, info: SectionInfo) -> tuple[bool, bool, float, str]:
    """The sort key: the top level first, then sections by weight, then the rest by name."""
    return (name != "", info.weight is None, info.weight or 0.0, name)


def section_infos(
    names: Iterable[str], files: Mapping[str, Path], fill: IntroFill | None = None
) -> dict[str, SectionInfo]:
    """Every section in ``names`` described, in the gallery's order (:func:`section_order`);
    ``files`` is discovery's ``Content.section_files``."""
    infos = {name: read_section(name, files.get(name), fill) for name in set(names)}
    return {name: infos[name] for name in sorted(infos, key=lambda n: section_order(n, infos[n]))}


def section_problems(files: Mapping[str, Path]) -> list[tuple[Path, NoteError, bool]]:
    """What is wrong in the ``_section.md`` files (an ``index.md`` is read, and its problems
    reported, as the page it also is): (file, problem, True for an error, False a warning)."""
    found: list[tuple[Path, NoteError, bool]] = []
    for path in files.values():
        if path.name != "_section.md":
            continue
        try:
            note = read_note(path)
        except NoteError as exc:
            found.append((path, exc, True))
            continue
        found += [(path, w, False) for w in note.warnings]
    return found
