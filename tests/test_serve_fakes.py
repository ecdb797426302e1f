"""A fake build and helpers for the dev-server tests (no tests here).

The fake build turns ``content/*.txt`` into ``pages/<name>/index.html`` plus an index, writing
atomically as the real writer does. A file whose text starts with ``BROKEN`` fails the build with
an addressed error quoting the rest of the line, so the overlay can be tested with hostile text.
"""

from __future__ import annotations

import html
import http.client
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tracesite.build.pipeline import BuildOptions, BuildResult
from tracesite.build.writer import atomic_write
from tracesite.core.config import load_config
from tracesite.core.errors import TraceReadError
from tracesite.serve.server import DevServer


class FakeBuild:
    """Callable like ``build_project``; counts calls and can be made to block (``gate``)."""

    def __init__(self) -> None:
        self.calls = 0
        self.options: list[BuildOptions] = []
        self.gate: threading.Event | None = None
        self.started = threading.Event()

    def __call__(self, project: Path, options: BuildOptions) -> BuildResult:
        self.calls += 1
        self.options.append(options)
        self.started.set()
        out = options.output
        assert out is not None
        config = load_config(project)
        content = config.build.content_dir
        result = BuildResult(output=out)
        pages = []
        for f in sorted(content.glob("*.txt")):
            text = f.read_text(encoding="utf-8")
            if text.startswith("BROKEN"):
                result.errors.append(
                    TraceReadError(
                        text.splitlines()[0][len("BROKEN") :].strip() or "broken",
                        path=str(f),
                        address="$.tokens[3].logprob",
                    )
                )
                continue
            body = f"<h1>{html.escape(f.stem)}</h1><p class=text>{html.escape(text)}</p>"
            _write(out, f"pages/{f.stem}/index.html", _page(f.stem, body))
            pages.append(f.stem)
        cache = project / ".tracesite-cache"  # as the real build does: must not cause a rebuild
        cache.mkdir(exist_ok=True)
        atomic_write(cache / f"build-{self.calls}", b"cached")
        if self.gate is not None:
            self.gate.wait(30)  # a slow build: lets a test look at the server mid-build
        items = "".join(f'<li><a href="pages/{p}/">{html.escape(p)}</a></li>' for p in pages)
        _write(out, "index.html", _page("Index", f"<ul id=pages>{items}</ul>"))
        _write(out, "404.html", _page("Not found", "<h1>Lost</h1>"))
        _write(out, "assets/style.css", b"body { color: #222 }\n")
        _write(out, "assets/app.js", b"window.appLoaded = true;\n")
        _write(out, "assets/data.json", b"{}\n")
        _write(out, "assets/logo.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>\n")
        _write(out, ".nojekyll", b"")
        result.n_pages = len(pages) + 1
        return result


def _page(title: str, body: str) -> bytes:
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f'<link rel="stylesheet" href="/assets/style.css"></head><body>{body}</body></html>'
    ).encode()


def _write(out: Path, rel: str, data: bytes | str) -> None:
    target = out / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(target, data.encode() if isinstance(data, str) else data)


def make_fake_project(root: Path, pages: dict[str, str] | None = None, toml: str = "") -> Path:
    (root / "content").mkdir(parents=True, exist_ok=True)
    for name, text in (pages or {"hello": "Hello world"}).items():
        (root / "content" / f"{name}.txt").write_text(text, encoding="utf-8")
    if toml:
        (root / "tracesite.toml").write_text(toml, encoding="utf-8")
    return root


@contextmanager
def running(
    project: Path, build: FakeBuild | None = None, log: list[str] | None = None, **kw: object
) -> Iterator[DevServer]:
    """A started DevServer on a free port with its first build done; stopped afterwards."""
    lines = log if log is not None else []
    server = DevServer(project, port=0, build=build or FakeBuild(), log=lines.append, **kw)  # type: ignore[arg-type]
    server.start()
    try:
        server.wait_for_build(1, timeout=30)
        yield server
    finally:
        server.stop()


def get(
    server: DevServer, path: str, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One raw request (the path is sent exactly as given, unnormalised)."""
    assert server.httpd is not None
    host, port = server.httpd.server_address[:2]
    conn = http.client.HTTPConnection(str(host), port, timeout=10)
    try:
        conn.putrequest(method, path, skip_host=False, skip_accept_encoding=True)
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()
