"""Characters a page shows as a visible ``⟨U+XXXX⟩`` code instead of themselves.

Lone surrogates (JSON allows ``"\\ud83d"``; a provider that cut an emoji in half sends one) cannot
be written as UTF-8 at all, so the heatmap and the text view both show them as their code, the
way invisible controls are shown: visible, and honest about what the trace holds. The browser
code (``heatmap.js`` ``codeOf``) writes the same form for the characters it makes visible.
"""

from __future__ import annotations

import re

_SURROGATE = re.compile("[\ud800-\udfff]")


def char_code(ch: str) -> str:
    """``⟨U+D83D⟩`` for one character."""
    return f"⟨U+{ord(ch):04X}⟩"


def has_surrogates(text: str) -> bool:
    return _SURROGATE.search(text) is not None


def show_surrogates(text: str) -> str:
    """``text`` with every lone surrogate replaced by its code (the rest unchanged)."""
    if not _SURROGATE.search(text):
        return text
    return _SURROGATE.sub(lambda m: char_code(m.group()), text)
