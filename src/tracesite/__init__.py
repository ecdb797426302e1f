"""tracesite: a static-site generator for galleries of LLM token-probability traces."""

from __future__ import annotations

from typing import Any

from tracesite.errors import TraceReadError, TracesiteError
from tracesite.formats import load
from tracesite.model import Trace, TraceMeta, TraceStats

__version__ = "0.1.0"
__all__ = ["Trace", "TraceMeta", "TraceReadError", "TraceStats", "TracesiteError", "load", "show"]


def show(trace: Trace, **options: Any) -> Any:
    """Display a trace's heatmap in Jupyter (imports Bokeh on first use)."""
    from tracesite.heatmap import show_trace

    return show_trace(trace, **options)
