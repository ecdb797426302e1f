"""The files a page loads besides its HTML: BokehJS, the theme's styles and scripts, Pygments' CSS.

A site build copies them into ``assets/`` (:mod:`tracesite.build.static`); a single-file page
(``tracesite render``, ``tracesite.show()``) inlines them (:func:`inline_assets`). Nothing here
imports Bokeh: its files are found through the package's location (the import costs ~0.5 s).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.metadata import version
from importlib.util import find_spec
from pathlib import Path

from markupsafe import Markup

from tracesite.core.config import builtin_themes_dir
from tracesite.site.pages import theme_static_dirs

#: Where the site build puts each kind of asset; the templates name them by these paths.
THEME_PREFIX = "assets/theme/"
PYGMENTS_CSS = "assets/pygments.css"
#: The BokehJS files a heatmap embed needs, in load order (no widgets, tables or GL).
_BOKEH_JS = ("bokeh.min.js",)


def bokeh_version() -> str:
    """The installed Bokeh's version (from its metadata: importing Bokeh costs ~70 ms)."""
    return version("bokeh")


def bokeh_js_files() -> list[tuple[str, bytes]]:
    """The BokehJS files a heatmap embed needs, in load order, as (file name, bytes), found in
    the installed package without importing it."""
    spec = find_spec("bokeh")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("Bokeh is not installed")
    js_dir = Path(next(iter(spec.submodule_search_locations))) / "server" / "static" / "js"
    return [(name, (js_dir / name).read_bytes()) for name in _BOKEH_JS]


def bokeh_js_urls() -> tuple[str, ...]:
    """Site-relative paths of the BokehJS files (versioned, so a Bokeh upgrade is a new URL)."""
    return tuple(f"assets/bokeh-{bokeh_version()}/{name}" for name in _BOKEH_JS)


def heatmap_assets() -> list[tuple[str, bytes]]:
    """The built-in theme's heatmap CSS and JS (besides BokehJS), as (file name, bytes), CSS first.

    Pages take them from the theme chain (a project theme may replace them); these are the
    built-in ones.
    """
    folder = builtin_themes_dir() / "default" / "static" / "heatmap"
    names = sorted(p.name for p in folder.iterdir() if p.suffix in (".css", ".js"))
    names.sort(key=lambda n: not n.endswith(".css"))
    return [(name, (folder / name).read_bytes()) for name in names]


def pygments_css() -> str:
    """Code highlighting for light mode and, under ``[data-theme=dark]``, dark mode."""
    from pygments.formatters import HtmlFormatter

    light = HtmlFormatter(style="friendly").get_style_defs(".highlight")
    dark = HtmlFormatter(style="monokai").get_style_defs(":root[data-theme='dark'] .highlight")
    return f"{light}\n{dark}\n"


_END_SCRIPT = re.compile(r"</(script)|<!--", re.I)
_END_STYLE = re.compile(r"</(style)", re.I)


def inline_script(code: str) -> Markup:
    """JS for an inline ``<script>``: ``</script`` would end the element and ``<!--`` changes how
    the HTML parser reads it, so both are escaped (``<\\/script`` means the same inside the
    string and regex literals where such text can appear)."""
    return Markup(_END_SCRIPT.sub(lambda m: "<\\/" + m.group(1) if m.group(1) else "<\\!--", code))


def inline_style(css: str) -> Markup:
    """CSS for an inline ``<style>`` (``</style`` would end the element)."""
    return Markup(_END_STYLE.sub(r"<\\/\1", css))


@dataclass(frozen=True)
class InlineAssets:
    """What a single-file page loads: the paths the templates name, and the text of each."""

    bokeh_js: tuple[str, ...]
    heatmap_css: tuple[str, ...]
    heatmap_js: tuple[str, ...]
    text: dict[str, Markup] = field(default_factory=dict)  # path -> inline-safe CSS or JS


def inline_assets(theme_dirs: Sequence[Path], *, bokeh_js: str | None = None) -> InlineAssets:
    """Every CSS and JS file of the theme chain (a project's own files win, as in a build),
    Pygments' CSS and BokehJS, ready to inline. ``bokeh_js`` replaces BokehJS's code (a
    notebook frame's loader takes it from the notebook page instead)."""
    files: dict[str, Path] = {}
    for static in theme_static_dirs(theme_dirs):
        for f in sorted(static.rglob("*")):
            if f.is_file() and f.suffix in (".css", ".js") and not f.name.startswith("."):
                files[f.relative_to(static).as_posix()] = f
    text: dict[str, Markup] = {}
    for rel, f in sorted(files.items()):
        code = f.read_text(encoding="utf-8")
        text[THEME_PREFIX + rel] = inline_style(code) if f.suffix == ".css" else inline_script(code)
    text[PYGMENTS_CSS] = inline_style(pygments_css())
    bokeh_urls = bokeh_js_urls()
    if bokeh_js is None:
        for url, (_, data) in zip(bokeh_urls, bokeh_js_files(), strict=True):
            text[url] = inline_script(data.decode("utf-8"))
    else:
        text[bokeh_urls[0]] = inline_script(bokeh_js)

    def heatmap(suffix: str) -> tuple[str, ...]:
        return tuple(
            THEME_PREFIX + r for r in files if r.startswith("heatmap/") and r.endswith(suffix)
        )

    return InlineAssets(bokeh_urls, heatmap(".css"), heatmap(".js"), text)
