"""Where things land in the site: slugs and the URL of every kind of page, in one place.

Site-relative URLs use ``/`` and end in ``index.html`` (``traces/evals/run1/index.html``), so the
site works from ``file://`` as well as from a server; links between pages are made relative.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from urllib.parse import quote

# Suffixes stripped from a trace file's name to make its slug (formats come from content).
TRACE_SUFFIXES = (
    ".json",
    ".jsonl",
    ".ndjson",
    ".txt",
    ".sse",
    ".npz",
    ".log",
    ".parquet",
    ".arrow",
    ".feather",
    ".ipc",
)


def slugify(part: str) -> str:
    """A URL-safe slug component: lowercase, unsafe runs become '-'."""
    s = re.sub(r"[^\w.-]+", "-", part.strip().lower()).strip("-.")
    return s or "untitled"


def trace_slug(rel: str) -> str:
    """The slug of a trace file: ``evals/Run 1.sse.txt`` -> ``evals/run-1``."""
    p = PurePosixPath(rel)
    name = p.name
    changed = True
    while changed:
        changed = False
        for suf in TRACE_SUFFIXES:
            if name.lower().endswith(suf) and len(name) > len(suf):
                name = name[: -len(suf)]
                changed = True
    parts = [slugify(x) for x in p.parent.parts] + [slugify(name)]
    return "/".join(parts)


def trace_url(file_slug: str, index: int, n_in_file: int) -> tuple[str, str]:
    """(slug, site URL) of trace ``index`` of a file holding ``n_in_file`` traces: several
    traces in one file get ``-1``, ``-2``..."""
    slug = file_slug if n_in_file == 1 else f"{file_slug}-{index + 1}"
    return slug, f"traces/{slug}/index.html"


def tag_url(tag: str) -> str:
    """The page listing the traces with ``tag``."""
    return f"tags/{slugify(tag)}/index.html"


TAGS_URL = "tags/index.html"


def group_url(group: str) -> str:
    """The page of a group of sibling traces (SPEC §16): ``groups/<group>/index.html``."""
    return f"groups/{slugify(group)}/index.html"


def standalone_url(rel: str) -> str:
    """``about.md`` -> ``about/index.html``; ``guides/Setup.md`` -> ``guides/setup/index.html``;
    the gallery's introduction ``index.md`` is the index page itself."""
    if rel == "index.md":
        return "index.html"
    return "/".join(slugify(p) for p in PurePosixPath(rel[:-3]).parts) + "/index.html"


def url_path(url: str) -> str:
    """Percent-encode a site-relative URL path (slugs may hold non-ASCII letters)."""
    return quote(url, safe="/#?=&.-_~")


def root_for(url: str) -> str:
    """The relative prefix from a page at ``url`` back to the site root."""
    depth = url.count("/")
    return "../" * depth


def relative(from_url: str, to_url: str) -> str:
    """A page-relative link from one site path to another."""
    start = posixpath.dirname(from_url) or "."
    return posixpath.relpath(to_url, start)


def name_of(format_name: str, extra: Mapping[str, object]) -> str | None:
    """The name a trace asks to be called in its file's URLs: a rollout row's ``id``, a Batch
    API line's ``custom_id`` (``extra["slug"]``); None for numbered traces."""
    if format_name.startswith("rollouts_") and extra.get("id") is not None:
        return str(extra["id"])
    slug = extra.get("slug")
    return str(slug) if isinstance(slug, str | int) and not isinstance(slug, bool) else None


def names_in_file(names: Sequence[str | None]) -> list[str] | None:
    """The slugs of a file's traces by their names (:func:`name_of`) when every one has a name
    and no two give one slug; None otherwise (then they are numbered -1, -2...)."""
    if len(names) < 2 or any(n is None for n in names):
        return None
    slugs = [slugify(str(n)) for n in names]
    return slugs if len(set(slugs)) == len(slugs) else None


def named_trace_url(file_slug: str, name: str) -> tuple[str, str]:
    """(slug, URL) of a named trace of a file: ``traces/<file>/<name>/index.html``."""
    return trace_url(f"{file_slug}/{name}", 0, 1)
