"""The commands that are not a stage of their own: `inspect` (what a file holds) and `new` (a
project scaffold).
"""

from __future__ import annotations
