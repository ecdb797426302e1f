"""The version of tracesite: one home, read by the package face, pyproject and the cache key."""

from __future__ import annotations

__version__ = "0.1.0"
