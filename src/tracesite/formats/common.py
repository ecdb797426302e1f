"""Typed access to parsed JSON with addressed errors (``$.choices[0].logprobs.content[17]``)."""

from __future__ import annotations

import json
import math
from typing import Any

from tracesite.errors import TraceReadError


def describe(value: Any) -> str:
    """A short rendering of a bad value for an error message."""
    if isinstance(value, str):
        text = json.dumps(value[:40] + ("…" if len(value) > 40 else ""), ensure_ascii=False)
        return text
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return repr(value)[:40]


def fail(addr: str, message: str) -> TraceReadError:
    return TraceReadError(message, address=addr)


def expect_dict(value: Any, addr: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise fail(addr, f"expected an object, got {describe(value)}")
    return value


def expect_list(value: Any, addr: str) -> list[Any]:
    if not isinstance(value, list):
        raise fail(addr, f"expected an array, got {describe(value)}")
    return value


def expect_str(value: Any, addr: str) -> str:
    if not isinstance(value, str):
        raise fail(addr, f"expected a string, got {describe(value)}")
    return value


def expect_logprob(value: Any, addr: str, *, nullable: bool = False) -> float | None:
    """A natural-log probability: a finite number <= 0 (tiny round-off above 0 allowed).

    Sentinels (<= -1000) pass through; the model turns them into "unknown". ``-inf`` (log 0)
    is allowed: llama.cpp's post-sampling probabilities contain exact zeros.
    """
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise fail(addr, f"expected a number, got {describe(value)}")
    v = float(value)
    if math.isnan(v) or v == math.inf:
        raise fail(addr, f"expected a logprob (a number <= 0), got {describe(value)}")
    if v > 1e-6:
        raise fail(addr, f"a logprob must be <= 0 (a probability <= 1), got {v!r}")
    return v


def expect_prob(value: Any, addr: str) -> float:
    """A linear probability in [0, 1], returned as a natural log (log 0 = -inf)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise fail(addr, f"expected a number, got {describe(value)}")
    v = float(value)
    if not (0.0 <= v <= 1.0 + 1e-9):
        raise fail(addr, f"a probability must be between 0 and 1, got {describe(value)}")
    return math.log(min(v, 1.0)) if v > 0 else -math.inf


def expect_bytes(value: Any, addr: str) -> bytes | None:
    """OpenAI-style ``bytes``: a list of ints 0..255, or null/absent."""
    if value is None:
        return None
    if not isinstance(value, list) or not all(
        isinstance(b, int) and not isinstance(b, bool) and 0 <= b <= 255 for b in value
    ):
        raise fail(addr, f"expected an array of byte values 0..255, got {describe(value)}")
    return bytes(value)


def expect_int_or_none(value: Any, addr: str) -> int:
    if value is None:
        return -1
    if isinstance(value, bool) or not isinstance(value, int):
        raise fail(addr, f"expected an integer token id, got {describe(value)}")
    return value
