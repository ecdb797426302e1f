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


#: What ``[rollouts.columns]`` may name besides channels: the roles of a rollout table's columns.
COLUMN_ROLES = (
    "tokens",
    "token_ids",
    "logprob",
    "train_logprob",
    "ref_logprob",
    "entropy",
    "advantage",
    "mask",
    "prompt",
    "step",
    "group",
    "reward",
    "id",
)


@dataclass(frozen=True)
class ReadOptions:
    """How trace readers read what a file does not say itself: ``[rollouts]`` in tracesite.toml.

    Picklable (it travels with each render task to the workers) and part of the render cache
    key through :attr:`digest`, so changing a column mapping or the tokenizer's content re-reads
    and re-renders. Only rollout tables and SGLang responses consult it.
    """

    columns: tuple[tuple[str, str], ...] = ()  # (role or channel name, column name)
    tokenizer: str = ""  # the tokenizer.json as configured (relative to the project)
    tokenizer_path: str = ""  # the same, absolute, for the readers
    tokenizer_digest: str = ""  # sha256 of the tokenizer file's bytes
    engine: str = ""  # provenance: who sampled ("vllm", "sglang"...)
    logprobs: str = ""  # provenance: "raw" or "processed" (after temperature/top-p)
    entropy: str = ""  # provenance: "exact" or "lower bound"

    def column(self, role: str) -> str | None:
        """The column mapped to ``role`` (or to a channel of that name), if any."""
        for name, column in self.columns:
            if name == role:
                return column
        return None

    @property
    def digest(self) -> str:
        """What the render cache key takes of these options ("" for the defaults): the
        tokenizer by its content, never by its absolute path (a moved project keeps its cache)."""
        if self == ReadOptions():
            return ""
        import hashlib

        parts = repr(
            (
                self.columns,
                self.tokenizer,
                self.tokenizer_digest,
                self.engine,
                self.logprobs,
                self.entropy,
            )
        )
        return hashlib.sha256(parts.encode("utf-8", "surrogatepass")).hexdigest()[:16]
