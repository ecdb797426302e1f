"""The dev server: build into temporary epochs, serve them, watch the sources, rebuild and live-
reload open tabs.
"""

from __future__ import annotations
