"""The template contexts are documented: docs/templates.md lists every field of every class."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from tracesite.site import pages

DOC = Path(__file__).resolve().parents[1] / "docs" / "templates.md"
CLASSES = [
    pages.SiteContext,
    pages.Card,
    pages.Section,
    pages.BasePage,
    pages.IndexPage,
    pages.TracePage,
    pages.StandalonePage,
    pages.TagPage,
    pages.TagsPage,
    pages.GroupPage,
    pages.ErrorPage,
]


def test_every_context_field_is_documented():
    text = DOC.read_text(encoding="utf-8")
    sections = dict(re.findall(r"^## `(\w+)`.*?\n(.*?)(?=^## |\Z)", text, re.S | re.M))
    for cls in CLASSES:
        assert cls.__name__ in sections, f"{cls.__name__} has no section in docs/templates.md"
        own = cls.__dict__.get("__annotations__", {})
        documented = set(re.findall(r"^\| `(\w+)` \|", sections[cls.__name__], re.M))
        fields = {f.name for f in dataclasses.fields(cls) if f.name in own}
        assert fields == documented, (
            f"{cls.__name__}: code {sorted(fields)} vs doc {sorted(documented)}"
        )


def test_every_page_kind_has_a_template():
    builtin = Path(__file__).resolve().parents[1] / "themes" / "default" / "templates"
    for template in pages.PAGE_TEMPLATES.values():
        assert (builtin / template).is_file(), template
