"""The rebuild loop of ``tracesite serve``: debounce changes, build into a new epoch, publish.

One thread owns every build, so builds never overlap. A change starts a countdown that restarts
with each further change; the build runs after ``quiet`` seconds without one (a burst of saves
gives one build), or after ``max_wait`` seconds of non-stop changes so a file written constantly
cannot starve rebuilds. Changes during a build cause one more build after it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from tracesite.build.cache import CACHE_DIR
from tracesite.build.pipeline import BuildOptions, BuildResult
from tracesite.core.config import CONFIG_NAME, Config
from tracesite.core.errors import ErrorCollection, TracesiteError
from tracesite.serve.epochs import EpochStore
from tracesite.serve.livereload import ErrorInfo, LiveReloadHub
from tracesite.serve.watch import WatchPlan

BuildFn = Callable[[Path, BuildOptions], BuildResult]
ConfigFn = Callable[[Path], Config]


def _errors_of(exc: TracesiteError) -> list[TracesiteError]:
    return list(exc.errors) if isinstance(exc, ErrorCollection) else [exc]


class Rebuilder:
    """Builds the project on start and after changes; publishes good builds to the store and hub."""

    def __init__(
        self,
        project: Path,
        *,
        store: EpochStore,
        hub: LiveReloadHub,
        build: BuildFn,
        load_config: ConfigFn,
        on_plan: Callable[[WatchPlan], None],
        log: Callable[[str], None],
        quiet: float = 0.1,
        max_wait: float = 2.0,
    ) -> None:
        self.project = project
        self.store = store
        self.hub = hub
        self.build = build
        self.load_config = load_config
        self.on_plan = on_plan
        self.log = log
        self.quiet = quiet
        self.max_wait = max_wait
        self._cond = threading.Condition()
        self._changed: list[Path] = []
        self._first_change = 0.0
        self._last_change = 0.0
        self._stopping = False
        self.builds = 0  # finished builds, good or bad
        self.busy = False  # a build is running
        self._thread = threading.Thread(target=self._run, name="tracesite-rebuild", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def notify(self, path: Path) -> None:
        """A watched file changed (called from the watcher's thread)."""
        now = time.monotonic()
        with self._cond:
            if not self._changed:
                self._first_change = now
            self._changed.append(path)
            self._last_change = now
            self._cond.notify_all()

    def stop(self, timeout: float | None = None) -> None:
        """Stop after the build in progress, if any (a build is not interrupted half-way)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def wait_builds(self, n: int, timeout: float) -> int:
        """Block until ``n`` builds have finished; raise TimeoutError otherwise."""
        with self._cond:
            if not self._cond.wait_for(lambda: self.builds >= n, timeout):
                raise TimeoutError(f"{self.builds} build(s) finished, waited for {n}")
            return self.builds

    def _run(self) -> None:
        self._build_once([])
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._stopping or bool(self._changed))
                while not self._stopping:
                    now = time.monotonic()
                    left = min(
                        self._last_change + self.quiet - now,
                        self._first_change + self.max_wait - now,
                    )
                    if left <= 0:
                        break
                    self._cond.wait(left)
                if self._stopping:
                    return
                changed, self._changed = self._changed, []
            self._build_once(changed)

    def _plan(self, config: Config | None) -> WatchPlan:
        project = self.project
        excluded = [project / CACHE_DIR, self.store.tmp]
        if config is None:
            roots = [project / "content", project / "themes"]
            excluded.append(project / "site")
        else:
            roots = [config.build.content_dir, *(d.resolve() for d in config.build.theme_dirs)]
            excluded.append(config.build.output_dir)
        return WatchPlan(
            roots=tuple(roots), files=(project / CONFIG_NAME,), excluded=tuple(excluded)
        )

    def _build_once(self, changed: list[Path]) -> None:
        """Load the config, build into a fresh folder, and serve it if the build succeeded."""
        started = time.perf_counter()
        self.busy = True
        self.hub.update(building=True)
        if changed:
            names = sorted({self._show(p) for p in changed})
            more = f" (+{len(names) - 5} more)" if len(names) > 5 else ""
            self.log(f"changed: {', '.join(names[:5])}{more}")
        errors: list[TracesiteError] = []
        config: Config | None = None
        result: BuildResult | None = None
        folder: Path | None = None
        try:
            config = self.load_config(self.project)
            self.on_plan(self._plan(config))
            folder = self.store.prepare()
            # The build answers cache hits itself and starts worker processes only for files
            # it must render, so a note edit is built in this process.
            result = self.build(self.project, BuildOptions(output=folder, quiet=True, dev=True))
            errors = list(result.errors)
        except TracesiteError as exc:
            errors = _errors_of(exc)
        except Exception as exc:  # a bug or a full disk must not take the server down
            errors = [TracesiteError(f"internal error: {type(exc).__name__}: {exc}")]
        if config is None:
            self.on_plan(self._plan(None))  # keep watching the defaults and tracesite.toml
        seconds = time.perf_counter() - started
        infos = [ErrorInfo.from_error(e, self.project) for e in errors]
        base = config.site.base_path if config is not None else None
        if folder is not None and result is not None and not errors:
            epoch = self.store.publish(folder)
            self.hub.update(epoch=epoch, errors=(), base=base, building=False)
            self.log(
                f"built in {seconds:.2f} s (epoch {epoch}): {result.n_traces} traces "
                f"({result.rendered} rendered), {result.n_pages} pages, "
                f"{len(result.changed)} files written, {len(result.warnings)} warnings"
            )
        else:
            if folder is not None:
                self.store.discard(folder)
            self.hub.update(errors=infos, base=base, building=False)
            kept = "; still serving the last good build" if self.store.current else ""
            self.log(f"build failed in {seconds:.2f} s with {len(infos)} error(s){kept}:")
            for info in infos:
                self.log(f"  {info.where}: {info.message}" if info.where else f"  {info.message}")
        self.store.prepare_ahead()  # the next build's folder, seeded while nothing happens
        with self._cond:
            self.builds += 1
            self.busy = False
            self._cond.notify_all()

    def _show(self, path: Path) -> str:
        return (
            path.relative_to(self.project).as_posix()
            if path.is_relative_to(self.project)
            else str(path)
        )
