"""Heatmap options, shared by the config, the build and the renderer (no Bokeh import here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ColorBy = Literal["probability", "entropy", "surprisal"]
COLOR_MODES: tuple[ColorBy, ...] = ("probability", "entropy", "surprisal")


@dataclass(frozen=True)
class Highlight:
    """A span of interest from a note's front matter, 1-based inclusive positions."""

    start: int
    end: int
    label: str = ""


@dataclass(frozen=True)
class HeatmapOptions:
    """How a trace is drawn; part of the render cache key, so keep it hashable and complete."""

    columns: int = 20  # positions per row, as in the figure
    alternatives: int = 3  # alternative cells drawn under each chosen token
    color_by: ColorBy = "probability"  # initial colour mode; switchable on the page
    low_confidence: float = 0.5  # positions with p below this are flagged
    highlights: tuple[Highlight, ...] = field(default=())
    position_offset: int = 0  # first position number - 1 (for `positions: 40-80` slices)
