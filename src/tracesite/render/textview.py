"""The text view beside the heatmap: the generated text, one span per token, coloured by p.

Plain HTML and CSS (``static/heatmap/heatmap.css``, classes ``q0``..``q10``), so it works without
JavaScript, can be selected and copied as the real text, and reads as ordinary text to a screen
reader; low-confidence tokens carry their p in a ``title``, positions a loss mask hides the class
``mk`` (dimmed). In the heatmap's other colour modes its script recolours the spans from the
embed's data (``heatmap.js`` ``colourText``), so those modes cost no bytes here. Span ids are
``tok-N`` (N the 1-based position, as in ``#pos-N`` links), so the heatmap can mark the token a
link points at.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import replace
from html import escape
from itertools import repeat

import numpy as np

from tracesite.core.options import HeatmapOptions
from tracesite.model.trace import Trace
from tracesite.render.charcodes import char_code, has_surrogates, show_surrogates

#: Tokens per text-view block (see :func:`render_text_view`).
CHUNK = 500


# Characters the text view shows as a visible code instead of themselves: C0/C1 controls (an
# HTML parser drops U+0000, so "nul\0byte" would read "nulbyte") and bidi overrides/isolates
# (U+202E in one token would draw every later token right to left: "Trojan Source").
_INVISIBLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _clean(text: str) -> str:
    """Lone surrogates (no UTF-8 form) and controls become visible ``⟨U+XXXX⟩`` codes."""
    return _INVISIBLE.sub(lambda m: char_code(m.group()), show_surrogates(text))


#: ``class`` values by code: p in tenths (0-10), the same with low confidence (11-21), p unknown
#: (22), a special token (23). Quoted where they hold a space.
_CLASS_NAMES = [f"q{k}" for k in range(11)] + [f'"q{k} lc"' for k in range(11)] + ["qu", "sp"]


def _pieces(trace: Trace) -> tuple[str, ...]:
    """The text each position adds (:attr:`Trace.pieces`), except that a token known only by a
    label holding lone surrogates shows that label (its codes, as the heatmap shows them): the
    model decodes such a label's bytes, which have no UTF-8 form, to U+FFFD."""
    pieces = trace.pieces
    if not has_surrogates("".join(trace.tokens)):
        return pieces
    out = list(pieces)
    for i, (label, raw) in enumerate(zip(trace.tokens, trace.token_bytes, strict=True)):
        if raw is None and has_surrogates(label):
            out[i] = label  # _clean() turns the surrogates into codes
    return tuple(out)


def shown_pieces(trace: Trace) -> list[str]:
    """The text of each position as the text view shows it (controls and lone surrogates as
    their codes): the viewer is given those that differ from the token's own text."""
    pieces = _pieces(trace)
    text = "".join(pieces)
    if not _INVISIBLE.search(text) and not has_surrogates(text):
        return list(pieces)
    return [_clean(piece) for piece in pieces]


def _p_min(trace: Trace, i: int) -> float:
    lo, hi = int(trace.alt_offsets[i]), int(trace.alt_offsets[i + 1])
    listed = trace.alt_logprobs[lo:hi]
    known = listed[~np.isnan(listed)]
    return math.exp(float(known.min())) if len(known) else math.nan


def _escaped(pieces: list[str]) -> list[str]:
    """Each piece of :func:`shown_pieces` (controls already codes, so no NUL) escaped in one
    pass: joined with NUL, escaped, split."""
    return escape("\0".join(pieces), quote=False).split("\0") if pieces else []


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
    mask = trace.mask
    if mask is not None:  # only a trace with a loss mask: the positions it hides
        for i in np.flatnonzero(~mask).tolist():
            classes[i] = f'"{classes[i].strip(chr(34))} mk"'
    return classes, titles


def _block_ends(pieces: Sequence[str]) -> list[int]:
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
    pieces = shown_pieces(trace)
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


def render_prompt_view(prompt: Trace, options: HeatmapOptions) -> str:
    """The prompt's scored positions (vLLM ``prompt_logprobs``) as a text view of their own,
    coloured by p like the generated text: ``<div class="tsv tsv-prompt">`` with ``ptok-N``
    spans, which the heatmap's text-view links (``tok-N``) leave alone. Not generated text."""
    html = render_text_view(prompt, replace(options, position_offset=0))
    html = html.replace('<div class="tsv">', '<div class="tsv tsv-prompt">', 1)
    html = html.replace("<span id=tok-", "<span id=ptok-")  # token text is escaped: no "<"
    st = prompt.stats
    facts = [f"{prompt.n_tokens:,} prompt positions"]
    if st.mean_prob is not None:
        facts.append(f"mean p {st.mean_prob:.3f}")
        if st.perplexity is not None:
            facts.append(f"perplexity {st.perplexity:.3f}")
    if st.n_unknown:
        facts.append(f"{st.n_unknown:,} without a logprob (the first has none)")
    return f'<p class="prompt-stats">{escape(" · ".join(facts))}</p>{html}'
