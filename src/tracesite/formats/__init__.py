"""Trace readers: bytes in, :class:`~tracesite.model.Trace` objects out, format from content.

Every reader raises only :class:`~tracesite.errors.TraceReadError`, addressed with the file and
the JSON path or line of the problem. docs/formats.md describes every format; ``detect.py``
decides which reader a file goes to; ``native.py`` writes the native format.
"""

from __future__ import annotations

from pathlib import Path

from tracesite.errors import TraceReadError
from tracesite.formats.detect import FORMAT_NAMES, read_bytes, traces_from_object
from tracesite.formats.native import save_native
from tracesite.model import Trace

__all__ = ["FORMAT_NAMES", "load", "read_bytes", "save_native", "traces_from_object"]


def load(path: str | Path) -> list[Trace]:
    """Read every trace in one file (any supported format)."""
    # The bytes are only referenced by read_bytes' argument, so it can free them once decoded.
    return read_bytes(_file_bytes(path), str(path))


def _file_bytes(path: str | Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise TraceReadError(f"cannot read file: {exc.strerror or exc}", path=str(path)) from None
