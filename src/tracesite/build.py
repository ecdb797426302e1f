"""The build orchestrator: discover -> read -> render -> write. (Being written; API fixed below.)"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tracesite.errors import TracesiteError


@dataclass(frozen=True)
class BuildOptions:
    output: Path | None = None  # default: config build.output_dir under the project
    base_url: str | None = None  # overrides [site] base_url
    jobs: int | None = None  # worker processes; default: the cores
    strict: bool = False  # warnings fail the build
    clean: bool = False  # empty the output folder first (only one tracesite wrote)
    quiet: bool = False  # no progress output
    dev: bool = False  # dev server build: live-reload hooks, drafts shown


@dataclass
class BuildResult:
    output: Path
    n_traces: int = 0
    n_pages: int = 0
    errors: list[TracesiteError] = field(default_factory=list)
    warnings: list[TracesiteError] = field(default_factory=list)
    seconds: float = 0.0
    changed: list[str] = field(default_factory=list)  # site-relative paths written this build

    @property
    def ok(self) -> bool:
        return not self.errors


def build_project(project: Path, options: BuildOptions | None = None) -> BuildResult:
    raise NotImplementedError("build is being written")
