"""How each colour mode looks: its colour-bar title and its palette, defined here once.

The figure takes its first title from here and every embed's config carries all of them
(:func:`modes_config`), so the browser code (``heatmap.js``) recolours and retitles from the
embed, never from copies of its own. The palettes are Bokeh's ColorBrewer 9-class ones.
"""

from __future__ import annotations

from functools import cache

from tracesite.core.options import COLOR_MODES, ColorBy

#: Colour-bar titles per mode; the browser code switches them with the mode.
MODE_TITLES: dict[ColorBy, str] = {
    "probability": "Probability",
    "entropy": "Entropy (bits, lower bound)",
    "surprisal": "Surprisal (bits)",
}


@cache
def mode_palette(mode: ColorBy) -> tuple[str, ...]:
    """The mode's ColorBrewer anchors from ``bokeh.palettes``, light (low value) to dark; the
    browser interpolates between them."""
    from bokeh.palettes import Greens9, Purples9, YlOrBr9

    dark_first = {"probability": Greens9, "entropy": Purples9, "surprisal": YlOrBr9}[mode]
    return tuple(reversed(dark_first))


@cache  # built once per process, not once per trace; callers only serialise it
def modes_config() -> dict[str, dict[str, object]]:
    """``cfg.modes`` of an embed: ``{mode: {"title": ..., "colors": [...]}}``."""
    return {m: {"title": MODE_TITLES[m], "colors": list(mode_palette(m))} for m in COLOR_MODES}


#: Palettes of channel modes (SPEC §15), by :class:`~tracesite.model.channels.ChannelInfo` kind:
#: log probabilities as their p (the probability mode's greens), signed channels diverging (red
#: below the centre, white at it, blue above), entropy in the entropy mode's purples, any other
#: sequential channel in blues.
@cache
def channel_palette(kind: str, name: str) -> tuple[str, ...]:
    """A channel mode's anchors from ``bokeh.palettes``, low value to high."""
    from bokeh.palettes import Blues9, RdBu11

    if kind == "logprob":
        return mode_palette("probability")
    if kind == "signed":
        return tuple(reversed(RdBu11))  # RdBu11 runs blue to red
    if name == "entropy":
        return mode_palette("entropy")
    return tuple(reversed(Blues9))
