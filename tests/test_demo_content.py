"""The demo gallery in content/ (issue 16.4): its notes point only at files in the repository,
and it builds with --strict (a link to a missing page is a warning, so it would fail)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from tracesite.build import BuildOptions, build_project

REPO = Path(__file__).resolve().parents[1]
CONTENT = REPO / "content"
#: A path-like code span: a folder and a file with an extension (`bench/synth_rollouts.py`).
PATH = re.compile(r"`([\w.-]+(?:/[\w.() -]+)+\.[a-z]{2,8})`")


def _named_paths(note: Path) -> list[str]:
    """Paths a note names in code spans; in a table, the first column only (the others of
    about-the-data.md name files in the upstream repositories the copies came from)."""
    found = []
    for line in note.read_text(encoding="utf-8").splitlines():
        if line.startswith("|"):
            line = line.split("|")[1]
        found += PATH.findall(line)
    return found


def test_every_path_a_demo_note_names_is_in_the_repository() -> None:
    missing = [
        f"{note.relative_to(REPO)}: {p}"
        for note in sorted(CONTENT.rglob("*.md"))
        for p in _named_paths(note)
        if not (CONTENT / p).exists() and not (REPO / p).exists()
    ]
    assert missing == []
    assert _named_paths(CONTENT / "about-the-data.md")  # the check does look at something


def test_the_demo_builds_strictly(tmp_path: Path) -> None:
    shutil.copytree(CONTENT, tmp_path / "content")
    result = build_project(tmp_path, BuildOptions(quiet=True, strict=True))
    assert result.ok, [str(e) for e in [*result.errors, *result.warnings]]
    index = (result.output / "index.html").read_text(encoding="utf-8")
    assert 'href="traces/figure/forty-three-squared/index.html"' in index
    assert 'href="about-the-data/index.html"' in index
