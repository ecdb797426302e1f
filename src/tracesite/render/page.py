"""One trace as one self-contained page, made from the theme's ``trace.html`` as a built trace
page is: ``tracesite render FILE`` and ``tracesite.show()``.

The page context is built by the site's own rules (the card, :func:`~tracesite.site.gallery.
stat_rows`, :func:`~tracesite.site.gallery.metadata_rows`, :func:`~tracesite.site.pages.
trace_marks`), so it has the same headings and labels; ``site.standalone`` makes the templates
inline every asset (BokehJS, the theme's CSS and JS, the heatmap's) and leave out the links to
the rest of a gallery, so the file opens from ``file://`` with no network. A project's theme
(``themes/<name>/`` beside the nearest ``tracesite.toml``) reaches the page like a build.
"""

from __future__ import annotations

from markupsafe import Markup

from tracesite.core.config import Config
from tracesite.core.options import HeatmapOptions
from tracesite.model.summary import summarise
from tracesite.model.trace import Trace
from tracesite.render.assets import inline_assets
from tracesite.render.fragments import render_fragments
from tracesite.site.discover import TraceSource
from tracesite.site.gallery import TraceEntry, make_card, make_trace_page
from tracesite.site.notes import Note
from tracesite.site.pages import Renderer, SiteContext, TracePage

#: The site title of a page outside any project (no ``tracesite.toml`` above it).
NO_PROJECT_TITLE = "tracesite"


def trace_page(
    trace: Trace,
    options: HeatmapOptions,
    *,
    source: TraceSource,
    n_in_file: int,
    note: Note | None = None,
    note_html: str = "",
    url: str = "index.html",
) -> TracePage:
    """The ``page`` of trace ``trace.meta.index`` of ``source``, as a build would make it (no
    neighbours: a single page has no previous or next)."""
    summary = summarise(trace, n_in_file, options)
    card = make_card(source, summary, note)
    entry = TraceEntry(source=source, index=summary.index, cache_key="", note=note, card=card)
    return make_trace_page(
        entry,
        summary,
        render_fragments(trace, options),
        note_html=Markup(note_html),
        low_confidence=options.low_confidence,
        url=url,
    )


def single_file_html(page: TracePage, config: Config, *, bokeh_js: str | None = None) -> str:
    """``page`` rendered with the theme's ``trace.html``, every asset inlined.

    ``bokeh_js`` replaces BokehJS's own code (a notebook frame loads it from the notebook page).
    """
    assets = inline_assets(config.build.theme_dirs, bokeh_js=bokeh_js)
    title = config.site.title if config.path is not None else NO_PROJECT_TITLE
    site = SiteContext.of(config, assets, title=title, inline_assets=assets.text)
    return Renderer(config, site).render(page).decode("utf-8")
