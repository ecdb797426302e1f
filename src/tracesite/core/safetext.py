"""Text that cannot be written as it is: lone surrogates in pages, control characters in terminals.

Two rules, each with one home:

- **Pages.** A lone surrogate (JSON allows ``"\\ud800"``; YAML allows ``"\\ud800"``; a file name
  that is not UTF-8 reaches Python as ``\\udce9``) cannot be encoded as UTF-8, and one such
  character used to fail every page that showed it, the index included. :func:`safe_text` shows
  it as its code, ``⟨U+D800⟩``, the form the heatmap and text view already use
  (``render/charcodes.py``); :func:`utf8` encodes any text that way and never raises.
- **Terminals.** A file name may hold ESC, BEL, a newline or a bidi override; printed raw, it
  drives the terminal or splits one error over two lines. :func:`terminal_text` writes every such
  character as a Python-style escape (``\\x1b``, ``\\n``, ``\\u202e``; a byte of a name that is not
  UTF-8 as ``\\xe9``), so one diagnostic is always one visible line.
"""

from __future__ import annotations

import re

_SURROGATE = re.compile("[\ud800-\udfff]")
#: C0 and C1 controls, DEL, lone surrogates, line and paragraph separators, bidi controls.
_UNPRINTABLE = re.compile(
    "[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def char_code(ch: str) -> str:
    """``⟨U+D83D⟩`` for one character (the form pages use for what they cannot show)."""
    return f"⟨U+{ord(ch):04X}⟩"


def safe_text(text: str) -> str:
    """``text`` with every lone surrogate shown as its code; anything else unchanged."""
    if not _SURROGATE.search(text):
        return text
    return _SURROGATE.sub(lambda m: char_code(m.group()), text)


def utf8(text: str) -> bytes:
    """``text`` as UTF-8, lone surrogates shown as their code instead of raising."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return safe_text(text).encode("utf-8")


def _escape(ch: str) -> str:
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # a byte of a file name that is not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def terminal_text(text: str) -> str:
    """``text`` on one line with nothing a terminal would act on: controls, separators, bidi
    overrides and lone surrogates written as escapes."""
    if not _UNPRINTABLE.search(text):
        return text
    return _UNPRINTABLE.sub(lambda m: _escape(m.group()), text)
