"""The trace heatmap: a Bokeh figure drawn a viewport at a time by ``static/heatmap/heatmap.js``.

Bokeh is imported by ``render`` modules only, inside functions (the import alone costs ~0.5 s).
The embed carries one data source per trace (see :mod:`tracesite.render.cells`) and a handful of
empty drawing sources; the browser code fills the drawing sources with the rows near
the viewport whenever the y range moves, builds tooltips with ``textContent`` and draws the
overview strip. Pages must load BokehJS before the embed script (it calls ``Bokeh.safely`` at once)
and the heatmap assets before or after it (the browser code queues): see
:mod:`tracesite.render.assets`.
"""

from __future__ import annotations

import html
import json
import re
import uuid
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from tracesite.core.options import COLOR_MODES, ColorBy, HeatmapOptions
from tracesite.model.trace import Trace
from tracesite.render.cells import UNIT_PX, column_names, layout_for, pack_trace
from tracesite.render.channels import ChannelPack, pack_channels
from tracesite.render.glyphs import build_figure
from tracesite.render.modes import modes_config


def _mode_select(current: str, channels: ChannelPack | None = None) -> str:
    opts = "".join(
        f'<option value="{m}"{" selected" if m == current else ""}>{m}</option>'
        for m in COLOR_MODES
    )
    if channels and channels.options:  # channel names come from the data: escaped
        opts += (
            '<optgroup label="channels">'
            + "".join(
                f'<option value="{html.escape(key)}">{html.escape(label)}</option>'
                for key, label in channels.options
            )
            + "</optgroup>"
        )
    return (
        f'<label class="tsh-mode-label">Colour by <select class="tsh-mode">{opts}</select></label>'
    )


_LEGEND = (
    '<span class="tsh-legend" aria-hidden="true">'
    '<span class="tsh-key tsh-key-chosen"></span>chosen token'
    '<span class="tsh-key tsh-key-unknown"></span>p not given'
    '<span class="tsh-key tsh-key-low"></span>low confidence'
    '<span class="tsh-key tsh-key-hl"></span>highlight</span>'
)
#: A channel mode's scale in words (filled by the browser code), on a line of its own.
_SCALE = '<span class="tsh-scale"></span>'
#: Where the browser code says the focused position (token, position, p) to screen readers.
_LIVE = '<div class="tsh-live" role="status" aria-live="polite"></div>'
_MASKED_KEY = '<span class="tsh-key tsh-key-masked"></span>masked (not in the loss)</span>'


def _legend(trace: Trace, channels: ChannelPack | None) -> str:
    """The key; with channels, the masked positions' key (when some are)."""
    mask = trace.mask
    if channels is None or mask is None or mask.all():
        return _LEGEND
    return _LEGEND.removesuffix("</span>") + _MASKED_KEY


def _wrap(
    div: str, trace: Trace, options: HeatmapOptions, uid: str, channels: ChannelPack | None = None
) -> str:
    """Our container around Bokeh's div: controls, overview strip and tooltip (all escaped)."""
    lay = layout_for(trace, options)
    first = options.position_offset + 1
    last = options.position_offset + trace.n_tokens
    label = html.escape(
        f"Token heatmap, positions {first}–{last}; hover or tap a cell for its alternatives, "
        "or move through the positions with the arrow keys",
        quote=True,
    )
    overview = (
        f'<canvas class="tsh-overview" height="{lay.view_px}" role="scrollbar" '
        f'aria-controls="{uid}" aria-orientation="vertical" aria-valuemin="0" '
        f'aria-valuemax="100" aria-valuenow="0" style="height:{lay.view_px}px;margin-top:4px" '
        f'aria-label="Overview of the whole trace; click to jump"></canvas>'
        if lay.scrolls
        else ""
    )
    bar = _mode_select(options.color_by, channels) + _legend(trace, channels)
    scale = _SCALE if channels else ""
    return _container(uid, label, trace.n_tokens, bar, scale, div, lay.view_px, overview)


def _container(
    uid: str, label: str, n: int, bar: str, scale: str, div: str, view_px: int, overview: str
) -> str:
    """The heatmap's container: the controls (``bar`` and ``scale``, escaped by the caller),
    the plot and its overview strip, the tooltip and the live region."""
    return (
        f'<div class="tsh" id="{uid}" tabindex="0" aria-label="{label}" data-n="{n}">'
        f'<div class="tsh-bar">{bar}<span class="tsh-where"></span>{scale}</div>'
        f'<div class="tsh-main"><div class="tsh-plot" style="min-height:{view_px + 8}px">'
        f"{div}</div>"
        f"{overview}</div>"
        '<div class="tsh-tip" role="tooltip" hidden></div>'
        f"{_LIVE}</div>"
    )


# Placeholders of the document template: a frame height no trace has (the y range's start is
# derived from it) and one string per data column.
_FRAME_SENTINEL = UNIT_PX * 333331
_FRAME_RE = re.compile(r'"frame_height":9999930\b')
_START_RE = re.compile(r'"start":333331(?:\.0)?\b')
_ID_RE = re.compile(r'"(p\d+)"')
_WAIT_FOR_DOM = '  if (document.readyState != "loading") fn();\n'


def _placeholder(name: str) -> str:
    return f"@@tsh:{name}@@"


@dataclass(frozen=True)
class _Template:
    """``components()`` output of a heatmap with placeholders for everything per trace."""

    script: str
    div: str


def _js_json(obj: Any) -> str:
    """JSON escaped the way ``bokeh.embed`` escapes its document inside the embed script."""
    from bokeh.core.json_encoder import serialize_json

    text = serialize_json(obj)
    return html.escape(text, quote=False).replace("'", "&#x27;").replace("\\", "\\\\")


@cache
def _template(columns: int, mode: ColorBy, channels: bool = False) -> _Template:
    """Build the Bokeh models once per (columns, mode, channels or not); only data and sizes
    vary per trace.

    Building ~60 models and serialising them costs ~200 ms, so a 1,000-trace gallery would spend
    minutes here; the template is filled in ~1 ms. ``tests/test_heatmap.py`` checks the result
    equals ``components()`` of the same figure built directly.
    """
    from bokeh.embed import components

    placeholders = {k: [_placeholder(k)] for k in column_names(channels)}
    plot = build_figure(
        placeholders, columns=columns, mode=mode, frame_px=_FRAME_SENTINEL, channels=channels
    )
    script, div = components(plot)
    docid = re.search(r'"docid":"([^"]+)"', script)
    elementid = re.search(r'<div id="([^"]+)"', div)
    if not (docid and elementid and _FRAME_RE.search(script) and _START_RE.search(script)):
        raise RuntimeError("unexpected bokeh.embed.components() output; cannot build the template")
    # Bokeh's script waits for DOMContentLoaded, i.e. for the whole page to be parsed (50,000
    # text-view spans take ~0.5 s); our div always comes before the script, so start at once
    # when it is there and only otherwise wait.
    if script.count(_WAIT_FOR_DOM) != 1:
        raise RuntimeError("unexpected bokeh.embed.components() script; cannot build the template")
    present = f'document.getElementById("{elementid.group(1)}")'
    script = script.replace(
        _WAIT_FOR_DOM, f'  if (document.readyState != "loading" || {present}) fn();\n'
    )
    out = []
    for text in (script, div):
        text = text.replace(docid.group(1), "@@tsh:docid@@")
        text = text.replace(elementid.group(1), "@@tsh:elementid@@")
        text = _ID_RE.sub(r'"@@tsh:idp@@\1"', text)  # model ids unique per embed
        text = text.replace('data-root-id="p', 'data-root-id="@@tsh:idp@@p')
        out.append(text)
    return _Template(script=out[0], div=out[1])


def _fill(template: _Template, columns: dict[str, Any], frame_px: int, uid: str) -> tuple[str, str]:
    from bokeh.core.serialization import Serializer

    encode = Serializer(deferred=False).encode
    ids = {"idp": uid[4:], "docid": str(uuid.uuid4()), "elementid": str(uuid.uuid4())}
    script, div = template.script, template.div
    for key, new in ids.items():  # ids first: trace text cannot contain a placeholder by then
        script = script.replace(f"@@tsh:{key}@@", new)
        div = div.replace(f"@@tsh:{key}@@", new)
    script = _FRAME_RE.sub(f'"frame_height":{frame_px}', script, count=1)
    script = _START_RE.sub(f'"start":{frame_px / UNIT_PX!r}', script, count=1)
    for name in column_names("chv" in columns):  # in document order; cfg (user text) last
        script = script.replace(f'"{_placeholder(name)}"', _js_json(encode(columns[name])), 1)
    return script, div


def _new_uid() -> str:
    """``tsh-`` and 10 random hex digits: the container id; its tail prefixes Bokeh model ids."""
    return f"tsh-{uuid.uuid4().hex[:10]}"


def render_heatmap(trace: Trace, options: HeatmapOptions) -> tuple[str, str]:
    """The heatmap of one trace as ``(script, div)`` for a page (``bokeh.embed.components``).

    The page must also load BokehJS and the heatmap assets (:mod:`tracesite.render.assets`).
    """
    uid = _new_uid()
    lay = layout_for(trace, options)
    channels = pack_channels(trace)
    columns = pack_trace(trace, options, uid, channels)
    template = _template(lay.columns, options.color_by, channels is not None)
    script, div = _fill(template, columns, lay.view_px, uid)
    return script, _wrap(div, trace, options, uid, channels)


#: Frame height of the viewer's empty embed until a trace is loaded into it (units).
_EMPTY_VIEW_UNITS = 12


def render_empty_heatmap(options: HeatmapOptions) -> tuple[str, str]:
    """An embed with no trace yet, as ``(script, div)``: the viewer page's, which
    ``TracesiteHeatmap.load`` fills with a trace's columns from its token shard (any trace,
    with channels or without: the template is the channels one, whose extra source stays empty
    for a trace without)."""
    uid = _new_uid()
    columns: dict[str, Any] = {k: np.zeros(0, dtype=np.uint8) for k in column_names(True)}
    # the built-in colour modes, once for all traces (token shards leave them out)
    columns["cfg"] = json.dumps({"uid": uid, "wait": 1, "modes": modes_config()})
    template = _template(options.columns, options.color_by, True)
    script, div = _fill(template, columns, _EMPTY_VIEW_UNITS * UNIT_PX, uid)
    label = "Token heatmap; hover or tap a cell for its alternatives, or use the arrow keys"
    bar = _mode_select(options.color_by) + _LEGEND
    container = _container(uid, label, 0, bar, _SCALE, div, _EMPTY_VIEW_UNITS * UNIT_PX, "")
    return script, container


def render_heatmap_direct(trace: Trace, options: HeatmapOptions) -> tuple[str, str]:
    """:func:`render_heatmap` without the template: slow; the reference the template is tested
    against."""
    from bokeh.embed import components

    uid = _new_uid()
    lay = layout_for(trace, options)
    channels = pack_channels(trace)
    data = {k: [v] for k, v in pack_trace(trace, options, uid, channels).items()}
    plot = build_figure(
        data,
        columns=lay.columns,
        mode=options.color_by,
        frame_px=lay.view_px,
        channels=channels is not None,
    )
    script, div = components(plot)
    return script, _wrap(div, trace, options, uid, channels)
