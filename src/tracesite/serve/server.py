"""``tracesite serve``: build into a temporary folder, serve it, watch, rebuild, live-reload.

The pieces, each in its own module: :mod:`serve_epochs` (one folder per build, switched only
when complete), :mod:`serve_build` (debounced rebuild loop), :mod:`serve_watch` (watchdog),
:mod:`serve_http` (the file server with its path checks) and :mod:`livereload` (the state pages
follow and the script that follows it). :class:`DevServer` wires them together; the build
function is injectable so the server can be tested without the real build.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
import webbrowser
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType

from tracesite.build.memo import BuildMemo
from tracesite.build.pipeline import BuildOptions, BuildResult, build_project
from tracesite.core.config import load_config
from tracesite.core.errors import TracesiteError
from tracesite.serve.epochs import EpochStore
from tracesite.serve.http import DevHTTPServer
from tracesite.serve.livereload import LiveReloadHub
from tracesite.serve.rebuild import BuildFn, ConfigFn, Rebuilder
from tracesite.serve.watch import SourceWatcher


def _stderr(line: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {line}", file=sys.stderr, flush=True)


class DevServer:
    """The dev server of one project: ``start()``, then ``url``; ``stop()`` leaves nothing behind.

    ``build`` and ``load_config`` default to the real ones; tests pass fakes. ``tmp_parent`` is
    where the temporary build folder goes (default: the system's temporary folder).
    """

    def __init__(
        self,
        project: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 8000,
        poll: bool = False,
        build: BuildFn | None = None,
        load_config: ConfigFn = load_config,
        log: Callable[[str], None] = _stderr,
        quiet: float = 0.1,
        max_wait: float = 2.0,
        tmp_parent: Path | None = None,
        hub: LiveReloadHub | None = None,
    ) -> None:
        self.project = project.resolve()
        if not self.project.is_dir():
            raise TracesiteError("no such folder", path=str(project))
        self.host = host
        self.port = port
        self.log = log
        self.hub = hub or LiveReloadHub()
        self._load_config = load_config
        self._tmp_parent = tmp_parent
        if build is None:
            memo = BuildMemo()  # parsed notes carried from one rebuild to the next

            def build(project: Path, options: BuildOptions) -> BuildResult:
                return build_project(project, options, memo)

        self._build = build
        self._quiet = quiet
        self._max_wait = max_wait
        self._poll = poll
        self.store: EpochStore | None = None
        self.httpd: DevHTTPServer | None = None
        self.watcher: SourceWatcher | None = None
        self.rebuilder: Rebuilder | None = None
        self._http_thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The address of the site, with the real port (``--port 0`` picks a free one)."""
        if self.httpd is None:
            raise RuntimeError("server not started")
        host, port = self.httpd.server_address[:2]
        name = host.decode() if isinstance(host, bytes) else str(host)
        shown = f"[{name}]" if ":" in name else name
        return f"http://{shown}:{port}{self.hub.state.base}"

    def start(self) -> None:
        """Bind, then build and watch in the background; pages say "Building…" until done."""
        try:
            base = self._load_config(self.project).site.base_path
        except TracesiteError:
            base = "/"  # the first build reports the config error in the browser
        self.hub.update(base=base, building=True)
        self.store = EpochStore(self._tmp_parent)
        try:
            self.httpd = DevHTTPServer((self.host, self.port), self.store, self.hub)
        except OSError as exc:
            self.store.close()
            raise TracesiteError(
                f"cannot listen there: {exc.strerror or exc}"
                + (" (another server? try --port 0 for a free port)" if exc.errno == 98 else ""),
                address=f"{self.host}:{self.port}",
            ) from None
        self.watcher = SourceWatcher(self._changed, poll=self._poll)
        self.rebuilder = Rebuilder(
            self.project,
            store=self.store,
            hub=self.hub,
            build=self._build,
            load_config=self._load_config,
            on_plan=self.watcher.update,
            log=self.log,
            quiet=self._quiet,
            max_wait=self._max_wait,
        )
        self.watcher.start()
        self.rebuilder.start()
        self._http_thread = threading.Thread(
            target=self.httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="tracesite-http",
            daemon=True,
        )
        self._http_thread.start()

    def _changed(self, path: Path) -> None:
        if self.rebuilder is not None:
            self.rebuilder.notify(path)

    def wait_for_build(self, n: int = 1, timeout: float = 60.0) -> None:
        """Block until ``n`` builds (good or bad) have finished (for tests and benchmarks)."""
        if self.rebuilder is None:
            raise RuntimeError("server not started")
        self.rebuilder.wait_builds(n, timeout)

    @property
    def builds(self) -> int:
        return self.rebuilder.builds if self.rebuilder else 0

    def stop(self) -> None:
        """Stop watching, finish the build in progress, end every stream, delete the temp folder."""
        if self.watcher is not None:
            self.watcher.stop()
        if self.rebuilder is not None:
            self.rebuilder.stop()
        self.hub.stop()
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.hub.wait_streams(0, timeout=5)
        if self._http_thread is not None:
            self._http_thread.join(timeout=5)
        if self.store is not None:
            self.store.close()

    def abort(self) -> None:
        """Quit without waiting for the build in progress: stop serving, delete the temp folder."""
        self.hub.stop()
        if self.httpd is not None:
            self.httpd.server_close()
        if self.store is not None:
            self.store.close()

    def __enter__(self) -> DevServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT (Ctrl-C) and SIGTERM set ``stop`` instead of raising into whatever is running."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():  # asked twice: stop waiting for the build in progress
            raise KeyboardInterrupt
        stop.set()

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def serve_project(
    project: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    open_browser: bool = False,
    poll: bool = False,
    stop: threading.Event | None = None,
) -> None:
    """Run the dev server until Ctrl-C or SIGTERM (the ``tracesite serve`` command).

    ``stop`` lets a caller other than the signal handlers end it (tests, embedding).
    """
    stop = stop or threading.Event()
    with _stop_on_signals(stop):
        server = DevServer(project, host=host, port=port, poll=poll)
        server.start()
        try:
            print(f"serving {server.project} at {server.url} (Ctrl-C to stop)", flush=True)
            if open_browser:
                threading.Thread(target=webbrowser.open, args=(server.url,), daemon=True).start()
            while not stop.wait(1.0):
                pass
        finally:
            if server.rebuilder is not None and server.rebuilder.busy:
                _stderr("stopping after the build in progress (Ctrl-C again to quit at once)")
            try:
                server.stop()
            except KeyboardInterrupt:
                server.abort()
                raise
        _stderr("stopped")
