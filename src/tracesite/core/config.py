"""``tracesite.toml`` -> a frozen :class:`Config`; every error collected and addressed (SPEC §5)."""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

from tracesite.core.errors import ConfigError, ErrorCollection
from tracesite.core.options import COLOR_MODES, HeatmapOptions, ReadOptions

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


#: ``[build] max_pages``' default (docs/scale.md: what a page costs to build and to store).
DEFAULT_MAX_PAGES = 5000


@dataclass(frozen=True)
class BuildConfig:
    content_dir: Path
    output_dir: Path
    theme: str = "default"
    theme_dirs: tuple[Path, ...] = field(default=())  # the active theme first, built-ins last
    exclude: tuple[str, ...] = ()  # globs of content/ paths that are not content (exclude_docs)
    #: Past this many traces, traces without a note get no page of their own: the viewer draws
    #: them from token shards (docs/scale.md says why 5,000).
    max_pages: int = DEFAULT_MAX_PAGES


@dataclass(frozen=True)
class Config:
    project: Path
    site: SiteConfig
    build: BuildConfig
    heatmap: HeatmapOptions
    path: Path | None = None  # the tracesite.toml that was read, if any
    read: ReadOptions = field(default_factory=ReadOptions)  # [rollouts]: how tables are read

    def shown(self, path: Path) -> str:
        """``path`` as messages name it: relative to the project, as the user typed it."""
        try:
            return path.relative_to(self.project).as_posix()
        except ValueError:
            return str(path)


_SCHEMA: dict[str, dict[str, type | tuple[type, ...]]] = {
    "site": {"title": str, "description": str, "base_url": str},
    "build": {
        "content_dir": str,
        "output_dir": str,
        "theme": str,
        "exclude": list,
        "max_pages": int,
    },
    "heatmap": {
        "columns": int,
        "alternatives": int,
        "color_by": str,
        "low_confidence": (int, float),
    },
    "rollouts": {"tokenizer": str, "engine": str, "logprobs": str, "entropy": str, "columns": dict},
}
_TYPE_NAMES = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    dict: "a table",
}
#: The values ``[rollouts]`` keys may take (provenance: what the numbers mean, SPEC §15).
_ROLLOUT_CHOICES = {"logprobs": ("raw", "processed"), "entropy": ("exact", "lower bound")}


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
            elif isinstance(value, int) and not -(2**63) <= value < 2**63:
                # TOML integers are 64-bit; tomllib accepts any, and float() of a huge one fails
                errors.append(
                    ConfigError(
                        "expected a 64-bit integer, got a number this long: "
                        f"{len(str(abs(value))):,} digits",
                        path=cfg_path,
                        address=addr,
                    )
                )
            elif problem := _value_problem(table, key, value):
                errors.append(ConfigError(problem, path=cfg_path, address=addr))
            else:
                out[table][key] = value
    return out


_THEME_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def base_url_problem(base_url: str) -> str | None:
    """Why ``base_url`` cannot be the address the site lives under, or None. The 404 page
    sets ``<base href>`` to its path, so a path that a browser reads as another host
    (``//host/``, ``\\host``) would make that page load its assets from there."""
    if re.search(r"[\x00-\x20\x7f\\\"'<>`]", base_url):
        return f"expected a URL or a path without spaces, quotes or backslashes, got {base_url!r}"
    m = re.match(r"^([a-z][a-z0-9+.-]*):(//)?([^/]*)(.*)$", base_url, re.I)
    if m and not re.match(r"^\d+$", m.group(3) or "x"):  # "host:port/..." is not a scheme
        if m.group(1).lower() not in ("http", "https") or not m.group(2) or not m.group(3):
            return f"expected https://host/path/ or a path such as /repo/, got {base_url!r}"
        path = m.group(4)
    else:
        path = base_url
    if path.startswith("//") or "?" in path or "#" in path:
        return f"expected a path such as /repo/ (no //, ? or #), got {base_url!r}"
    return None


def _value_problem(table: str, key: str, value: Any) -> str | None:
    """What is wrong with a value of the right type ([site] and [build] values)."""
    if (table, key) == ("site", "base_url"):
        return base_url_problem(value)
    if (table, key) == ("build", "theme") and not _THEME_NAME.fullmatch(value):
        return f"expected the name of a folder under themes/, got {value!r}"
    return None


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


def _rollouts(
    values: dict[str, Any], project: Path, cfg_path: str, errors: list[ConfigError]
) -> ReadOptions:
    """``[rollouts]``: the column mapping, the local tokenizer (read here, for its digest) and
    what the numbers mean."""
    for key, allowed in _ROLLOUT_CHOICES.items():
        if key in values and values[key] not in allowed:
            shown = " or ".join(repr(a) for a in allowed)
            errors.append(
                ConfigError(
                    f"expected {shown}, got {values[key]!r}",
                    path=cfg_path,
                    address=f"rollouts.{key}",
                )
            )
    columns: list[tuple[str, str]] = []
    for name, column in values.get("columns", {}).items():
        if not isinstance(column, str) or not column:
            errors.append(
                ConfigError(
                    f"expected a column name (a string), got {column!r}",
                    path=cfg_path,
                    address=f"rollouts.columns.{name}",
                )
            )
        else:
            columns.append((name, column))
    tokenizer = values.get("tokenizer", "")
    path, digest = "", ""
    if tokenizer:
        target = (project / tokenizer).resolve()
        try:
            digest = hashlib.sha256(target.read_bytes()).hexdigest()
            path = str(target)
        except OSError as exc:
            errors.append(
                ConfigError(
                    f"cannot read the tokenizer {tokenizer!r}: {exc.strerror or exc}",
                    path=cfg_path,
                    address="rollouts.tokenizer",
                )
            )
    return ReadOptions(
        columns=tuple(columns),
        tokenizer=tokenizer,
        tokenizer_path=path,
        tokenizer_digest=digest,
        engine=values.get("engine", ""),
        logprobs=values.get("logprobs", ""),
        entropy=values.get("entropy", ""),
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
        except ValueError as exc:  # tomllib's int() of a number longer than 4,300 digits
            raise ConfigError("a number has too many digits", path=cfg_path) from exc
        except RecursionError:  # tomllib recurses once per nested array or inline table
            raise ConfigError("arrays or tables nested too deeply", path=cfg_path) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read: {exc}", path=cfg_path) from None
    values = _check(data, cfg_path, errors)
    heatmap = _heatmap(values["heatmap"], cfg_path, errors)
    read = _rollouts(values["rollouts"], project, cfg_path, errors)
    if errors:
        raise ErrorCollection(errors)
    site = SiteConfig(**values["site"])
    if base_url is not None:
        problem = base_url_problem(base_url)
        if problem:
            raise ConfigError(problem, address="--base-url")
        site = SiteConfig(title=site.title, description=site.description, base_url=base_url)
    b = values["build"]
    exclude = b.get("exclude", [])
    if not all(isinstance(x, str) for x in exclude):
        raise ConfigError(
            'expected a list of glob strings, e.g. ["drafts/**", "*.csv"]',
            path=cfg_path,
            address="build.exclude",
        )
    theme = b.get("theme", "default")
    max_pages = b.get("max_pages", DEFAULT_MAX_PAGES)
    if max_pages < 0:
        raise ConfigError("expected 0 or more", path=cfg_path, address="build.max_pages")
    build = BuildConfig(
        content_dir=(project / b.get("content_dir", "content")).resolve(),
        output_dir=(project / b.get("output_dir", "site")).resolve(),
        theme=theme,
        theme_dirs=theme_dirs(project, theme),
        exclude=tuple(exclude),
        max_pages=max_pages,
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
        read=read,
    )


def project_config(start: Path) -> Config:
    """The config of the project holding ``start``: the nearest folder at or above it with a
    ``tracesite.toml``; without one, the defaults (built-in theme) for ``start`` itself."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / CONFIG_NAME).is_file():
            return load_config(folder)
    return load_config(start)
