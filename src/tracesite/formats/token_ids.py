"""Token ids -> token text and bytes, through a local ``tokenizer.json`` (the ``tokenizers``
library; nothing is ever downloaded), or ``⟨id 1234⟩`` labels without one.

A token's text is not ``tokenizer.decode([id])``: decoding one token alone loses what the
decoder does to a sequence (SentencePiece's ``Strip`` drops a leading space, a byte-level token
holding half a UTF-8 character decodes to U+FFFD). Each token's *bytes* are rebuilt from its
vocabulary entry as its decoder defines them, so the bytes of a response, joined, are its text:

- byte-level BPE (GPT-2, Llama 3, Qwen): every byte is written as one printable character
  (``Ġ`` is the space byte); the inverse of that table gives the bytes back;
- SentencePiece style (Llama 2, Mistral, Gemma): ``▁`` is a space (the ``Replace`` or
  ``Metaspace`` decoder) and byte-fallback tokens ``<0xE6>`` are one raw byte each;
- WordPiece: ``##`` continues a word, any other token starts one after a space;
- added tokens (``<|im_end|>``) are their content, special ones marked special.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from tracesite.core.errors import TraceReadError

#: A trace's provenance "tokenizer" when token ids could not be decoded (no tokenizer set).
NO_TOKENIZER = "none: token ids shown as ⟨id N⟩ (set [rollouts] tokenizer)"

_BYTE_FALLBACK = re.compile(r"<0x([0-9A-Fa-f]{2})>")


def id_label(token_id: int) -> str:
    """What a token id is shown as when no tokenizer names it."""
    return f"⟨id {token_id}⟩"


@functools.cache
def byte_level_table() -> dict[str, int]:
    """The byte-level BPE alphabet, character -> byte: printable Latin-1 bytes stand for
    themselves, the other 68 bytes (controls, space, 0x7F-0xA0, 0xAD) for U+0100 onwards, in
    byte order (GPT-2's encoding, which the ``ByteLevel`` decoder inverts)."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    table = {chr(b): b for b in printable}
    extra = 0
    for b in range(256):
        if b not in printable:
            table[chr(256 + extra)] = b
            extra += 1
    return table


@dataclass(frozen=True)
class _Scheme:
    """What a tokenizer's decoder does to one token, read from its ``decoder`` section."""

    byte_level: bool = False
    byte_fallback: bool = False
    replacements: tuple[tuple[str, str], ...] = ()
    wordpiece_prefix: str | None = None


def _scheme_of(decoder: Any) -> _Scheme:
    steps = []
    todo = [decoder]
    while todo:
        d = todo.pop(0)
        if not isinstance(d, dict):
            continue
        if d.get("type") == "Sequence":
            todo[:0] = list(d.get("decoders") or [])
        else:
            steps.append(d)
    byte_level = any(d.get("type") == "ByteLevel" for d in steps)
    fallback = any(d.get("type") == "ByteFallback" for d in steps)
    replacements: list[tuple[str, str]] = []
    prefix = None
    for d in steps:
        kind = d.get("type")
        if kind == "Replace":
            pattern = d.get("pattern")
            old = pattern.get("String") if isinstance(pattern, dict) else None
            if isinstance(old, str) and old and isinstance(d.get("content"), str):
                replacements.append((old, d["content"]))
        elif kind == "Metaspace":
            replacements.append((str(d.get("replacement", "▁")), " "))
        elif kind == "WordPiece":
            prefix = str(d.get("prefix", "##"))
    return _Scheme(byte_level, fallback, tuple(replacements), prefix)


class IdDecoder:
    """Token ids -> (label, bytes, special) through one tokenizer, each id worked out once."""

    def __init__(self, tokenizer: Any, decoder_spec: Any, name: str) -> None:
        self.tokenizer = tokenizer
        self.name = name
        self.scheme = _scheme_of(decoder_spec)
        self.added = {
            int(i): (str(t.content), bool(t.special))
            for i, t in tokenizer.get_added_tokens_decoder().items()
        }
        self.vocab_size = int(tokenizer.get_vocab_size(with_added_tokens=True))
        self._pieces: dict[int, tuple[str, bytes | None, bool]] = {}

    def piece(self, token_id: int) -> tuple[str, bytes | None, bool]:
        """One token's label, its bytes (None when the tokenizer does not know the id) and
        whether it is a special token."""
        got = self._pieces.get(token_id)
        if got is None:
            got = self._pieces[token_id] = self._work_out(token_id)
        return got

    def _work_out(self, token_id: int) -> tuple[str, bytes | None, bool]:
        if token_id in self.added:
            content, special = self.added[token_id]
            return content, content.encode("utf-8", "surrogatepass"), special
        entry = self.tokenizer.id_to_token(token_id) if 0 <= token_id < 1 << 32 else None
        if entry is None:
            return id_label(token_id), None, False
        s = self.scheme
        raw: bytes
        if s.byte_level:
            table = byte_level_table()
            if all(c in table for c in entry):
                raw = bytes(table[c] for c in entry)
            else:  # a vocabulary entry outside the byte alphabet: its own text
                raw = entry.encode("utf-8", "surrogatepass")
        elif s.byte_fallback and (m := _BYTE_FALLBACK.fullmatch(entry)):
            raw = bytes([int(m.group(1), 16)])
        else:
            text = entry
            if s.wordpiece_prefix is not None:
                prefix = s.wordpiece_prefix
                text = text[len(prefix) :] if text.startswith(prefix) else " " + text
            for old, new in s.replacements:
                text = text.replace(old, new)
            raw = text.encode("utf-8", "surrogatepass")
        # a token holding part of a UTF-8 character is labelled as OpenAI labels one: "\xe6\x97"
        return raw.decode("utf-8", "backslashreplace"), raw, False

    def decode(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Labels, bytes (object arrays) and special flags of every id in ``ids``."""
        if not len(ids):
            empty = np.empty(0, dtype=object)
            return empty, empty.copy(), np.zeros(0, dtype=np.bool_)
        distinct, where = np.unique(ids, return_inverse=True)
        pieces = [self.piece(int(i)) for i in distinct.tolist()]
        labels = np.empty(len(pieces), dtype=object)
        raws = np.empty(len(pieces), dtype=object)
        labels[:] = [p[0] for p in pieces]
        raws[:] = [p[1] for p in pieces]
        special = np.fromiter((p[2] for p in pieces), dtype=np.bool_, count=len(pieces))
        return labels[where], raws[where], special[where]


@functools.lru_cache(maxsize=4)
def load_decoder(path: str, digest: str, name: str) -> IdDecoder:
    """The decoder of the tokenizer file at ``path`` (whose content has ``digest``: a changed
    file is loaded again), once per process."""
    try:
        from tokenizers import Tokenizer
    except ImportError:
        raise TraceReadError(
            "token ids need the tokenizers package to be decoded: pip install tokenizers"
            " (or tracesite[rollouts])"
        ) from None
    try:
        with open(path, "rb") as fh:
            data = fh.read()
        spec = json.loads(data)
        tokenizer = Tokenizer.from_str(data.decode("utf-8"))
    except Exception as exc:  # OSError, bad JSON, or the tokenizers library's own Exception
        raise TraceReadError(f"cannot load the tokenizer {name}: {exc}") from None
    return IdDecoder(tokenizer, spec.get("decoder") if isinstance(spec, dict) else None, name)
