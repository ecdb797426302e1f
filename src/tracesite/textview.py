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

import numpy as np

from tracesite.model import Trace
from tracesite.options import HeatmapOptions

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


def _p_min(trace: Trace, i: int) -> float:
    lo, hi = int(trace.alt_offsets[i]), int(trace.alt_offsets[i + 1])
    listed = trace.alt_logprobs[lo:hi]
    known = listed[~np.isnan(listed)]
    return math.exp(float(known.min())) if len(known) else math.nan


def render_text_view(trace: Trace, options: HeatmapOptions) -> str:
    """The trace's text as escaped ``<span id=tok-N class=qK title="p=0.93">`` elements.

    ``qK`` is p in tenths (``q0``..``q10``), ``qu`` unknown p, ``lc`` low confidence, ``sp`` a
    special token (shown by its label). Spans come in blocks of about :data:`CHUNK` tokens, cut
    after a newline where one comes, which the CSS marks ``content-visibility: auto``: the
    browser lays out only the blocks on screen (a 50,000-token text is ~1 s of layout otherwise).
    """
    p = trace.position_stats.p
    out = ['<div class="tsv"><div class="tsv-c">']
    in_chunk = 0
    last = trace.n_tokens - 1
    for i, piece in enumerate(trace.pieces):
        n = options.position_offset + i + 1
        pi = float(p[i])
        if math.isnan(pi):
            lo = _p_min(trace, i)
            cls = "qu"
            title = f"p &lt; {lo:.2f} (not given)" if not math.isnan(lo) else "p not given"
        else:
            cls = f"q{round(pi * 10)}"
            # Only low-confidence tokens carry their p as a title: the class (p in tenths) colours
            # every token, and a title on each would cost ~15 bytes a token (SPEC §12 allows a
            # whole page 100 B/token). The heatmap's hover has every number.
            title = f"p={pi:.2f}" if pi < options.low_confidence else ""
            if pi < options.low_confidence:
                cls += " lc"
        if trace.special[i]:
            cls = "sp"
            title += ", special token"
        text = escape(_clean(piece), quote=False)
        # unquoted id and class (valid HTML: no spaces in them) save 4 of ~50 bytes a token
        cls_attr = f'"{cls}"' if " " in cls else cls
        title_attr = f' title="{title}"' if title else ""
        out.append(f"<span id=tok-{n} class={cls_attr}{title_attr}>{text}</span>")
        in_chunk += 1
        if i < last and in_chunk >= CHUNK and (piece.endswith("\n") or in_chunk >= 8 * CHUNK):
            out.append('</div><div class="tsv-c">')
            in_chunk = 0
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
