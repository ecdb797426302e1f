"""Channels in the heatmap embed and the text view (no browser; SPEC §15, issue 12 point 3).

What a page receives for a trace with channels: the packed values (float32 round trip, constants,
mask bits, derived channels rebuilt from their sides), each channel mode's palette and scale, the
mode switch, the masked text-view spans; and that a trace without channels receives none of it.
Browser behaviour is in test_channels_browser.py.
"""

from __future__ import annotations

import html
import json
import math
from typing import Any

import numpy as np
import pytest

from test_heatmap import HOSTILE, _normalised, data_columns, decode_ndarray, synthetic_trace
from test_textview import parse
from tracesite.core.options import COLOR_MODES, HeatmapOptions
from tracesite.model.trace import Trace
from tracesite.render.cells import COLUMN_NAMES, pack_trace
from tracesite.render.channels import MODE_PREFIX, colour_scale, info_of, pack_channels
from tracesite.render.heatmap import render_heatmap, render_heatmap_direct
from tracesite.render.modes import mode_palette, modes_config
from tracesite.render.textview import render_text_view


def rollout(n: int = 200, seed: int = 0, **extra: Any) -> Trace:
    """A rollout-shaped trace: sampler logprobs, no alternatives, and the usual channels."""
    rng = np.random.default_rng(seed)
    lp = -rng.exponential(0.4, n)
    lp[7] = -9999.0  # a sentinel: not given
    train = lp + rng.normal(0, 0.05, n)
    train[3] = math.nan
    entropy = rng.exponential(0.5, n)
    entropy[n // 4] = 40.0  # one outlier: must not set the scale
    mask = np.ones(n)
    mask[:10] = 0
    channels = {
        "train_logprob": train,
        "entropy": entropy,
        "advantage": np.linspace(-1.5, 2.0, n),
        "mask": mask,
        **extra,
    }
    return Trace(tokens=[f" w{i % 17}" for i in range(n)], logprobs=lp, channels=channels)


def cfg_of(script: str) -> dict[str, Any]:
    cfg: dict[str, Any] = json.loads(data_columns(script)["cfg"])
    return cfg


def colours(modes: dict[str, Any], key: str) -> list[str]:
    """A mode's palette as the browser resolves it: its own, or the one of the mode it names."""
    look = modes[key]
    if "colors" in look:
        return list(look["colors"])
    return list({**modes_config(), **modes}[look["as"]]["colors"])


def unpack(trace: Trace, script: str) -> dict[str, np.ndarray]:
    """Every shown channel's values as the browser rebuilds them (channels.js Channels)."""
    cols = data_columns(script)
    cfg = json.loads(cols["cfg"])
    n = trace.n_tokens
    chv = decode_ndarray(cols["chv"]).astype(np.float64)
    bits = np.unpackbits(decode_ndarray(cols["chm"]), bitorder="little")[:n].astype(np.float64)
    got: dict[str, np.ndarray] = {"logprob": trace.logprobs.astype(np.float32).astype(np.float64)}
    for e in cfg["ch"]:
        if "o" in e:
            v = chv[e["o"] * n : (e["o"] + 1) * n]
        elif "v" in e:
            v = np.full(n, e["v"])
        elif "m" in e:
            v = bits
        else:
            with np.errstate(invalid="ignore"):
                d = got[e["d"][0]] - got[e["d"][1]]
            v = np.exp(d) if e["e"] else d
        got[e["n"]] = v
    return got


# ------------------------------------------------------------------------ without channels
def test_a_trace_without_channels_gets_nothing_new() -> None:
    trace = synthetic_trace(300, seed=4)
    assert pack_channels(trace) is None
    cols = pack_trace(trace, HeatmapOptions(), "tsh-x")
    assert tuple(cols) == COLUMN_NAMES
    script, div = render_heatmap(trace, HeatmapOptions())
    cfg = cfg_of(script)
    assert "ch" not in cfg and list(cfg["modes"]) == list(COLOR_MODES)
    assert "optgroup" not in div and "tsh-scale" not in div and "masked" not in div
    assert '"masked"' not in script  # no masked positions' source
    assert " mk" not in render_text_view(trace, HeatmapOptions())


# ------------------------------------------------------------------------ packing
def test_packed_channels_round_trip_within_float32() -> None:
    trace = rollout()
    script, _ = render_heatmap(trace, HeatmapOptions())
    got = unpack(trace, script)
    assert set(got) == {"logprob", *trace.channel_names}
    for name in trace.channel_names:
        want = trace.channel(name)
        assert np.array_equal(np.isnan(got[name]), np.isnan(want)), name
        known = ~np.isnan(want)
        # stored values travel as float32; derived ones are rebuilt from float32 sides
        np.testing.assert_allclose(got[name][known], want[known], rtol=2e-6, atol=2e-6)
    assert math.isnan(got["train_logprob"][3]) and math.isnan(got["delta_logprob"][7])


def test_what_the_browser_can_rebuild_is_not_sent_per_token() -> None:
    n = 500
    trace = rollout(n, advantage=np.full(n, 0.75))  # GRPO: one advantage per rollout
    pack = pack_channels(trace)
    assert pack is not None
    by_name = {e["n"]: e for e in pack.entries}
    assert by_name["advantage"] == {"v": 0.75, "n": "advantage", "k": "signed", "c": 0.0, "u": ""}
    assert by_name["mask"]["m"] == 1  # a 0/1 mask travels as bits
    assert by_name["delta_logprob"]["d"] == ["train_logprob", "logprob"]
    assert by_name["ratio"]["d"] == ["train_logprob", "logprob"] and by_name["ratio"]["e"] == 1
    # only train_logprob and entropy are float32 arrays; the mask is n / 8 bytes
    assert pack.columns["chv"].dtype == np.float32 and len(pack.columns["chv"]) == 2 * n
    assert pack.columns["chm"].dtype == np.uint8 and len(pack.columns["chm"]) == -(-n // 8)
    bare = Trace(tokens=list(trace.tokens), logprobs=trace.logprobs)
    with_ch = sum(map(len, render_heatmap(trace, HeatmapOptions())))
    without = sum(map(len, render_heatmap(bare, HeatmapOptions())))
    # two float32 channels (5.33 B/token in base64), the mask bits and ~4 kB for the page
    assert with_ch - without < n * (2 * 5.34 + 0.17) + 4_500


def test_mask_bits_are_the_models_mask() -> None:
    trace = rollout(37)
    pack = pack_channels(trace)
    assert pack is not None and trace.mask is not None
    bits = np.unpackbits(pack.columns["chm"], bitorder="little")[: trace.n_tokens]
    assert np.array_equal(bits.astype(bool), trace.mask)
    assert not trace.mask[:10].any() and trace.mask[10:].all()


def test_a_mask_that_is_not_0_or_1_travels_as_values() -> None:
    weights = np.ones(40)
    weights[:5] = 0.0
    weights[5:8] = 0.5
    weights[8] = math.nan  # unknown: counts, as in Trace.mask
    trace = rollout(40, mask=weights)
    script, _ = render_heatmap(trace, HeatmapOptions())
    got = unpack(trace, script)
    mask = {e["n"]: e for e in cfg_of(script)["ch"]}["mask"]
    assert "o" in mask and len(decode_ndarray(data_columns(script)["chm"])) == 0
    assert np.array_equal(got["mask"][:8], weights[:8]) and math.isnan(got["mask"][8])
    assert trace.mask is not None
    assert np.array_equal(~(got["mask"] == 0), trace.mask)  # how channels.js dims


def test_the_template_gives_what_bokeh_components_gives_for_channels() -> None:
    trace = rollout(333)
    fast, _ = render_heatmap(trace, HeatmapOptions(columns=9))
    direct, _ = render_heatmap_direct(trace, HeatmapOptions(columns=9))
    assert _normalised(fast) == _normalised(direct)
    assert '"masked"' in fast


# ------------------------------------------------------------------------ palettes and scales
def test_signed_channels_get_a_diverging_palette_centred_on_their_centre() -> None:
    from bokeh.palettes import RdBu11

    trace = rollout(400)
    modes = pack_channels(trace).modes  # type: ignore[union-attr]
    for name, centre in (("advantage", 0.0), ("delta_logprob", 0.0), ("ratio", 1.0)):
        look = modes[MODE_PREFIX + name]
        lo, hi = look["range"]
        assert lo < centre < hi and (lo + hi) / 2 == pytest.approx(centre), name
        palette = colours(modes, MODE_PREFIX + name)
        assert palette == list(reversed(RdBu11))  # red below, blue above
        assert palette[len(palette) // 2] == "#f7f7f7"  # white at the centre
        assert centre in look["ticks"] and look["title"] == info_of(trace, name).title
        values = trace.channel(name)
        dev = np.abs(values[np.isfinite(values)] - centre)
        assert hi - centre == pytest.approx(np.percentile(dev, 99)), name
        assert "99th percentile" in look["note"]


def test_one_outlier_does_not_wash_the_scale_out_and_the_note_says_so() -> None:
    trace = rollout(400)
    modes = pack_channels(trace).modes  # type: ignore[union-attr]
    look = modes[MODE_PREFIX + "entropy"]
    from bokeh.palettes import Purples9

    assert colours(modes, MODE_PREFIX + "entropy") == list(reversed(Purples9))
    assert look["as"] == "entropy" and look["title"] == "entropy"  # named, not repeated
    lo, hi = look["range"]
    assert lo == 0 and hi < 10  # the 40-nat outlier is drawn in the top colour
    assert "above it drawn in the top colour" in look["note"]


def test_a_log_probability_channel_is_coloured_as_its_p() -> None:
    modes = pack_channels(rollout()).modes  # type: ignore[union-attr]
    look = modes[MODE_PREFIX + "train_logprob"]
    assert look["title"] == "trainer logprob (as p)" and look["range"] == [0.0, 1.0]
    assert colours(modes, MODE_PREFIX + "train_logprob") == list(mode_palette("probability"))


def test_unknown_channels_are_signed_when_negative_and_scales_stay_finite() -> None:
    n = 30
    trace = rollout(
        n, kl=np.linspace(-0.2, 0.1, n), steps=np.arange(n) * 10.0, empty=np.full(n, np.nan)
    )
    modes = pack_channels(trace).modes  # type: ignore[union-attr]
    assert colours(modes, "ch:kl")[5] == "#f7f7f7"  # diverging
    assert modes["ch:steps"]["range"][0] == 0 and colours(modes, "ch:steps")[0] != "#f7f7f7"
    assert modes["ch:empty"]["range"] == [0.0, 1.0]
    for look in modes.values():
        assert all(math.isfinite(x) for x in (*look["range"], *look["ticks"]))
        assert len(look["ticks"]) >= 2 and look["fmt"].startswith("%.")


@pytest.mark.parametrize(
    ("lo", "hi", "centre"), [(-0.0034, 0.0034, 0.0), (0.2, 1.8, 1.0), (0, 1.93, None), (-7, 7, 0)]
)
def test_colour_bar_ticks_are_round_and_inside_the_scale(lo: float, hi: float, centre: Any) -> None:
    from tracesite.model.channels import ChannelInfo

    kind = "sequential" if centre is None else "signed"
    info = ChannelInfo("x", "x", kind, centre=centre or 0.0)
    values = np.array([lo, hi]) if centre is None else np.array([lo, hi, centre])
    look = colour_scale(info, values)
    ticks = look["ticks"]
    assert 2 <= len(ticks) <= 7 and all(
        look["range"][0] - 1e-12 <= t <= look["range"][1] + 1e-12 for t in ticks
    )
    if centre is not None:
        assert centre in ticks
    shown = [look["fmt"] % t for t in ticks]
    assert len(set(shown)) == len(shown), shown  # the format tells every tick apart


# ------------------------------------------------------------------------ the page's controls
def test_each_coloured_channel_is_one_more_mode_in_the_same_switch() -> None:
    trace = rollout(50)
    script, div = render_heatmap(trace, HeatmapOptions())
    values = [html.unescape(v) for v in __import__("re").findall(r'<option value="([^"]+)"', div)]
    assert values == [
        *COLOR_MODES,
        "ch:train_logprob",
        "ch:entropy",
        "ch:advantage",
        "ch:delta_logprob",
        "ch:ratio",
    ]  # no "ch:logprob" (that is the probability mode) and no mode for the mask
    assert ">entropy (channel)</option>" in div  # told apart from the top-k entropy mode
    modes = cfg_of(script)["modes"]
    assert list(modes) == values and all(modes[m]["ch"] >= 0 for m in values[3:])
    assert [e["n"] for e in cfg_of(script)["ch"]] == [
        n for n in trace.channel_names if n != "logprob"
    ]  # the hover lists them all, the mask included
    assert "masked (not in the loss)" in div and '<span class="tsh-scale"></span>' in div


def test_hostile_channel_names_are_escaped() -> None:
    trace = rollout(20, **{HOSTILE: np.linspace(0, 1, 20)})
    script, div = render_heatmap(trace, HeatmapOptions())
    assert HOSTILE not in div and HOSTILE not in script
    assert f'value="{html.escape(MODE_PREFIX + HOSTILE)}"' in div
    assert any(e["n"] == HOSTILE for e in cfg_of(script)["ch"])


# ------------------------------------------------------------------------ text view
def test_masked_tokens_are_dimmed_in_the_text_view_and_nothing_else_changes() -> None:
    trace = rollout(30)
    view = parse(render_text_view(trace, HeatmapOptions()))
    assert trace.mask is not None
    for span, counts in zip(view.spans, trace.mask, strict=True):
        classes = (span["class"] or "").split()
        assert ("mk" in classes) == (not counts)
        assert classes[0].startswith("q") or classes[0] == "sp"
    bare = Trace(tokens=list(trace.tokens), logprobs=trace.logprobs)
    plain = render_text_view(bare, HeatmapOptions())
    with_mask = render_text_view(trace, HeatmapOptions())
    assert with_mask.replace(" mk", "").replace('"', "") == plain.replace('"', "")
