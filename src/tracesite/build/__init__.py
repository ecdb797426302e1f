"""The build: gather (discover, read notes, plan traces and embeds) -> render (cache, worker pool)
-> write (assemble pages, atomic writes).
"""

from __future__ import annotations
