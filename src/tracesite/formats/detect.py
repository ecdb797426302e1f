"""Format detection from content (never from the file extension).

PLACEHOLDER: only the native format is wired up; the other readers are added per SPEC §6.
"""

from __future__ import annotations

import json
from typing import Any

from tracesite.errors import TraceReadError
from tracesite.formats import native
from tracesite.model import Trace

FORMAT_NAMES = ("native",)


def traces_from_object(obj: Any, source: str) -> list[Trace]:
    try:
        if native.is_native(obj):
            return [native.read_native(obj, source)]
    except TraceReadError as exc:
        raise exc.located(source) from None
    raise TraceReadError(
        "not a trace format tracesite knows; expected one of " + ", ".join(FORMAT_NAMES),
        path=source,
    )


def read_bytes(data: bytes, source: str) -> list[Trace]:
    try:
        obj = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TraceReadError(f"not valid JSON: {exc}", path=source) from None
    return traces_from_object(obj, source)
