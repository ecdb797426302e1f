"""Errors and the Diagnostics sink, heatmap options, configuration: what every stage shares;
imports no other stage.
"""

from __future__ import annotations
