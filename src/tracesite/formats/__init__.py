"""Trace readers: bytes in, :class:`~tracesite.model.trace.Trace` objects out, format from content.

Every reader raises only :class:`~tracesite.core.errors.TraceReadError`, addressed with the file and
the JSON path or line of the problem. docs/formats.md describes every format; ``detect.py``
decides which reader a file goes to; ``native.py`` writes the native format.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tracesite.core.errors import TraceReadError
from tracesite.core.options import ReadOptions
from tracesite.formats.detect import FORMAT_NAMES, read_bytes, table_rows, traces_from_object
from tracesite.formats.native import save_native
from tracesite.model.trace import Trace

__all__ = [
    "FORMAT_NAMES",
    "from_openai",
    "load",
    "read_bytes",
    "save",
    "save_native",
    "table_rows",
    "traces_from_object",
]


def load(path: str | Path, options: ReadOptions | None = None) -> list[Trace]:
    """Read every trace in one file (any supported format); ``options``: how rollout tables
    are read (``[rollouts]`` in tracesite.toml: column mapping, tokenizer)."""
    # The bytes are only referenced by read_bytes' argument, so it can free them once decoded.
    return read_bytes(_file_bytes(path), str(path), options)


def _file_bytes(path: str | Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise TraceReadError(f"cannot read file: {exc.strerror or exc}", path=str(path)) from None


def from_openai(response: Any) -> Trace:
    """The first trace of an OpenAI response (chat, completions or Responses): a dict, JSON or SSE
    text, or an openai-python object. Raises TraceReadError on anything else."""
    source = "<openai response>"
    if hasattr(response, "model_dump"):
        response = response.model_dump(mode="json")
    elif isinstance(response, str):
        return read_bytes(response.encode("utf-8", "surrogatepass"), source)[0]
    elif isinstance(response, bytes):
        return read_bytes(response, source)[0]
    return traces_from_object(response, source=source)[0]


def save(trace: Trace, path: str | Path) -> None:
    """Write ``trace`` as a tracesite native JSON file (lossless; ``tracesite.load`` reads it)."""
    save_native(trace, path)
