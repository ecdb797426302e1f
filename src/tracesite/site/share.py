"""Sharing a trace page: where its raw source file and its preview image land in the site, and
the absolute URLs of ``<link rel="canonical">`` and the OpenGraph/Twitter tags.

One rule each: a source file is copied once to ``sources/<path under content/>`` (a Parquet table
of 1,000 rollouts is one copy shared by its 1,000 pages), a trace's preview image is
``previews/<slug>.png`` (outside ``traces/``, so no slug can collide with it), and absolute URLs
exist only when ``[site] base_url`` names a host.
"""

from __future__ import annotations

import re
from typing import Protocol
from urllib.parse import quote

#: Where the raw source files are copied, under the site root.
SOURCES_DIR = "sources"
#: Where the preview images (og:image) are written, under the site root.
PREVIEWS_DIR = "previews"
#: Larger sources are not copied: GitHub refuses a pushed file over 100 MiB (deploy/publish.py),
#: so a copy would make the site unpublishable. Their pages have no download link.
MAX_SOURCE_BYTES = 100 * 1024 * 1024
#: Copies stop past this total: GitHub Pages refuses a site over 1 GB, and the pages come first.
MAX_SOURCES_TOTAL = 512 * 1024 * 1024
#: The preview image's size: what OpenGraph and ``summary_large_image`` cards show (1.91:1).
PREVIEW_SIZE = (1200, 630)

_ABSOLUTE = re.compile(r"^https?://[^/]", re.I)


def source_path(rel: str) -> str:
    """The site path of the copy of the content file ``rel`` (posix, under ``content/``)."""
    return f"{SOURCES_DIR}/{rel}"


def preview_path(slug: str) -> str:
    """The site path of the preview image of the trace with ``slug``."""
    return f"{PREVIEWS_DIR}/{slug}.png"


def href(site_path: str) -> str:
    """A site path as an href: every character but ``/`` percent-encoded, so a file name holding
    ``#``, ``?``, ``%`` or a space still names the file (file names are untrusted)."""
    return quote(site_path, safe="/")


def is_absolute(base_url: str) -> bool:
    """Whether ``base_url`` names a host (then absolute URLs can be written)."""
    return bool(_ABSOLUTE.match(base_url))


def absolute_url(url: str, base_url: str) -> str:
    """The absolute URL of the site path ``url`` (``traces/x/index.html`` -> ``https://u.github.io/
    repo/traces/x/``), or "" when ``base_url`` is relative: no canonical URL can be known then."""
    if not is_absolute(base_url):
        return ""
    base = base_url if base_url.endswith("/") else base_url + "/"
    path = url.removesuffix("index.html")
    return base + href(path)


class CardLike(Protocol):
    """What :func:`share_description` reads of a :class:`~tracesite.site.pages.Card`."""

    @property
    def description(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def n_tokens(self) -> int: ...
    @property
    def mean_prob(self) -> float | None: ...
    @property
    def perplexity(self) -> float | None: ...


def share_description(card: CardLike) -> str:
    """og:description of a trace: its note's description, else what the numbers say
    (``gpt-4o · 1,234 tokens · mean p 0.871 · perplexity 1.32``)."""
    if card.description:
        return card.description
    parts = [card.model] if card.model else []
    parts.append(f"{card.n_tokens:,} tokens")
    if card.mean_prob is not None:
        parts.append(f"mean p {card.mean_prob:.3f}")
    if card.perplexity is not None:
        parts.append(f"perplexity {card.perplexity:.3g}")
    return " · ".join(parts)
