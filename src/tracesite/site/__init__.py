"""The site's content and shape: discovery (one ignore rule), notes, links, gallery cards and tags,
template contexts, themes.
"""

from __future__ import annotations
