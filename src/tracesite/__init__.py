"""tracesite: a static-site generator for galleries of LLM token-probability traces.

The public names load lazily (PEP 562): ``tracesite build`` and ``serve`` import this package
for every module, and a rebuild with nothing to render should not pay for numpy and every
reader (~0.15 s) before it knows it has nothing to read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tracesite.errors import TraceReadError, TracesiteError

if TYPE_CHECKING:
    from tracesite.formats import load
    from tracesite.model import Trace, TraceMeta, TraceStats

__version__ = "0.1.0"
__all__ = ["Trace", "TraceMeta", "TraceReadError", "TraceStats", "TracesiteError", "load", "show"]


def __getattr__(name: str) -> Any:
    if name == "load":
        from tracesite.formats import load

        return load
    if name in ("Trace", "TraceMeta", "TraceStats"):
        from tracesite import model

        return getattr(model, name)
    raise AttributeError(f"module 'tracesite' has no attribute {name!r}")


def show(trace: Trace, **options: Any) -> Any:
    """Display a trace's heatmap in Jupyter (imports Bokeh on first use)."""
    from tracesite.heatmap import show_trace

    return show_trace(trace, **options)
