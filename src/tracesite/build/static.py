"""Static files of a site: theme assets, Pygments CSS, BokehJS (once, versioned), content files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tracesite.build.writer import SiteWriter
from tracesite.core.config import Config
from tracesite.render.assets import bokeh_js_files, bokeh_version, pygments_css
from tracesite.site.discover import Content
from tracesite.site.pages import theme_static_dirs


@dataclass(frozen=True)
class Assets:
    """Site-relative paths of the scripts and styles pages load."""

    bokeh_js: tuple[str, ...] = ()
    heatmap_css: tuple[str, ...] = ()
    heatmap_js: tuple[str, ...] = ()


def copy_static(
    writer: SiteWriter, config: Config, content: Content, *, need_bokeh: bool
) -> Assets:
    """Copy theme static files (project theme wins), content files, and BokehJS when needed."""
    theme_files: dict[str, Path] = {}
    for static in theme_static_dirs(config.build.theme_dirs):
        for f in sorted(static.rglob("*")):
            if f.is_file() and not f.name.startswith("."):
                theme_files[f.relative_to(static).as_posix()] = f
    for rel, f in sorted(theme_files.items()):
        writer.copy(f"assets/theme/{rel}", f)
    writer.write("assets/pygments.css", pygments_css())
    for f, rel in content.static:
        writer.write(rel, f.read_bytes(), source=rel)
    heatmap_css = tuple(
        f"assets/theme/{r}" for r in theme_files if r.startswith("heatmap/") and r.endswith(".css")
    )
    heatmap_js = tuple(
        f"assets/theme/{r}" for r in theme_files if r.startswith("heatmap/") and r.endswith(".js")
    )
    bokeh_js: tuple[str, ...] = ()
    if need_bokeh:
        folder = f"assets/bokeh-{bokeh_version()}"
        names = []
        for name, data in bokeh_js_files():
            writer.write(f"{folder}/{name}", data)
            names.append(f"{folder}/{name}")
        bokeh_js = tuple(names)
    return Assets(bokeh_js=bokeh_js, heatmap_css=heatmap_css, heatmap_js=heatmap_js)
