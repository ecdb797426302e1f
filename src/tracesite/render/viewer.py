"""The viewer page, ``view/index.html``: any trace of a big gallery, drawn from its token shard.

A gallery past ``[build] max_pages`` gives traces without a note no page of their own; their cards
link to ``view/index.html?t=<shard>.<k>`` instead (see ``docs/scale.md``). This one page carries
an empty heatmap embed (:func:`~tracesite.render.heatmap.render_empty_heatmap`); its script
(``static/viewer.js``) reads ``?t=``, loads ``assets/tokens/<shard>.js`` and the trace's
card, and hands the trace's columns to ``TracesiteHeatmap.load``: the same heatmap, hover, text
view and ``#pos-N`` as a trace page, for no page per trace.
"""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup

from tracesite.core.options import HeatmapOptions
from tracesite.core.safetext import utf8
from tracesite.render.heatmap import render_empty_heatmap
from tracesite.site.pages import EMPTY, BasePage, Renderer

#: The viewer's URL, site-relative; a trace's is this with ``?t=<shard>.<k>``.
VIEWER_URL = "view/index.html"
#: The theme template of the viewer page (extends ``base.html``).
VIEWER_TEMPLATE = "viewer.html"


@dataclass(frozen=True)
class ViewerPage(BasePage):
    """``page`` in ``viewer.html``: the empty heatmap embed its script fills."""

    heatmap_script: Markup = EMPTY
    heatmap_div: Markup = EMPTY


def viewer_page(options: HeatmapOptions) -> ViewerPage:
    """The viewer page's context: one directory below the site root."""
    script, div = render_empty_heatmap(options)
    return ViewerPage(
        title="Trace viewer",
        root="../",
        url=VIEWER_URL,
        kind="viewer",
        heatmap_script=Markup(script),
        heatmap_div=Markup(div),
    )


def render_viewer(renderer: Renderer, options: HeatmapOptions) -> bytes:
    """``view/index.html`` as UTF-8, rendered with the theme's ``viewer.html``."""
    assert renderer.env is not None
    template = renderer.env.get_template(VIEWER_TEMPLATE)
    out = bytearray()
    for piece in template.generate(site=renderer.site, page=viewer_page(options)):
        out += utf8(piece)
    return bytes(out)
