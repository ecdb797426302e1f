"""Per-token channels in the heatmap and the text view (SPEC §15): extra colour modes, the packed
values the browser code reads (``static/heatmap/channels.js``) and each mode's colour scale.

Only a trace that stores channels gets any of this: a trace without them renders exactly as
before (no extra columns, config, options or per-token bytes). The sampler's ``logprob`` is the
probability mode already and gets no mode of its own; the loss ``mask`` gets none either (it
dims the positions it hides in every mode) but, like every channel, is listed in the hover.

Values travel as one float32 array (``chv``, n values per channel), except what the browser
can rebuild: a constant channel (GRPO advantages are one number per rollout) is one number in
the config, a 0/1 mask is bits (``chm``), and a derived channel is recomputed from its sides.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from tracesite.core.options import COLOR_MODES
from tracesite.model.channels import DERIVED, ChannelInfo, channel_info
from tracesite.model.trace import Trace
from tracesite.render.modes import MODE_TITLES, channel_palette, mode_palette

AnyArray = npt.NDArray[Any]

#: Colour-mode keys of channels: the prefix and the channel's name (built-in modes have none).
MODE_PREFIX = "ch:"
#: The extra data columns of a trace with channels, in document order (before ``cfg``).
CHANNEL_COLUMNS = ("chv", "chm")
#: Colour scales of signed and sequential channels end at this percentile of the values (of
#: ``|v - centre|`` for signed ones), so one outlier does not wash every other position out.
PERCENTILE = 99.0
#: Kinds that get a colour mode (a mask dims instead).
_COLOURED = ("logprob", "signed", "sequential")


def shown_channels(trace: Trace) -> tuple[str, ...]:
    """The channels the page shows: every one but the sampler's logprob (the probability mode
    and the hover's own logprob line), and none when the trace stores no channels."""
    if not trace.channels:
        return ()
    return tuple(n for n in trace.channel_names if n != "logprob")


def info_of(trace: Trace, name: str) -> ChannelInfo:
    """How ``name`` is shown; an unknown stored channel is signed when it has negative values."""
    return channel_info(name, trace.channels.get(name))


@dataclass(frozen=True)
class ChannelPack:
    """What a trace with channels adds to its embed."""

    columns: dict[str, AnyArray]  # chv, chm
    entries: list[dict[str, Any]]  # cfg.ch: one per shown channel, in order
    modes: dict[str, dict[str, Any]]  # cfg.modes additions: one per coloured channel
    options: list[tuple[str, str]]  # (mode key, label) for the mode switch


def mode_title(info: ChannelInfo) -> str:
    """The colour bar's title in a channel's mode."""
    return f"{info.title} (as p)" if info.kind == "logprob" else info.title


def _source(trace: Trace, name: str, have: set[str]) -> tuple[dict[str, Any], AnyArray | None]:
    """How the browser gets a channel's values: derived from its sides (``d``), mask bits
    (``m``), one constant (``v``), or n float32 values in ``chv`` (``o``, filled by the caller)."""
    sides = DERIVED.get(name)
    if name not in trace.channels and sides and set(sides) <= have:
        return {"d": list(sides), "e": 1 if name == "ratio" else 0}, None
    values = trace.channel(name)
    if name == "mask" and np.isin(values, (0.0, 1.0)).all():
        return {"m": 1}, None
    if len(values) and np.isfinite(values[0]) and (values == values[0]).all():
        return {"v": float(values[0])}, None
    return {}, values.astype(np.float32)


def pack_channels(trace: Trace) -> ChannelPack | None:
    """The channel columns, config entries and modes of ``trace``; None when it has none."""
    names = shown_channels(trace)
    if not names:
        return None
    have = {"logprob", *names}
    parts: list[AnyArray] = []
    entries: list[dict[str, Any]] = []
    modes: dict[str, dict[str, Any]] = {}
    options: list[tuple[str, str]] = []
    for name in names:
        info = info_of(trace, name)
        entry, values = _source(trace, name, have)
        if values is not None:  # n values at chv[o * n:]
            entry["o"] = len(parts)
            parts.append(values)
        entry.update({"n": name, "k": info.kind, "c": info.centre, "u": info.unit})
        entries.append(entry)
        if info.kind in _COLOURED:
            key = MODE_PREFIX + name
            modes[key] = {**colour_scale(info, trace.channel(name)), "ch": len(entries) - 1}
            options.append((key, _option_label(info)))
    _share_palettes(modes)
    chv = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
    mask = trace.mask
    bits = (
        np.packbits(mask.astype(np.uint8), bitorder="little")
        if mask is not None and "m" in next(e for e in entries if e["n"] == "mask")
        else np.zeros(0, dtype=np.uint8)
    )
    return ChannelPack({"chv": chv, "chm": bits}, entries, modes, options)


def _share_palettes(modes: dict[str, dict[str, Any]]) -> None:
    """A palette an earlier mode already carries (a built-in one, or an earlier channel's) is
    named (``"as": mode``) instead of repeated: the config travels inside an escaped string."""
    seen: dict[tuple[str, ...], str] = {mode_palette(m): m for m in COLOR_MODES}
    for key, look in modes.items():
        colours = tuple(look["colors"])
        if colours in seen:
            del look["colors"]
            look["as"] = seen[colours]
        else:
            seen[colours] = key


def _option_label(info: ChannelInfo) -> str:
    """The mode switch's label: the channel's title, marked when a built-in mode has that name."""
    taken = {*MODE_TITLES, *(t.lower() for t in MODE_TITLES.values())}
    return f"{info.title} (channel)" if info.title.lower() in taken else info.title


# ----------------------------------------------------------------------------- colour scales
def colour_scale(info: ChannelInfo, values: npt.NDArray[np.float64]) -> dict[str, Any]:
    """A channel mode's look: title, palette, value range, colour-bar ticks and format, and a
    sentence saying how the scale was chosen (shown beside the mode switch)."""
    known = values[np.isfinite(values)]
    if info.kind == "logprob":
        lo, hi = 0.0, 1.0
        note = f"{info.title} shown as its probability, p = exp(logprob)"
    elif info.kind == "signed":
        lo, hi, note = _signed_range(info, known)
    else:
        lo, hi, note = _sequential_range(info, known)
    ticks, fmt = _ticks(lo, hi, info.centre if info.kind == "signed" else None)
    return {
        "title": mode_title(info),
        "colors": list(channel_palette(info.kind, info.name)),
        "range": [lo, hi],
        "ticks": ticks,
        "fmt": fmt,
        "note": note,
    }


def _g(x: float) -> str:
    return f"{x:.3g}"


def _signed_range(info: ChannelInfo, known: npt.NDArray[np.float64]) -> tuple[float, float, str]:
    """Symmetric around the centre: ± the 99th percentile of ``|v - centre|``."""
    c = info.centre
    dev = np.abs(known - c)
    half = float(np.percentile(dev, PERCENTILE)) if len(dev) else 0.0
    if not half > 0:
        top = float(dev.max()) if len(dev) else 0.0
        half = top if top > 0 else 1.0
    beyond = int((dev > half).sum())
    note = (
        f"{info.title}: diverging around {_g(c)}, scale {_g(c)} ± {_g(half)} "
        f"(the {PERCENTILE:g}th percentile of |value − {_g(c)}|)"
    )
    if beyond:
        note += f"; {beyond:,} beyond it drawn in the end colours"
    return c - half, c + half, note


def _sequential_range(
    info: ChannelInfo, known: npt.NDArray[np.float64]
) -> tuple[float, float, str]:
    """From the smallest value (0 when that is near 0) to the 99th percentile."""
    if not len(known):
        return 0.0, 1.0, f"{info.title}: no values given"
    least, top = float(known.min()), float(known.max())
    hi = float(np.percentile(known, PERCENTILE))
    lo = 0.0 if 0 <= least <= hi / 4 else least
    if not hi > lo:
        hi = top if top > lo else lo + 1.0
    above = int((known > hi).sum())
    note = f"{info.title}: scale {_g(lo)} to {_g(hi)} (the {PERCENTILE:g}th percentile)"
    if above:
        note += f"; {above:,} above it drawn in the top colour"
    return lo, hi, note


def _ticks(lo: float, hi: float, centre: float | None) -> tuple[list[float], str]:
    """About five round ticks over [lo, hi] (through the centre of a signed scale) and the
    printf format that shows them."""
    if lo == 0 and hi == 1:
        return [0.0, 0.2, 0.4, 0.6, 0.8, 1.0], "%.1f"
    raw = (hi - lo) / 4
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw * 0.999)
    base = centre if centre is not None else math.ceil(lo / step - 1e-9) * step
    first = base - math.floor((base - lo) / step + 1e-9) * step
    ticks = []
    t = first
    while t <= hi + step * 1e-6:
        ticks.append(float(f"{t:.12g}"))
        t += step
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    if abs(step * 10**decimals - round(step * 10**decimals)) > 1e-6:
        decimals += 1
    return ticks, f"%.{decimals}f"
