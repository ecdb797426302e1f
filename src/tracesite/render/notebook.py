"""``tracesite.show()``: a trace's page in Jupyter, BokehJS held once per notebook.

Each view is the theme's trace page (as ``tracesite render`` makes it) in an ``<iframe srcdoc>``,
so the theme's CSS styles the page and never the notebook around it. The page's heatmap CSS/JS are
inlined; BokehJS (1.2 MB) is not: the first view a kernel shows also sets
``window.tracesiteBokehJS[version]`` on the notebook page, and every frame (``srcdoc`` shares the
notebook's origin) runs that copy. A saved notebook of ten heatmaps holds BokehJS once; it works
in JupyterLab, Notebook 7 and classic Notebook, when the notebook is reopened (outputs are drawn
in order; a frame drawn before the copy waits for it and reloads) and in nbconvert's HTML.

The kernel remembers which cell's output holds the copy (a ``pre_run_cell`` hook, kept by the
shell itself); when that cell runs again, its outputs are replaced, so the next view carries the
copy again. Frontends that send no cell id (classic Notebook 6) get one copy per kernel: clearing
that cell's output loses it until a view is shown again after a kernel restart. Outputs on
another origin than the notebook (Colab) cannot reach the copy; the frame says so.
"""

from __future__ import annotations

import html
import importlib
import json
from dataclasses import fields, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from tracesite.core.config import Config, project_config
from tracesite.core.options import HeatmapOptions
from tracesite.model.trace import Trace
from tracesite.render.assets import bokeh_js_files, bokeh_version, inline_script
from tracesite.render.cells import layout_for
from tracesite.render.page import single_file_html, trace_page
from tracesite.site.discover import TraceSource
from tracesite.site.urls import trace_slug

#: Runs in each frame where BokehJS would: BokehJS from the notebook page, and the frame's
#: height following its page. ``@@VERSION@@`` is Bokeh's version (one copy per version).
_FRAME_LOADER = """/* tracesite.show(): BokehJS from the notebook page (one copy for all) */
(function () {
  var version = "@@VERSION@@";
  function held() {
    try {
      var all = window.parent.tracesiteBokehJS;
      return (all && all[version]) || null;
    } catch (e) {
      return null; // outputs on another origin than the notebook (Colab): out of reach
    }
  }
  function missing() {
    var p = document.createElement("p");
    p.className = "tracesite-missing";
    p.textContent = "This heatmap needs BokehJS " + version + ", which the first " +
      "tracesite.show() output of a kernel puts on the notebook page, and it is not there: " +
      "run tracesite.show() again.";
    document.body.insertBefore(p, document.body.firstChild);
  }
  var code = held();
  if (code) {
    var s = document.createElement("script");
    s.textContent = code; // runs at once, before the embed below calls Bokeh
    document.head.appendChild(s);
  } else { // an earlier output is still being drawn: wait for it, then start again
    var tries = 0, timer = setInterval(function () {
      if (held()) { clearInterval(timer); location.reload(); }
      else if (++tries === 50) { clearInterval(timer); missing(); }
    }, 100);
  }
  window.addEventListener("DOMContentLoaded", function () {
    var frame = null;
    try { frame = window.frameElement; } catch (e) { /* another origin */ }
    if (!frame || !window.ResizeObserver) return;
    var html = document.documentElement;
    new ResizeObserver(function () {
      var h = Math.ceil(html.getBoundingClientRect().height) + "px";
      if (frame.style.height !== h) frame.style.height = h;
    }).observe(html);
  });
})();
"""


def bokeh_holder() -> str:
    """The notebook page's one copy of BokehJS, for the frames to run."""
    code = "".join(data.decode("utf-8") for _, data in bokeh_js_files())
    return (
        "<script>(window.tracesiteBokehJS = window.tracesiteBokehJS || {})"
        f"[{json.dumps(bokeh_version())}] = {inline_script(json.dumps(code))};</script>"
    )


class _BokehCopy:
    """Whether this kernel's notebook holds its copy of BokehJS, and in which cell's output.

    Registered as the shell's ``pre_run_cell`` hook, so the shell keeps it (no module state).
    """

    def __init__(self) -> None:
        self.sent = False
        self.cell: str | None = None  # the cell whose output holds the copy

    def pre_run_cell(self, info: Any) -> None:
        cell = getattr(info, "cell_id", None)
        if self.sent and cell is not None and cell == self.cell:
            self.sent = False  # that cell runs again: its outputs, the copy with them, go

    def take(self, shell: Any) -> bool:
        """True when this output must carry the copy (then the notebook holds it)."""
        if self.sent:
            return False
        self.sent, self.cell = True, _running_cell(shell)
        return True

    @classmethod
    def of(cls, shell: Any) -> _BokehCopy:
        for callback in shell.events.callbacks.get("pre_run_cell", []):
            owner = getattr(callback, "__self__", None)
            if isinstance(owner, cls):
                return owner
        copy = cls()
        shell.events.register("pre_run_cell", copy.pre_run_cell)
        return copy


def _running_cell(shell: Any) -> str | None:
    """The id of the cell running now, as the frontend sent it (JupyterLab, Notebook 7 and VS
    Code do; classic Notebook does not): IPython keeps the running cell's ``ExecutionInfo`` on
    the display hook's ``exec_result`` while it runs."""
    result = getattr(getattr(shell, "displayhook", None), "exec_result", None)
    cell = getattr(getattr(result, "info", None), "cell_id", None)
    return cell if isinstance(cell, str) else None


class HeatmapView:
    """A trace's page for Jupyter; ``.save(path)`` writes it as ``tracesite render`` would."""

    def __init__(self, trace: Trace, options: HeatmapOptions, config: Config) -> None:
        self.config = config
        name = Path(trace.meta.source or "trace").name
        source = TraceSource(path=Path(name), rel=name, slug=trace_slug(name), section="")
        self.n_tokens = trace.n_tokens
        self.trace_page = trace_page(trace, options, source=source, n_in_file=1)
        self.height = layout_for(trace, options).view_px + 520  # until the frame measures itself

    @cached_property
    def page(self) -> str:
        """The self-contained page, BokehJS inlined (opens from file:// with no network)."""
        return single_file_html(self.trace_page, self.config)

    @cached_property
    def frame_page(self) -> str:
        """The page shown in the notebook: BokehJS taken from the notebook page."""
        loader = _FRAME_LOADER.replace("@@VERSION@@", bokeh_version())
        return single_file_html(self.trace_page, self.config, bokeh_js=loader)

    def frame(self) -> str:
        """The ``<iframe>`` showing :attr:`frame_page` (as tall as its page once drawn)."""
        title = html.escape(f"tracesite heatmap: {self.trace_page.title}", quote=True)
        return (
            f'<iframe srcdoc="{html.escape(self.frame_page, quote=True)}" title="{title}" '
            f'style="width:100%;height:{self.height}px;border:0"></iframe>'
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        """The page once, as HTML (with the notebook's copy of BokehJS when this kernel has not
        put one there yet), and a one-line text: IPython would store ``repr()`` as well."""
        shell = _ipython_shell()
        holder = bokeh_holder() if shell is None or _BokehCopy.of(shell).take(shell) else ""
        return {"text/html": holder + self.frame(), "text/plain": repr(self)}

    def __repr__(self) -> str:
        return f"<tracesite heatmap: {self.n_tokens:,} tokens>"

    def save(self, path: str | Path) -> Path:
        """Write the self-contained page to ``path``."""
        target = Path(path)
        target.write_text(self.page, encoding="utf-8")
        return target


def show_trace(trace: Trace, **options: Any) -> HeatmapView | None:
    """Display a trace's page in Jupyter; elsewhere (plain Python, terminal IPython) return the
    view (``.save(path)``). ``options`` are :class:`HeatmapOptions` fields (``columns=30``,
    ``color_by="entropy"``...) over the ``[heatmap]`` table of a ``tracesite.toml`` at or
    above the working folder, whose theme the page also takes."""
    known = {f.name for f in fields(HeatmapOptions)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise TypeError(
            f"unknown heatmap option(s): {', '.join(unknown)}; expected {sorted(known)}"
        )
    config = project_config(Path.cwd())
    view = HeatmapView(trace, replace(config.heatmap, **options), config)
    shell = _ipython_shell()
    if shell is None or type(shell).__name__ == "TerminalInteractiveShell":
        return view
    importlib.import_module("IPython.display").display(view)
    return None


def _ipython_shell() -> Any:
    """The running IPython shell, or None (plain Python, or IPython not installed)."""
    try:
        ipython: Any = importlib.import_module("IPython")
    except ImportError:
        return None
    return ipython.get_ipython()
