"""Trace -> HTML: the heatmap (the only package that imports Bokeh), the text view, the single-file
page and Jupyter's show().
"""

from __future__ import annotations
