"""numpy ``.npz`` traces: named arrays, one trace per file (docs/formats.md lists the names).

Required: ``tokens`` (n,) strings and ``logprobs`` (n,) floats (or ``probs``, linear); NaN is
unknown. Optional: ``top_tokens`` / ``top_logprobs`` (or ``top_probs``) (n, k), ``top_counts``
(n,) valid slots per row, ``token_ids`` (n,) and ``top_ids`` (n, k) ints with -1 unknown,
``special`` (n,) bools, and 0-d string arrays ``model``, ``created``, ``prompt``,
``finish_reason``, ``text``. Files are opened with ``allow_pickle=False``: no code runs.
"""

from __future__ import annotations

import io
import math
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib import format as npformat

from tracesite.core.errors import TraceReadError
from tracesite.formats.builder import TraceBuilder
from tracesite.model.trace import Trace, TraceMeta

FORMAT_NAME = "npz"
MAGIC = b"PK\x03\x04"
_META = ("model", "created", "prompt", "finish_reason", "text")
#: What numpy and zipfile raise on a damaged archive; all become a TraceReadError.
_NUMPY_ERRORS = (
    OSError,
    ValueError,
    EOFError,
    KeyError,
    IndexError,
    TypeError,
    OverflowError,
    NotImplementedError,
    zipfile.BadZipFile,
    zlib.error,
)


def _err(name: str, message: str) -> TraceReadError:
    return TraceReadError(message, address=name)


def _strings(arr: np.ndarray, name: str) -> tuple[list[str], list[bytes | None]]:
    if arr.dtype.kind == "U":
        return [str(s) for s in arr.tolist()], [None] * arr.size
    if arr.dtype.kind == "S":
        raw = [bytes(s) for s in arr.tolist()]
        return [b.decode("utf-8", "replace") for b in raw], list(raw)
    raise _err(name, f"expected strings (dtype U or S), got dtype {arr.dtype}")


def _floats(arr: np.ndarray, name: str, linear: bool) -> np.ndarray:
    if arr.dtype.kind not in "fiu":
        raise _err(name, f"expected numbers, got dtype {arr.dtype}")
    values = arr.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        if linear:
            bad = ~np.isnan(values) & ~((values >= 0.0) & (values <= 1.0 + 1e-9))
            kind = "a probability must be between 0 and 1"
        else:
            bad = (values > 1e-6) | (values == math.inf)
            kind = "a logprob must be <= 0"
        if bad.any():
            at = np.argwhere(bad)[0]
            where = "".join(f"[{int(i)}]" for i in at)
            raise _err(f"{name}{where}", f"{kind}, got {float(values[tuple(at)])!r}")
        if linear:
            values = np.log(np.minimum(values, 1.0))
    return values


def _ints(arr: np.ndarray, name: str) -> np.ndarray:
    if arr.dtype.kind not in "iu":
        raise _err(name, f"expected integers, got dtype {arr.dtype}")
    values = arr.astype(np.int64)
    if (values < -1).any():
        raise _err(name, "token ids must be >= 0 (or -1 for unknown)")
    return values


def _shape(arr: np.ndarray, name: str, shape: tuple[int, ...]) -> None:
    if arr.shape != shape:
        raise _err(name, f"expected shape {shape}, got {arr.shape}")


def _read(files: Any, source: str) -> Trace:
    names = set(files.files)
    if "tokens" not in names:
        raise _err("tokens", "missing array: an .npz trace needs `tokens` and `logprobs`")
    tokens_arr = files["tokens"]
    if tokens_arr.ndim != 1:
        raise _err("tokens", f"expected a 1-d array, got shape {tokens_arr.shape}")
    n = tokens_arr.shape[0]
    tokens, raw = _strings(tokens_arr, "tokens")
    lp_name = "logprobs" if "logprobs" in names else "probs" if "probs" in names else None
    if lp_name is None:
        raise _err("logprobs", "missing array: an .npz trace needs `logprobs` (or `probs`)")
    lp_arr = files[lp_name]
    _shape(lp_arr, lp_name, (n,))
    logprobs = _floats(lp_arr, lp_name, lp_name == "probs")
    ids = np.full(n, -1, dtype=np.int64)
    if "token_ids" in names:
        _shape(files["token_ids"], "token_ids", (n,))
        ids = _ints(files["token_ids"], "token_ids")
    special = np.zeros(n, dtype=np.bool_)
    if "special" in names:
        _shape(files["special"], "special", (n,))
        special = files["special"].astype(np.bool_)
    b = TraceBuilder()
    for i in range(n):
        b.add(tokens[i], float(logprobs[i]), raw[i], int(ids[i]), bool(special[i]))
    tname = (
        "top_logprobs" if "top_logprobs" in names else "top_probs" if "top_probs" in names else None
    )
    if "top_tokens" in names:
        top_arr = files["top_tokens"]
        if top_arr.ndim != 2 or top_arr.shape[0] != n:
            raise _err("top_tokens", f"expected shape ({n}, k), got {top_arr.shape}")
        k = top_arr.shape[1]
        if tname is None:
            raise _err("top_logprobs", "`top_tokens` needs `top_logprobs` (or `top_probs`)")
        top_lp_arr = files[tname]
        _shape(top_lp_arr, tname, (n, k))
        top_lp = _floats(top_lp_arr, tname, tname == "top_probs")
        flat, flat_raw = _strings(top_arr.reshape(-1), "top_tokens")
        top_ids = np.full((n, k), -1, dtype=np.int64)
        if "top_ids" in names:
            _shape(files["top_ids"], "top_ids", (n, k))
            top_ids = _ints(files["top_ids"], "top_ids")
        if "top_counts" in names:
            _shape(files["top_counts"], "top_counts", (n,))
            counts = _ints(files["top_counts"], "top_counts")
            if (counts > k).any():
                raise _err("top_counts", f"a count is larger than k = {k}")
            valid = np.arange(k)[None, :] < counts[:, None]
        else:
            empty = (top_arr == top_arr.dtype.type()) & np.isnan(top_lp)
            valid = ~empty
        for i, j in zip(*np.nonzero(valid), strict=True):
            f = int(i) * k + int(j)
            b.alt(int(i), flat[f], float(top_lp[i, j]), flat_raw[f], int(top_ids[i, j]))
    meta: dict[str, Any] = {}
    for key in _META:
        if key in names:
            value = files[key]
            if value.shape != () or value.dtype.kind != "U":
                raise _err(
                    key, f"expected a 0-d string array, got dtype {value.dtype} shape {value.shape}"
                )
            meta["provider_text" if key == "text" else key] = str(value[()])
    return b.build(TraceMeta(source=source, format=FORMAT_NAME, **meta))


#: Deflate expands at most ~1,032 times: a member declaring more than this many bytes per
#: byte of the archive lies about its size.
_MAX_EXPANSION = 1100


def check_declared_sizes(data: bytes) -> None:
    """Refuse an archive whose arrays declare more data than it holds, before numpy allocates
    them: numpy allocates ``shape × itemsize`` from the ``.npy`` header first and reads after,
    so a 200-byte file declaring shape (10¹², ) ended the build with MemoryError. Each array's
    header is checked against its member's declared size, and the declared sizes against what
    the archive's bytes could expand to."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = archive.infolist()  # numpy reads any member that starts like a .npy
        declared = sum(i.file_size for i in members)
        if declared > _MAX_EXPANSION * len(data):
            raise _err(
                "",
                f"the archive declares {declared:,} bytes of arrays in a file of {len(data):,} "
                "bytes, more than compression can give; it is damaged or hostile",
            )
        for info in members:
            name = info.filename.removesuffix(".npy")
            with archive.open(info) as fh:
                magic = fh.read(len(npformat.MAGIC_PREFIX) + 2)
                if not magic.startswith(npformat.MAGIC_PREFIX) or len(magic) < 8:
                    continue
                read_header = (
                    npformat.read_array_header_1_0
                    if (magic[6], magic[7]) == (1, 0)
                    else npformat.read_array_header_2_0
                )
                shape, _, dtype = read_header(fh)
                held = info.file_size - fh.tell()
            need = math.prod(shape) * max(1, dtype.itemsize)
            if need > held:
                raise _err(
                    name,
                    f"the array header declares shape {shape} of {dtype} ({need:,} bytes) but "
                    f"the archive holds {max(held, 0):,} bytes for it",
                )


def read_npz(data: bytes, source: str) -> list[Trace]:
    """The trace in an ``.npz`` archive's bytes."""
    try:
        check_declared_sizes(data)
        with np.load(io.BytesIO(data), allow_pickle=False) as files:
            if not hasattr(files, "files"):
                raise _err("", "not an .npz archive of named arrays")
            return [_read(files, source)]
    except TraceReadError:
        raise
    except _NUMPY_ERRORS as exc:
        raise TraceReadError(f"not a readable .npz trace: {exc}") from None


def to_npz_arrays(trace: Trace) -> dict[str, np.ndarray]:
    """A trace as the named arrays :func:`read_npz` reads (token bytes are not kept)."""
    n = trace.n_tokens
    counts = np.diff(trace.alt_offsets)
    k = int(counts.max()) if n else 0
    top_tokens = np.full((n, k), "", dtype=object)
    top_lp = np.full((n, k), math.nan)
    top_ids = np.full((n, k), -1, dtype=np.int64)
    for i in range(n):
        lo = int(trace.alt_offsets[i])
        for j in range(int(counts[i])):
            top_tokens[i, j] = trace.alt_tokens[lo + j]
            top_lp[i, j] = trace.alt_logprobs[lo + j]
            top_ids[i, j] = trace.alt_ids[lo + j]
    arrays: dict[str, np.ndarray] = {
        "tokens": np.array(trace.tokens, dtype=str) if n else np.zeros(0, dtype="U1"),
        "logprobs": trace.logprobs,
        "token_ids": trace.token_ids,
        "special": trace.special,
        "top_tokens": top_tokens.astype(str) if n and k else np.zeros((n, k), dtype="U1"),
        "top_logprobs": top_lp,
        "top_ids": top_ids,
        "top_counts": counts.astype(np.int64),
    }
    m = trace.meta
    for key, value in (
        ("model", m.model),
        ("created", m.created),
        ("prompt", m.prompt),
        ("finish_reason", m.finish_reason),
        ("text", m.provider_text),
    ):
        if value is not None:
            arrays[key] = np.array(value)
    return arrays


def save_npz(trace: Trace, path: str | Path) -> None:
    """Write a trace as an ``.npz`` file (compressed)."""
    np.savez_compressed(Path(path), **to_npz_arrays(trace))  # type: ignore[arg-type]
