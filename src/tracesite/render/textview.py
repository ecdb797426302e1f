"""The text view beside the heatmap: the generated text, one span per token, coloured by p.

Plain HTML and CSS (``static/heatmap/heatmap.css``, classes ``q0``..``q10``), so it works without
JavaScript, can be selected and copied as the real text, and reads as ordinary text to a screen
reader; low-confidence tokens carry their p in a ``title``. Span ids are ``tok-N`` (N the
1-based position, as in ``#pos-N`` links), so the heatmap can mark the token a link points at.
"""

from __future__ import annotations

import json
import math
import re
from html import escape
from itertools import repeat

import numpy as np

from tracesite.core.options import HeatmapOptions
from tracesite.model.trace import Trace

#: Tokens per text-view block (see :func:`render_text_view`).
CHUNK = 500


# Characters the text view shows as a visible code instead of themselves: C0/C1 controls (an
# HTML parser drops U+0000, so "nul\0byte" would read "nulbyte") and bidi overrides/isolates
# (U+202E in one token would draw every later token right to left: "Trojan Source").
_INVISIBLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _clean(text: str) -> str:
    """Lone surrogates become U+FFFD (the page must be UTF-8); controls get visible codes."""
    if any("\ud800" <= ch <= "\udfff" for ch in text):
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return _INVISIBLE.sub(lambda m: f"⟨U+{ord(m.group()):04X}⟩", text)


_SURROGATE = re.compile("[\ud800-\udfff]")
#: ``class`` values by code: p in tenths (0-10), the same with low confidence (11-21), p unknown
#: (22), a special token (23). Quoted where they hold a space.
_CLASS_NAMES = [f"q{k}" for k in range(11)] + [f'"q{k} lc"' for k in range(11)] + ["qu", "sp"]


def _p_min(trace: Trace, i: int) -> float:
    lo, hi = int(trace.alt_offsets[i]), int(trace.alt_offsets[i + 1])
    listed = trace.alt_logprobs[lo:hi]
    known = listed[~np.isnan(listed)]
    return math.exp(float(known.min())) if len(known) else math.nan


def _escaped(pieces: tuple[str, ...]) -> list[str]:
    """Each piece cleaned and escaped. A clean text (the usual case) is escaped in one pass:
    joined with NUL, which it cannot hold, escaped, split. Otherwise piece by piece."""
    text = "".join(pieces)
    if not pieces or _INVISIBLE.search(text) or _SURROGATE.search(text):
        return [escape(_clean(piece), quote=False) for piece in pieces]
    return escape("\0".join(pieces), quote=False).split("\0")


def _classes(trace: Trace, options: HeatmapOptions) -> tuple[list[str], dict[int, str]]:
    """Per token its ``class`` attribute value, and the ``title`` of the tokens that have one."""
    p = trace.position_stats.p
    known = ~np.isnan(p)
    low = known & (np.nan_to_num(p, nan=1.0) < options.low_confidence)
    tenths = np.rint(np.where(known, p, 0.0) * 10)  # as round(): half to even
    odd = np.flatnonzero(tenths > 10)  # p > 1: only in a Trace built by hand
    code = np.where(low, tenths + 11, tenths).astype(np.int64)
    code[~known] = 22
    code[odd] = 0
    code[trace.special] = 23
    classes = list(map(_CLASS_NAMES.__getitem__, code.tolist()))
    for i in odd.tolist():
        if not trace.special[i]:
            name = f"q{round(float(p[i]) * 10)}"
            classes[i] = f'"{name} lc"' if low[i] else name
    titles: dict[int, str] = {}
    for i in np.flatnonzero(~known | low).tolist():
        if not known[i]:
            lo = _p_min(trace, i)
            titles[i] = f"p &lt; {lo:.2f} (not given)" if not math.isnan(lo) else "p not given"
        else:
            titles[i] = f"p={float(p[i]):.2f}"
    for i in np.flatnonzero(trace.special).tolist():
        titles[i] = titles.get(i, "") + ", special token"
    return classes, titles


def _block_ends(pieces: tuple[str, ...]) -> list[int]:
    """The positions after which a text-view block ends: the first newline-ending piece once a
    block holds :data:`CHUNK` tokens, or after ``8 * CHUNK`` tokens; never after the last."""
    ends_line = np.flatnonzero(list(map(str.endswith, pieces, repeat("\n"))))
    last = len(pieces) - 1
    cuts: list[int] = []
    start = 0
    while True:
        at = int(np.searchsorted(ends_line, start + CHUNK - 1))
        cut = start + 8 * CHUNK - 1
        if at < len(ends_line):
            cut = min(cut, int(ends_line[at]))
        if cut >= last:
            return cuts
        cuts.append(cut)
        start = cut + 1


def render_text_view(trace: Trace, options: HeatmapOptions) -> str:
    """The trace's text as escaped ``<span id=tok-N class=qK title="p=0.93">`` elements.

    ``qK`` is p in tenths (``q0``..``q10``), ``qu`` unknown p, ``lc`` low confidence, ``sp`` a
    special token (shown by its label). Spans come in blocks of about :data:`CHUNK` tokens, cut
    after a newline where one comes, which the CSS marks ``content-visibility: auto``: the
    browser lays out only the blocks on screen (a 50,000-token text is ~1 s of layout otherwise).

    Only low-confidence tokens carry their p as a title: the class (p in tenths) colours every
    token, and a title on each would cost ~15 bytes a token (SPEC §12 allows a whole page
    100 B/token). The heatmap's hover has every number. The id and class are unquoted where
    they can be (valid HTML without spaces), saving 4 of ~50 bytes a token.
    """
    pieces = trace.pieces
    classes, titles = _classes(trace, options)
    for i, title in titles.items():
        classes[i] += f' title="{title}"'
    first = options.position_offset + 1
    spans = [
        f"<span id=tok-{n} class={c}>{text}</span>"
        for n, c, text in zip(
            range(first, first + len(pieces)), classes, _escaped(pieces), strict=True
        )
    ]
    out = ['<div class="tsv"><div class="tsv-c">']
    start = 0
    for cut in _block_ends(pieces):
        out += spans[start : cut + 1]
        out.append('</div><div class="tsv-c">')
        start = cut + 1
    out += spans[start:]
    out.append("</div></div>")
    return "".join(out)


#: Low-confidence positions listed beside a heatmap at most (the lowest p first chosen).
MAX_LOW_MARKS = 200


def _token_label(trace: Trace, i: int) -> str:
    text = json.dumps(_clean(trace.tokens[i]), ensure_ascii=False)
    return text if len(text) <= 26 else text[:24] + '…"'


def render_marks(trace: Trace, options: HeatmapOptions) -> str:
    """Highlight spans and low-confidence positions as ``#pos-N`` links (escaped HTML).

    The heatmap's script scrolls to and marks the position a link names, also when the hash
    changes later. At most :data:`MAX_LOW_MARKS` low-confidence positions are listed: the lowest p.
    """
    off = options.position_offset
    parts = ['<nav class="tsh-marks" aria-label="Marked positions">']
    spans = [h for h in options.highlights if h.end > off and h.start <= off + trace.n_tokens]
    if spans:
        parts.append("<h3>Highlights</h3><ul>")
        for h in spans:
            rng = f"{h.start}" if h.start == h.end else f"{h.start}–{h.end}"
            label = f" {escape(_clean(h.label), quote=False)}" if h.label else ""
            parts.append(f'<li><a href="#pos-{max(h.start, off + 1)}">{rng}</a>{label}</li>')
        parts.append("</ul>")
    p = trace.position_stats.p
    with np.errstate(invalid="ignore"):
        low = np.flatnonzero(p < options.low_confidence)
    parts.append(f"<h3>Low confidence (p &lt; {options.low_confidence:g}): {len(low)}</h3>")
    if len(low):
        shown = low
        if len(low) > MAX_LOW_MARKS:
            shown = np.sort(low[np.argsort(p[low], kind="stable")[:MAX_LOW_MARKS]])
        parts.append("<ul>")
        for i in shown.tolist():
            label = escape(_token_label(trace, i), quote=False)
            n = off + i + 1
            parts.append(f'<li><a href="#pos-{n}">{n}</a> <code>{label}</code> {p[i]:.2f}</li>')
        parts.append("</ul>")
        if len(shown) < len(low):
            parts.append(f'<p class="tsh-more">showing the {len(shown)} lowest of {len(low)}</p>')
    parts.append("</nav>")
    return "".join(parts)
