"""The HTML pieces of a trace page that depend on the trace: the heatmap and the text view."""

from __future__ import annotations

from tracesite.core.options import HeatmapOptions
from tracesite.model.trace import Trace
from tracesite.render.heatmap import render_heatmap
from tracesite.render.textview import render_prompt_view, render_text_view


def render_fragments(trace: Trace, options: HeatmapOptions) -> dict[str, str]:
    """The HTML pieces of a trace page that depend on the trace (imports Bokeh)."""
    script, div = render_heatmap(trace, options)
    out = {"script": script, "div": div, "text_view": render_text_view(trace, options)}
    prompt = trace.prompt_trace
    if prompt is not None and prompt.n_tokens:  # vLLM prompt_logprobs: shown before, apart
        out["prompt_view"] = render_prompt_view(prompt, options)
    return out
