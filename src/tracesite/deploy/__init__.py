"""Publishing a built site to a GitHub Pages branch, with the checks that keep a wrong base URL or
a stray file out.
"""

from __future__ import annotations
