"""Template contexts (documented dataclasses) and Jinja rendering with the theme search path.

Templates receive ``site`` (:class:`SiteContext`) and ``page`` (one of the ``*Page`` classes).
A project's ``themes/<name>/templates/x.html`` shadows the built-in one and can extend it with
``{% extends "default:x.html" %}``. Autoescape is on; undefined variables are errors.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import jinja2
from markupsafe import Markup

from tracesite.core.config import Config, builtin_themes_dir
from tracesite.core.options import Highlight
from tracesite.core.safetext import utf8
from tracesite.core.version import __version__
from tracesite.model.summary import TraceSummary, token_literal
from tracesite.site.share import absolute_url
from tracesite.site.urls import tag_url, url_path

EMPTY = Markup("")  # immutable, so safe as a dataclass default


@dataclass(frozen=True)
class SiteContext:
    """``site`` in every template."""

    title: str
    description: str
    base_url: str
    version: str  # tracesite's version, for the footer and cache busting
    bokeh_js: tuple[
        str, ...
    ] = ()  # BokehJS files, site-relative ("assets/bokeh-3.9.2/bokeh.min.js")
    heatmap_css: tuple[str, ...] = ()  # heatmap CSS/JS files, site-relative
    heatmap_js: tuple[str, ...] = ()
    standalone: bool = False  # one self-contained file (tracesite render, show()): no site links
    inline_assets: Mapping[str, Markup] = field(default_factory=dict)  # path -> CSS/JS inlined

    @classmethod
    def of(
        cls,
        config: Config,
        assets: AssetPaths,
        *,
        title: str | None = None,
        inline_assets: Mapping[str, Markup] | None = None,
    ) -> SiteContext:
        """The context of a site built with ``config`` whose pages load ``assets``; with
        ``inline_assets``, one self-contained file that inlines them instead."""
        return cls(
            title=config.site.title if title is None else title,
            description=config.site.description,
            base_url=config.site.base_url,
            version=__version__,
            bokeh_js=assets.bokeh_js,
            heatmap_css=assets.heatmap_css,
            heatmap_js=assets.heatmap_js,
            standalone=inline_assets is not None,
            inline_assets=inline_assets or {},
        )


class AssetPaths(Protocol):
    """Where a page finds BokehJS and the heatmap's CSS and JS (site-relative paths)."""

    @property
    def bokeh_js(self) -> tuple[str, ...]: ...
    @property
    def heatmap_css(self) -> tuple[str, ...]: ...
    @property
    def heatmap_js(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class Card:
    """One trace in the gallery: everything its card and the search index show."""

    title: str
    url: str  # site-relative, e.g. "traces/evals/run1/index.html"
    slug: str
    section: str
    source: str  # path under content/
    model: str
    date: str  # ISO date or ""
    tags: tuple[str, ...]
    description: str
    n_tokens: int
    mean_prob: float | None
    perplexity: float | None
    sparkline: Markup  # inline SVG built from numbers only (no trace text)
    excerpt: str  # start of the generated text, for search
    group: str = ""
    scalars: tuple[tuple[str, str], ...] = ()  # (name, shown value): step, reward...
    scalar_json: str = ""  # the numeric scalars as JSON, for sorting in the browser
    n_flags: int = 0  # data checks that fired (model.checks)


def scalar_names(sections: Iterable[Section]) -> list[str]:
    """The numeric scalars any card has (step, reward...), first seen first: the sort options."""
    import json

    names: dict[str, None] = {}
    for sec in sections:
        for card in sec.cards:
            if card.scalar_json:
                names.update(dict.fromkeys(json.loads(card.scalar_json)))
    return list(names)


@dataclass(frozen=True)
class Section:
    name: str  # folder name under content/ ("" = top level)
    title: str  # the folder's index.md/_section.md front matter title, else from its name
    cards: tuple[Card, ...]
    description: str = ""  # that front matter's description ("" when none)
    intro_html: Markup = EMPTY  # that file's body, rendered: the section's introduction
    weight: float | None = None  # its order among sections (lower first; None after weighted)
    count: int = 0  # the section's traces in the whole gallery (``cards``: the first page's)


@dataclass(frozen=True)
class BasePage:
    """Fields every page has. ``root`` is the relative prefix from the page to the site root."""

    title: str
    root: str
    url: str  # site-relative URL of this page
    kind: str  # "index" | "trace" | "page" | "tag" | "tags" | "404"
    description: str = ""


@dataclass(frozen=True)
class IndexPage(BasePage):
    sections: tuple[Section, ...] = ()
    tags: tuple[tuple[str, int], ...] = ()  # (tag, number of traces)
    intro_html: Markup = EMPTY  # content/index.md, when present
    n_traces: int = 0  # in the whole gallery (``sections`` hold the first page only)
    first_cards: tuple[Card, ...] = ()  # the first page of cards, in gallery order
    page_size: int = 0  # cards a page shows (gallery.js draws the others from shards)
    meta_js: str = ""  # the gallery's meta shard, site-relative ("assets/index/meta.js")


@dataclass(frozen=True)
class TracePage(BasePage):
    card: Card | None = None
    heatmap_script: Markup = EMPTY
    heatmap_div: Markup = EMPTY
    text_view: Markup = EMPTY
    prompt_view: Markup = EMPTY  # the prompt's scored positions (vLLM prompt_logprobs), or ""
    stats: tuple[tuple[str, str], ...] = ()  # (label, value) rows
    metadata: tuple[tuple[str, str], ...] = ()
    note_html: Markup = EMPTY
    toc_html: Markup = EMPTY
    previous: Card | None = None
    next: Card | None = None
    marks: tuple[tuple[str, str], ...] = ()  # (label, "#pos-N") links beside the heatmap
    index_in_file: int = 0
    channels: tuple[tuple[str, str, str, str], ...] = ()  # (title, mean, min, max)
    provenance: tuple[tuple[str, str], ...] = ()  # (label, value): what the numbers mean
    flags: tuple[tuple[str, str], ...] = ()  # (message, "#pos-N" or ""): the data checks
    # sharing (site/share.py): hrefs from the site root, percent-encoded; "" when there is none
    source_href: str = ""  # the raw source file's copy ("sources/evals/run1.json")
    preview_href: str = ""  # the preview PNG (og:image), only when base_url is absolute
    share_description: str = ""  # og:description


@dataclass(frozen=True)
class StandalonePage(BasePage):
    body_html: Markup = EMPTY
    toc_html: Markup = EMPTY
    has_heatmap: bool = False  # the note embeds traces: load BokehJS


@dataclass(frozen=True)
class TagPage(BasePage):
    tag: str = ""
    cards: tuple[Card, ...] = ()  # past [build] max_pages: the first page of them
    n_total: int = 0  # traces with the tag
    more_url: str = ""  # the index filtered by the tag, when ``cards`` are not all of them


@dataclass(frozen=True)
class GroupPage(BasePage):
    """A group of sibling traces (SPEC §16): where their continuations split."""

    group: str = ""
    n_traces: int = 0
    n_unique: int = 0  # distinct token sequences
    first_divergence: int | None = None  # 1-based; None when all siblings are equal
    n_forks: int = 0
    siblings_html: Markup = EMPTY  # a table: each sibling with reward, length, mean p
    tree_html: Markup = EMPTY  # the prefix tree of the continuations, each branch a link
    forks_html: Markup = EMPTY  # a table: each fork's branches, entropy and alternatives
    figures_html: Markup = EMPTY  # Bokeh figures with their scripts (needs BokehJS)
    cards: tuple[Card, ...] = ()


@dataclass(frozen=True)
class TagsPage(BasePage):
    tags: tuple[tuple[str, str, int], ...] = ()  # (tag, url, count)


@dataclass(frozen=True)
class ErrorPage(BasePage):
    """404.html: served at any depth, so its links are absolute under the base path."""

    base_path: str = "/"


PAGE_TEMPLATES = {
    "index": "index.html",
    "trace": "trace.html",
    "page": "page.html",
    "tag": "tag.html",
    "tags": "tags.html",
    "group": "group.html",
    "404": "404.html",
}


def make_env(config: Config) -> jinja2.Environment:
    """Jinja environment: the theme chain, plus ``default:`` for the built-in default theme."""
    dirs = [str(d / "templates") for d in config.build.theme_dirs if (d / "templates").is_dir()]
    builtin = jinja2.FileSystemLoader(str(builtin_themes_dir() / "default" / "templates"))
    loader = jinja2.ChoiceLoader(
        [jinja2.FileSystemLoader(dirs), jinja2.PrefixLoader({"default": builtin}, delimiter=":")]
    )
    env = jinja2.Environment(
        loader=loader,
        autoescape=True,
        finalize=_visible_nul,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["fmt"] = format_number
    env.filters["urlpath"] = url_path
    env.filters["tag_url"] = lambda tag: tag_url(str(tag))
    env.filters["digest"] = digest
    env.filters["scalar_names"] = scalar_names
    env.filters["absolute_url"] = absolute_url  # site/share.py: "" unless base_url is absolute
    return env


def _visible_nul(value: object) -> object:
    """Every printed value: U+0000 becomes U+FFFD (an HTML parser drops NUL, merging text)."""
    if isinstance(value, str) and "\x00" in value:
        fixed = value.replace("\x00", "\ufffd")
        return Markup(fixed) if isinstance(value, Markup) else fixed
    return value


def digest(value: object) -> str:
    """A short content hash, e.g. to name a ``data-live-keep`` region by what it holds."""
    return hashlib.sha1(
        str(value).encode("utf-8", "surrogatepass"), usedforsecurity=False
    ).hexdigest()[:16]


def format_number(value: float | int | None, digits: int = 2) -> str:
    if value is None:
        return "–"
    if isinstance(value, int):
        return f"{value:,}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


@dataclass
class Renderer:
    """Renders pages with one Jinja environment; cheap to create once per build."""

    config: Config
    site: SiteContext
    env: jinja2.Environment | None = None  # one of make_env(config), else made here

    def __post_init__(self) -> None:
        if self.env is None:
            self.env = make_env(self.config)

    def render(self, page: BasePage) -> bytes:
        """The page as UTF-8. Encoded piece by piece as Jinja yields them: ``render()`` would
        first hold every piece as a string (an index of 2,000 cards: ~200,000 strings, a
        24 MB peak for a 2.7 MB page), which made peak memory grow with the gallery."""
        assert self.env is not None
        template = self.env.get_template(PAGE_TEMPLATES[page.kind])
        out = bytearray()
        for piece in template.generate(site=self.site, page=page):
            out += utf8(piece)  # a lone surrogate fails no page (core.safetext)
        return bytes(out)


def theme_static_dirs(theme_dirs: Sequence[Path]) -> list[Path]:
    """Static folders of the theme chain, built-in first so a project's files win."""
    return [d / "static" for d in reversed(theme_dirs) if (d / "static").is_dir()]


def trace_marks(
    highlights: Sequence[Highlight], summary: TraceSummary, low_confidence: float
) -> tuple[tuple[str, str], ...]:
    """``TracePage.marks``: the note's highlights, then the lowest-p positions the summary kept
    (the heatmap flags them all; the list names the lowest), as (label, ``#pos-N``) links; a
    low-confidence link names its token and p: ``14 " primarily" 0.47``."""
    marks = [(h.label or f"positions {h.start}–{h.end}", f"#pos-{h.start}") for h in highlights]
    low, texts, ps = summary.low_confidence, summary.low_tokens, summary.low_p
    named = len(texts) == len(ps) == len(low)  # else a summary from before they were kept
    for k, p in enumerate(low):
        label = f"{p} {token_literal(texts[k])} {ps[k]:.2f}" if named else ""
        marks.append((label or f"p < {low_confidence:g} at {p}", f"#pos-{p}"))
    hidden = summary.n_low_confidence - len(summary.low_confidence)
    if hidden > 0:
        marks.append((f"… and {hidden} more with p < {low_confidence:g}", "#"))
    return tuple(marks)
