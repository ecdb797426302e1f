"""The build: gather (discover, read notes, plan traces and embeds) -> render (cache, worker
pool) -> write (assemble pages, atomic writes).

``from tracesite.build import build_project, BuildOptions`` is the stable way to build from
Python; the names load on first use, so importing a submodule (a worker's ``job``) stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tracesite.build.pipeline import BuildOptions, BuildResult, build_project

__all__ = ["BuildOptions", "BuildResult", "build_project"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from tracesite.build import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'tracesite.build' has no attribute {name!r}")
