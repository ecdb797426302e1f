"""Typed access to parsed JSON with addressed errors (``$.choices[0].logprobs.content[17]``).

Also the small conversions several readers share: Unix timestamps to ISO 8601, escaped byte
labels (``"byte: \\x89"``, ``"bytes:\\xe2\\x80"``) to bytes, and spotting special tokens.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from tracesite.core.errors import TraceReadError

#: A stream's values, each with the address it starts at (``"line 17: $"`` in a JSON-lines or
#: SSE file, ``"$[3]"`` in a JSON array of chunks).
Events = Sequence[tuple[str, Any]]


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


def expect_prob(value: Any, addr: str) -> float:
    """A linear probability in [0, 1], returned as a natural log (log 0 = -inf)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise fail(addr, f"expected a number, got {describe(value)}")
    if isinstance(value, int) and not 0 <= value <= 1:  # before float(): JSON ints are unbounded
        raise fail(addr, f"a probability must be between 0 and 1, got {describe(value)}")
    v = float(value)
    if not (0.0 <= v <= 1.0 + 1e-9):
        raise fail(addr, f"a probability must be between 0 and 1, got {describe(value)}")
    return math.log(min(v, 1.0)) if v > 0 else -math.inf


def optional_str(value: Any, addr: str) -> str | None:
    """A string or null/absent."""
    if value is None:
        return None
    return expect_str(value, addr)


def iso_time(value: Any, addr: str) -> str | None:
    """A creation time as ISO 8601: Unix seconds (int or float) become UTC; strings pass through."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise fail(addr, f"expected a Unix timestamp or a date string, got {describe(value)}")
    try:
        moment = datetime.fromtimestamp(float(value), tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise fail(addr, f"not a usable Unix timestamp: {describe(value)}") from None
    spec = "seconds" if float(value).is_integer() else "milliseconds"
    return moment.isoformat(timespec=spec).replace("+00:00", "Z")


_ESCAPED_BYTES = re.compile(r"(?:\\x[0-9a-fA-F]{2})+")


def escaped_bytes(label: str, prefix: str) -> bytes | None:
    """Bytes of a label such as ``"byte: \\x89"`` (llama.cpp old form, prefix ``"byte: "``) or
    ``"bytes:\\xe2\\x80"`` (legacy Completions, prefix ``"bytes:"``); None for other labels."""
    if not label.startswith(prefix):
        return None
    rest = label[len(prefix) :]
    if not _ESCAPED_BYTES.fullmatch(rest):
        return None
    return bytes(int(rest[i + 2 : i + 4], 16) for i in range(0, len(rest), 4))


_SPECIAL = re.compile(
    r"<\|[^|<>]{1,40}\|>|<｜[^｜<>]{1,40}｜>|</?s>|<unk>|<pad>|<eos>|<bos>|<ctrl\d+>|<(?:end|start)_of_turn>|<eot>"
)


def looks_special(label: str) -> bool:
    """Whether a token label has the shape of a special token (``<|end|>``, ``</s>``,
    ``<｜end▁of▁sentence｜>``). Readers that have no ``special`` flag use this, checked against the
    provider's own text (see :func:`special_positions`)."""
    return label[:1] == "<" and label[-1:] == ">" and _SPECIAL.fullmatch(label) is not None


def special_positions(
    labels: list[str], raw: list[bytes | None], provider_text: str | None
) -> set[int]:
    """Positions whose chosen token is a special token left out of the provider's text.

    OpenAI-style APIs have no ``special`` flag: ``<|end|>`` comes with ``bytes: null``, vLLM's
    ``<|im_end|>`` with the literal bytes. A special-looking token is treated as special when
    leaving such tokens out makes the rebuilt text equal the provider's text (or, without a
    provider text, when it has no bytes). A model that really wrote ``<|end|>`` keeps it.
    """
    if "<" not in "".join(labels):  # most texts: one C-level pass instead of a loop
        return set()
    candidates = [i for i, t in enumerate(labels) if t[:1] == "<" and looks_special(t)]
    if not candidates:
        return set()
    if provider_text is None:
        return {i for i in candidates if raw[i] is None}
    chosen = set(candidates)

    def rebuilt(skip: set[int]) -> str:
        parts = (
            (b if b is not None else t.encode("utf-8", "surrogatepass"))
            for i, (t, b) in enumerate(zip(labels, raw, strict=True))
            if i not in skip
        )
        return b"".join(parts).decode("utf-8", "replace")

    if rebuilt(chosen) == provider_text:
        return chosen
    if rebuilt(set()) == provider_text:
        return set()
    return {i for i in candidates if raw[i] is None}


def small_extra(d: dict[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    """The listed keys of ``d`` that are present and not null, for ``TraceMeta.extra``.

    Values must stay JSON-serialisable and small (ids, usage, fingerprints), never token lists.
    """
    return {k: d[k] for k in keys if d.get(k) is not None and json_safe(d[k])}


def json_safe(value: Any, depth: int = 0) -> bool:
    """JSON-serialisable without NaN/inf and without deep nesting (so native files stay valid)."""
    if depth > 8:
        return False
    if value is None or isinstance(value, str | bool | int):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return len(value) <= 100 and all(json_safe(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return len(value) <= 100 and all(
            isinstance(k, str) and json_safe(v, depth + 1) for k, v in value.items()
        )
    return False


#: JSON integers below this do not fit a float.
MIN_INT = -(10**308)


def plain_logprob(lp: Any) -> bool:
    """True for a logprob the fast paths may take as is: a float <= 1e-6 that is not NaN, or an
    integer that fits a float and is <= 0. Anything else goes through the addressed checks."""
    t = type(lp)
    return (t is float and lp <= 1e-6 and lp == lp) or (t is int and MIN_INT < lp <= 0)


def plain_bytes(raw: Any) -> tuple[bool, bytes | None]:
    """For the fast paths: (ok, value) of an OpenAI-style ``bytes`` field (a list of 0..255, or
    null). Not ok means "odd": the caller reads the entry again with addressed checks."""
    if raw is None:
        return True, None
    if type(raw) is not list:
        return False, None
    try:
        return True, bytes(raw)
    except (TypeError, ValueError):
        return False, None


def group_choices(
    traces: list[Any], choices: list[Any], response_id: Any, source: str
) -> list[Any]:
    """The n choices of one response are siblings (SPEC §16): when ``traces`` (one per entry of
    ``choices``, the choice each came from) hold more than one choice, they share a group named
    by the response's id, or by the file when it has none."""
    if len(set(choices)) < 2:
        return traces
    group = str(response_id) if isinstance(response_id, str | int) else source
    return [t.replace_meta(group=group) for t in traces]
