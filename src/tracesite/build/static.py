"""Static files of a site: theme assets, Pygments CSS, BokehJS (once, versioned), content files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tracesite.build.writer import SiteWriter
from tracesite.core.config import Config
from tracesite.core.errors import BuildError, Diagnostics
from tracesite.render.assets import bokeh_js_files, bokeh_version, pygments_css
from tracesite.site.discover import Content, resolve_inside
from tracesite.site.pages import theme_static_dirs

#: The source tracesite's own files are claimed for (a content file at one of their paths
#: is reported as "content/assets/search-index.js: this and tracesite both write ...").
OWN = "tracesite"
#: Files the write stage writes after the content files are copied.
GENERATED = ("assets/search-index.js", "sitemap.xml", ".nojekyll")


@dataclass(frozen=True)
class Assets:
    """Site-relative paths of the scripts and styles pages load."""

    bokeh_js: tuple[str, ...] = ()
    heatmap_css: tuple[str, ...] = ()
    heatmap_js: tuple[str, ...] = ()


def copy_static(
    writer: SiteWriter,
    config: Config,
    content: Content,
    diag: Diagnostics,
    *,
    need_bokeh: bool,
) -> Assets:
    """Copy theme static files (project theme wins), content files, and BokehJS when needed.

    A theme file that is a symlink out of its theme's ``static/`` folder is left out with a
    warning, as discovery leaves out content files that lead outside ``content/``."""
    theme_files: dict[str, Path] = {}
    for static in theme_static_dirs(config.build.theme_dirs):
        for f in sorted(static.rglob("*")):
            if not f.is_file() or f.name.startswith("."):
                continue
            if resolve_inside(static, f) is None:
                diag.warn(
                    BuildError(
                        "a symlink to a file outside the theme's static folder; not copied",
                        path=config.shown(f),
                    )
                )
                continue
            theme_files[f.relative_to(static).as_posix()] = f
    for rel, f in sorted(theme_files.items()):
        _copy(writer, diag, f"assets/theme/{rel}", f, config.shown(f), source=OWN)
    writer.write("assets/pygments.css", pygments_css(), source=OWN)
    bokeh_js: tuple[str, ...] = ()
    if need_bokeh:
        folder = f"assets/bokeh-{bokeh_version()}"
        names = []
        for name, data in bokeh_js_files():
            writer.write(f"{folder}/{name}", data, source=OWN)
            names.append(f"{folder}/{name}")
        bokeh_js = tuple(names)
    for rel in GENERATED:  # written later; a content file of the same name must not be lost
        writer.claim(rel, OWN)
    for f, rel in content.static:  # after tracesite's own: one of the same path is an error
        _copy(writer, diag, rel, f, config.shown(f), source=config.shown(f))
    heatmap_css = tuple(
        f"assets/theme/{r}" for r in theme_files if r.startswith("heatmap/") and r.endswith(".css")
    )
    heatmap_js = tuple(
        f"assets/theme/{r}" for r in theme_files if r.startswith("heatmap/") and r.endswith(".js")
    )
    return Assets(bokeh_js=bokeh_js, heatmap_css=heatmap_css, heatmap_js=heatmap_js)


def _copy(
    writer: SiteWriter, diag: Diagnostics, rel: str, src: Path, shown: str, source: str = ""
) -> None:
    """Copy one file into the site; a file that cannot be read fails alone, addressed."""
    try:
        data = src.read_bytes()
    except OSError as exc:
        diag.error(BuildError(f"cannot read: {exc.strerror or exc}", path=shown))
        return
    try:
        writer.write(rel, data, source=source)
    except BuildError as exc:
        diag.error(exc)
