"""The HTTP side of ``tracesite serve``: files of the served epoch, under the site's base path.

Only files inside the served epoch folder are ever sent: request paths are decoded once, any
``.``/``..``/hidden segment or backslash is refused, and the resolved real path (symlinks followed)
must lie inside the epoch folder. HTML gets the live-reload script injected before ``</body>`` at
response time, so the built files stay exactly what ``tracesite build`` writes.
"""

from __future__ import annotations

import html
import ipaddress
import mimetypes
import os
import re
import select
import socket
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, BinaryIO
from urllib.parse import quote, unquote, urlsplit

from tracesite.serve.epochs import Epoch, EpochStore
from tracesite.serve.livereload import (
    EVENTS_PATH,
    STATE_PATH,
    LiveReloadHub,
    inject,
    script_tag,
    shell_digest,
)

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".svg": "image/svg+xml",
    ".xml": "application/xml",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".wasm": "application/wasm",
    ".ico": "image/x-icon",
    ".webp": "image/webp",
    ".avif": "image/avif",
}


def content_type(name: str) -> str:
    """The Content-Type for a file name; stable across machines (not only ``mimetypes``)."""
    ext = os.path.splitext(name)[1].lower()
    if ext in _TYPES:
        return _TYPES[ext]
    guessed, _ = mimetypes.guess_type(name, strict=False)
    return guessed or "application/octet-stream"


def site_segments(path: str, base: str) -> list[str] | None:
    """The path segments under ``base`` of a decoded request path; None if it may not be served.

    Refused: paths outside ``base``, NUL and backslashes (Windows separators), ``.``/``..``
    segments (a raw client can send them; browsers normalise them away) and hidden files.
    """
    if not path.startswith(base) or "\x00" in path or "\\" in path:
        return None
    segs = [s for s in path[len(base) :].split("/") if s]
    if any(s.startswith(".") for s in segs):
        return None
    return segs


def host_allowed(header: str | None, bound: str) -> bool:
    """Whether a request's ``Host`` may be answered (DNS-rebinding protection, as Vite does).

    A page on ``http://evil.example`` whose name an attacker re-points at 127.0.0.1 reaches the
    dev server with ``Host: evil.example``; the browser then lets that page read the answers.
    Allowed: IP addresses, ``localhost`` and ``*.localhost``, and the name given to ``--host``.
    No ``Host`` (HTTP/1.0 clients) is allowed: browsers always send one.
    """
    if header is None:
        return True
    name = header.strip().lower()
    if name.startswith("["):  # [v6]:port
        name = name[1 : name.find("]")] if "]" in name else name
    elif name.count(":") == 1:
        name = name.rsplit(":", 1)[0]
    name = name.rstrip(".")
    if name in ("localhost", bound.lower().strip("[]")) or name.endswith(".localhost"):
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def inside(real: str, root: str) -> bool:
    return real == root or real.startswith(root + os.sep)


class DevHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server over an :class:`EpochStore` and a :class:`LiveReloadHub`."""

    daemon_threads = True
    request_queue_size = 256  # a burst of connections (many tabs, tests) must not hit SYN retries

    def __init__(self, address: tuple[str, int], store: EpochStore, hub: LiveReloadHub) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.store = store
        self.hub = hub
        self.bound_host = address[0]  # the --host given: that name is always allowed
        super().__init__(address, DevRequestHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up are normal; anything else is reported in one line, no traceback."""
        import sys

        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            return
        print(f"tracesite serve: error answering {client_address}: {exc!r}", file=sys.stderr)


class DevRequestHandler(BaseHTTPRequestHandler):
    server: DevHTTPServer
    server_version = "tracesite-serve"
    protocol_version = "HTTP/1.0"
    timeout = 30  # a client that sends nothing frees its thread

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the dev server prints builds, not requests."""

    def do_GET(self) -> None:
        self._answer(head=False)

    def do_HEAD(self) -> None:
        self._answer(head=True)

    # -- dispatch -------------------------------------------------------------------------------

    def _answer(self, *, head: bool) -> None:
        if not host_allowed(self.headers.get("Host"), self.server.bound_host):
            self._plain(
                HTTPStatus.FORBIDDEN,
                "forbidden: this host name is not allowed (open the site by localhost or by IP "
                "address, or start the server with --host NAME)",
                head,
            )
            return
        target = self.path
        if re.match(r"^[a-z][a-z0-9+.-]*://", target, re.I):  # absolute-form request target
            target = urlsplit(target).path or "/"
        if not target.startswith("/"):
            self._plain(HTTPStatus.BAD_REQUEST, "bad request target", head)
            return
        raw, _, query = target.partition("#")[0].partition("?")
        if raw == EVENTS_PATH:
            self._events(head)
            return
        if raw == STATE_PATH:
            self._send(
                HTTPStatus.OK, "application/json", self.server.hub.state.to_json().encode(), head
            )
            return
        try:
            path = unquote(raw, errors="strict")
        except UnicodeDecodeError:
            self._plain(HTTPStatus.NOT_FOUND, "not found", head)
            return
        base = self.server.hub.state.base
        if path in ("", "/", base.rstrip("/")) and path != base:
            self._redirect(base + (f"?{query}" if query else ""), head)
            return
        segs = site_segments(path, base)
        if segs is None:
            self._plain(HTTPStatus.NOT_FOUND, f"not found: the site is served under {base}", head)
            return
        with self.server.store.acquire() as epoch:
            if epoch is None:
                self._placeholder(head)
            else:
                self._file(epoch, segs, base, raw, query, head)

    def _file(
        self, epoch: Epoch, segs: list[str], base_path: str, raw: str, query: str, head: bool
    ) -> None:
        root = str(epoch.root)
        real = os.path.realpath(os.path.join(root, *segs))
        if not inside(real, root):
            self._plain(HTTPStatus.FORBIDDEN, "forbidden: outside the site", head)
            return
        if os.path.isdir(real):
            if not raw.endswith("/"):
                # rebuilt from the checked segments: never echo a raw "//host" back as a Location
                where = base_path + "".join(quote(s) + "/" for s in segs)
                self._redirect(where + (f"?{query}" if query else ""), head)
                return
            real = os.path.realpath(os.path.join(real, "index.html"))
            if not inside(real, root):
                self._plain(HTTPStatus.FORBIDDEN, "forbidden: outside the site", head)
                return
        if not os.path.isfile(real):
            self._not_found(epoch, head)
            return
        self._send_file(real, HTTPStatus.OK, epoch.number, head)

    def _not_found(self, epoch: Epoch, head: bool) -> None:
        """The site's own 404.html when it has one (as GitHub Pages does), else a plain page."""
        root = str(epoch.root)
        page = os.path.realpath(os.path.join(root, "404.html"))
        if inside(page, root) and os.path.isfile(page):
            self._send_file(page, HTTPStatus.NOT_FOUND, epoch.number, head)
        else:
            body = b"<!doctype html><title>Not found</title><h1>404: not found</h1>"
            self._send_html(HTTPStatus.NOT_FOUND, body, epoch.number, head)

    def _send_file(self, real: str, status: HTTPStatus, epoch: int, head: bool) -> None:
        ctype = content_type(real)
        try:
            fh: BinaryIO = open(real, "rb")  # noqa: SIM115 - closed below, streamed in chunks
        except OSError:
            self._plain(HTTPStatus.NOT_FOUND, "not found", head)
            return
        with fh:
            st = os.fstat(fh.fileno())
            if ctype.startswith("text/html"):
                self._send_html(status, fh.read(), epoch, head)
                return
            # unchanged files keep their inode across epochs (hard links), so this tag is stable
            etag = f'"{st.st_ino:x}-{st.st_mtime_ns:x}-{st.st_size:x}"'
            if status == HTTPStatus.OK and etag in self.headers.get("If-None-Match", ""):
                self.send_response(HTTPStatus.NOT_MODIFIED)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(st.st_size))
            self.send_header("Cache-Control", "no-cache")
            self.send_header("ETag", etag)
            self.send_header("X-Content-Type-Options", "nosniff")
            self.end_headers()
            if not head:
                while chunk := fh.read(256 * 1024):
                    self.wfile.write(chunk)

    def _send_html(self, status: HTTPStatus, body: bytes, epoch: int, head: bool) -> None:
        state = self.server.hub.state
        shell = shell_digest(body)
        body = inject(body, script_tag(state, epoch, shell))
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("X-Tracesite-Epoch", str(epoch))  # for the in-place update
        self.send_header("X-Tracesite-Run", state.run)
        self.send_header("X-Tracesite-Shell", shell)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")  # it names the epoch it was served from
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _placeholder(self, head: bool) -> None:
        """Before the first good build: a page saying so (with the errors) that reloads itself."""
        state = self.server.hub.state
        if state.errors:
            items = "".join(
                f"<li><code>{html.escape(e.where)}</code><br>{html.escape(e.message)}</li>"
                for e in state.errors
            )
            title, body = "Build failed", f"<h1>Build failed</h1><ol>{items}</ol>"
            status = HTTPStatus.INTERNAL_SERVER_ERROR
        else:
            title, body = "Building…", "<h1>Building…</h1><p>This page reloads when it is done.</p>"
            status = HTTPStatus.SERVICE_UNAVAILABLE
        page = (
            f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f"<title>{title} · tracesite serve</title></head>"
            f'<body style="font:16px/1.5 system-ui,sans-serif;margin:2em">{body}</body></html>'
        )
        self._send_html(status, page.encode("utf-8"), 0, head)

    def _events(self, head: bool) -> None:
        hub = self.server.hub
        self.close_connection = True
        if not hub.open_stream():
            self.send_response(HTTPStatus.SERVICE_UNAVAILABLE)
            self.send_header("Retry-After", "2")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        try:
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "text/event-stream; charset=utf-8")
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Accel-Buffering", "no")
            self.end_headers()
            if not head:
                hub.stream(self._send_event, self._client_alive)
        except OSError:
            pass  # the tab went away
        finally:
            hub.close_stream()

    def _client_alive(self) -> bool:
        """False once the client closed the connection (its socket reads as end-of-file)."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return not readable or self.connection.recv(1, socket.MSG_PEEK) != b""
        except OSError:
            return False

    def _send_event(self, data: bytes) -> None:
        self.wfile.write(data)
        self.wfile.flush()

    # -- small answers ----------------------------------------------------------------------------

    def _send(self, status: HTTPStatus, ctype: str, body: bytes, head: bool) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _plain(self, status: HTTPStatus, message: str, head: bool) -> None:
        self._send(status, "text/plain; charset=utf-8", (message + "\n").encode("utf-8"), head)

    def _redirect(self, location: str, head: bool) -> None:
        self.send_response(HTTPStatus.FOUND)  # not 301: browsers would cache it past this session
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
