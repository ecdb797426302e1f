"""tracesite: a static-site generator for galleries of LLM token-probability traces.

The public names load lazily (PEP 562): ``tracesite build`` and ``serve`` import this package
for every module, and a rebuild with nothing to render should not pay for numpy and every
reader (~0.15 s) before it knows it has nothing to read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tracesite.core.errors import TraceReadError, TracesiteError
from tracesite.core.version import __version__

if TYPE_CHECKING:
    from tracesite.formats import from_openai, load, save
    from tracesite.model.trace import Trace, TraceMeta, TraceStats

__all__ = [
    "Trace",
    "TraceMeta",
    "TraceReadError",
    "TraceStats",
    "TracesiteError",
    "__version__",
    "from_openai",
    "load",
    "save",
    "show",
]


def __getattr__(name: str) -> Any:
    if name in ("load", "save", "from_openai"):
        from tracesite import formats

        return getattr(formats, name)
    if name in ("Trace", "TraceMeta", "TraceStats"):
        from tracesite.model import trace

        return getattr(trace, name)
    raise AttributeError(f"module 'tracesite' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


def show(trace: Trace, **options: Any) -> Any:
    """Display a trace's heatmap in Jupyter (imports Bokeh on first use)."""
    from tracesite.render.notebook import show_trace

    return show_trace(trace, **options)
