"""A trace's preview image (og:image): its heatmap as a PNG of cells coloured by p, made at build
time from what the write stage already holds (the text view's per-token p classes), with the
heatmap's palette (:func:`~tracesite.render.modes.mode_palette`).

The PNG is written by hand (an indexed-colour image, zlib-compressed scanlines: ~20 lines), so
tracesite needs no imaging library; cells of one colour compress to a few kilobytes.
"""

from __future__ import annotations

import re
import struct
import zlib
from functools import cache

import numpy as np

from tracesite.render.modes import mode_palette

WIDTH, HEIGHT = 1200, 630
PAD = 40
#: At most this many cells: a longer trace is drawn as the mean p of runs of positions.
MAX_CELLS = 4000
#: Palette indices: 0 background, 1..11 p in tenths (0.0 .. 1.0), 12 p unknown or special.
BACKGROUND, UNKNOWN = 0, 12

_CLASS = re.compile(r"<span id=tok-\d+ class=\"?(?:q(\d+)|(qu|sp))")


def tenths_from_text_view(text_view: str) -> np.ndarray:
    """Per token, p in tenths (0..10) as the text view's ``qK`` classes give it; -1 unknown."""
    codes = [int(k) if k else -1 for k, _ in _CLASS.findall(text_view)]
    return np.clip(np.array(codes, dtype=np.float64), -1, 10)


def tenths_from_sparkline(points: str, height: int = 24) -> np.ndarray:
    """The sparkline's bucket means as tenths (a fallback when no text view is at hand)."""
    ys = [float(pt.split(",")[1]) for pt in points.split()]
    p = (height - 1 - np.array(ys, dtype=np.float64)) / (height - 2)
    return np.clip(np.rint(p * 10), 0, 10)


@cache
def palette_bytes() -> bytes:
    """The PNG palette: background, the probability mode's colours at p = 0.0, 0.1 ... 1.0
    (interpolated between its anchors as heatmap.js does), grey for unknown p."""
    anchors = [tuple(int(c[i : i + 2], 16) for i in (1, 3, 5)) for c in mode_palette("probability")]
    a = np.array(anchors, dtype=np.float64)
    rows = [(255, 255, 255)]
    for s in range(11):
        t = s / 10 * (len(a) - 1)
        k = min(len(a) - 2, int(t))
        rows.append(tuple(round(v) for v in a[k] + (a[k + 1] - a[k]) * (t - k)))
    rows.append((200, 200, 200))
    return b"".join(bytes(r) for r in rows)


def _cells(tenths: np.ndarray) -> np.ndarray:
    """Palette index per cell; a long trace's runs of positions averaged (unknown left out)."""
    if len(tenths) > MAX_CELLS:
        edges = np.linspace(0, len(tenths), MAX_CELLS + 1).astype(int)
        known = np.where(tenths >= 0, tenths, 0.0)
        counts = np.add.reduceat((tenths >= 0).astype(np.float64), edges[:-1])
        sums = np.add.reduceat(known, edges[:-1])
        mean = np.divide(sums, counts, out=np.full(MAX_CELLS, -1.0), where=counts > 0)
        tenths = np.where(counts > 0, np.rint(mean), -1)
    return np.where(tenths >= 0, tenths + 1, UNKNOWN).astype(np.uint8)


def _grid(n: int) -> tuple[int, int]:
    """(columns, rows) for ``n`` cells about twice as wide as tall, filling the drawing area."""
    area_w, area_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD
    cols = int(np.clip(round((area_w * n / (2 * area_h)) ** 0.5), 1, max(n, 1)))
    return cols, -(-n // cols)


def _axis(edges: np.ndarray, size: int, gap: int) -> np.ndarray:
    """Per pixel along one axis, the cell it falls in, or -1 (padding, or a gap between cells)."""
    at = np.arange(size)
    cell = np.searchsorted(edges, at, side="right") - 1
    inside = (cell >= 0) & (cell < len(edges) - 1)
    cell = np.where(inside, cell, 0)
    inside &= at < edges[cell + 1] - gap
    return np.where(inside, cell, -1)


def preview_scanlines(tenths: np.ndarray) -> bytes:
    """The image's PNG scanlines (a filter byte, then palette indices), the cells in reading
    order. Each band of pixel rows repeats one line, so only the distinct lines are computed."""
    cells = _cells(tenths)
    if len(cells) == 0:
        blank = b"\0" + bytes(WIDTH)
        return blank * HEIGHT
    cols, rows = _grid(len(cells))
    xs = np.linspace(PAD, WIDTH - PAD, cols + 1).astype(int)
    ys = np.linspace(PAD, HEIGHT - PAD, rows + 1).astype(int)
    gap = 2 if min(xs[1] - xs[0], ys[1] - ys[0]) >= 8 else 0
    grid = np.full((rows + 1, cols + 1), BACKGROUND, dtype=np.uint8)  # last row/col: outside
    grid[:rows, :cols].flat[: len(cells)] = cells
    col, row = _axis(xs, WIDTH, gap), _axis(ys, HEIGHT, gap)
    lines = np.zeros((rows + 1, WIDTH + 1), dtype=np.uint8)  # column 0: filter 0 ("none")
    lines[:, 1:] = grid[:, np.where(col >= 0, col, cols)]
    distinct = [line.tobytes() for line in lines]
    return b"".join(distinct[r] for r in np.where(row >= 0, row, rows).tolist())


def png_bytes(scanlines: bytes, width: int, height: int, palette: bytes) -> bytes:
    """An 8-bit indexed-colour PNG from its ``scanlines`` and ``palette`` (RGB triples)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"PLTE", palette)
        + chunk(b"IDAT", zlib.compress(scanlines, 6))
        + chunk(b"IEND", b"")
    )


def render_preview(text_view: str, sparkline: str = "") -> bytes:
    """The preview PNG of a trace from its text view (else its sparkline)."""
    tenths = tenths_from_text_view(text_view)
    if len(tenths) == 0 and sparkline:
        tenths = tenths_from_sparkline(sparkline)
    return png_bytes(preview_scanlines(tenths), WIDTH, HEIGHT, palette_bytes())
