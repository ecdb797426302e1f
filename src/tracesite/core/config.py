"""``tracesite.toml`` -> a frozen :class:`Config`; every error collected and addressed (SPEC §5)."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

from tracesite.core.errors import ConfigError, ErrorCollection
from tracesite.core.options import COLOR_MODES, HeatmapOptions

CONFIG_NAME = "tracesite.toml"


@dataclass(frozen=True)
class SiteConfig:
    title: str = "Trace gallery"
    description: str = ""
    base_url: str = "/"  # "https://user.github.io/repo/" for a project site

    @property
    def base_path(self) -> str:
        """The URL path the site lives under: "/" or "/repo/"."""
        m = re.match(r"^[a-z][a-z0-9+.-]*://[^/]*(/.*)?$", self.base_url, re.I)
        path = (m.group(1) or "/") if m else self.base_url
        if not path.startswith("/"):
            path = "/" + path
        return path if path.endswith("/") else path + "/"

    @property
    def absolute(self) -> bool:
        """True when base_url names a host, so absolute URLs (sitemap) can be written."""
        return bool(re.match(r"^https?://", self.base_url, re.I))


@dataclass(frozen=True)
class BuildConfig:
    content_dir: Path
    output_dir: Path
    theme: str = "default"
    theme_dirs: tuple[Path, ...] = field(default=())  # the active theme first, built-ins last


@dataclass(frozen=True)
class Config:
    project: Path
    site: SiteConfig
    build: BuildConfig
    heatmap: HeatmapOptions
    path: Path | None = None  # the tracesite.toml that was read, if any

    def shown(self, path: Path) -> str:
        """``path`` as messages name it: relative to the project, as the user typed it."""
        try:
            return path.relative_to(self.project).as_posix()
        except ValueError:
            return str(path)


_SCHEMA: dict[str, dict[str, type | tuple[type, ...]]] = {
    "site": {"title": str, "description": str, "base_url": str},
    "build": {"content_dir": str, "output_dir": str, "theme": str},
    "heatmap": {
        "columns": int,
        "alternatives": int,
        "color_by": str,
        "low_confidence": (int, float),
    },
}
_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


def builtin_themes_dir() -> Path:
    """The folder holding the built-in themes (``themes/`` in the repo, shipped in the wheel)."""
    return Path(str(files("tracesite.themes")))


def _type_name(t: type | tuple[type, ...]) -> str:
    if isinstance(t, tuple):
        return "a number"
    return _TYPE_NAMES.get(t, t.__name__)


def _check(
    data: dict[str, Any], cfg_path: str, errors: list[ConfigError]
) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {name: {} for name in _SCHEMA}
    for table, values in data.items():
        if table not in _SCHEMA:
            errors.append(
                ConfigError(
                    f"unknown table [{table}]; expected one of "
                    + ", ".join(f"[{t}]" for t in _SCHEMA),
                    path=cfg_path,
                    address=table,
                )
            )
            continue
        if not isinstance(values, dict):
            errors.append(ConfigError("expected a table", path=cfg_path, address=table))
            continue
        for key, value in values.items():
            addr = f"{table}.{key}"
            expected = _SCHEMA[table].get(key)
            if expected is None:
                known = ", ".join(_SCHEMA[table])
                errors.append(
                    ConfigError(
                        f"unknown key; expected one of {known}", path=cfg_path, address=addr
                    )
                )
            elif isinstance(value, bool) or not isinstance(value, expected):
                errors.append(
                    ConfigError(
                        f"expected {_type_name(expected)}, got {value!r}",
                        path=cfg_path,
                        address=addr,
                    )
                )
            else:
                out[table][key] = value
    return out


def _heatmap(values: dict[str, Any], cfg_path: str, errors: list[ConfigError]) -> HeatmapOptions:
    hm = HeatmapOptions()
    columns = values.get("columns", hm.columns)
    if not 1 <= columns <= 200:
        errors.append(
            ConfigError(f"expected 1..200, got {columns}", path=cfg_path, address="heatmap.columns")
        )
        columns = hm.columns
    alternatives = values.get("alternatives", hm.alternatives)
    if not 0 <= alternatives <= 20:
        errors.append(
            ConfigError(
                f"expected 0..20, got {alternatives}", path=cfg_path, address="heatmap.alternatives"
            )
        )
        alternatives = hm.alternatives
    color_by = values.get("color_by", hm.color_by)
    if color_by not in COLOR_MODES:
        errors.append(
            ConfigError(
                f"expected one of {', '.join(COLOR_MODES)}, got {color_by!r}",
                path=cfg_path,
                address="heatmap.color_by",
            )
        )
        color_by = hm.color_by
    low = float(values.get("low_confidence", hm.low_confidence))
    if not 0.0 <= low <= 1.0:
        errors.append(
            ConfigError(
                f"expected a probability 0..1, got {low}",
                path=cfg_path,
                address="heatmap.low_confidence",
            )
        )
        low = hm.low_confidence
    return HeatmapOptions(
        columns=columns, alternatives=alternatives, color_by=color_by, low_confidence=low
    )


def theme_dirs(project: Path, theme: str) -> tuple[Path, ...]:
    """Theme folders, most specific first: the project's ``themes/<name>``, then built-ins."""
    builtin = builtin_themes_dir()
    dirs = [d for d in (project / "themes" / theme, builtin / theme) if d.is_dir()]
    default = builtin / "default"
    if default not in dirs:
        dirs.append(default)
    return tuple(dict.fromkeys(dirs))


def load_config(project: Path, *, base_url: str | None = None) -> Config:
    """Read ``tracesite.toml`` in ``project`` (optional). Raises ErrorCollection of ConfigErrors."""
    project = project.resolve()
    cfg_file = project / CONFIG_NAME
    cfg_path = str(cfg_file)
    errors: list[ConfigError] = []
    data: dict[str, Any] = {}
    if cfg_file.is_file():
        try:
            data = tomllib.loads(cfg_file.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            m = re.search(r"\(at line (\d+), column \d+\)", str(exc))
            msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
            raise ConfigError(msg, path=cfg_path, address=m.group(1) if m else "") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read: {exc}", path=cfg_path) from None
    values = _check(data, cfg_path, errors)
    heatmap = _heatmap(values["heatmap"], cfg_path, errors)
    if errors:
        raise ErrorCollection(errors)
    site = SiteConfig(**values["site"])
    if base_url is not None:
        site = SiteConfig(title=site.title, description=site.description, base_url=base_url)
    b = values["build"]
    theme = b.get("theme", "default")
    build = BuildConfig(
        content_dir=(project / b.get("content_dir", "content")).resolve(),
        output_dir=(project / b.get("output_dir", "site")).resolve(),
        theme=theme,
        theme_dirs=theme_dirs(project, theme),
    )
    if not (project / "themes" / theme).is_dir() and not (builtin_themes_dir() / theme).is_dir():
        raise ConfigError(
            f"theme {theme!r} not found in {project / 'themes'} nor among the built-in themes",
            path=cfg_path,
            address="build.theme",
        )
    return Config(
        project=project,
        site=site,
        build=build,
        heatmap=heatmap,
        path=cfg_file if cfg_file.is_file() else None,
    )
