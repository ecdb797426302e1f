"""Live reload for ``tracesite serve``: the shared state, the server-sent-event stream, the script.

The server keeps one :class:`ReloadState` (which build epoch is served, the errors of the last
build) and streams it to pages as server-sent events. Every page carries the epoch it was served
from (injected at response time, never written into the built files), so a page that missed an
event while it was hidden or disconnected still notices, on reconnect, that it is out of date.

Browsers allow only six HTTP/1.1 connections per host, so one long-lived stream per tab would
starve the seventh tab. The script therefore elects one visible tab per browser profile with the
Web Locks API; that tab alone holds the stream and relays each state to the others over a
BroadcastChannel. Hidden tabs give up the lock, and reconnect and compare epochs when shown again.
That script, and the in-place update of pages with a kept heatmap, is ``livereload.js``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from importlib.resources import files
from pathlib import Path
from typing import Any

from tracesite.core.errors import TracesiteError

EVENTS_PATH = "/__tracesite/events"
STATE_PATH = "/__tracesite/state"
RETRY_MS = 500  # EventSource reconnect delay after the server ends a stream


@dataclass(frozen=True)
class ErrorInfo:
    """One build error as the overlay shows it: where (file and address) and what."""

    path: str
    address: str
    message: str

    @property
    def where(self) -> str:
        """``file:4`` for a line, ``file: $.x`` for a JSON path, as the CLI prints them."""
        if self.path and self.address.isdigit():
            return f"{self.path}:{self.address}"
        return ": ".join(p for p in (self.path, self.address) if p)

    @classmethod
    def from_error(cls, err: TracesiteError, project: Path | None = None) -> ErrorInfo:
        """Describe ``err``, with its path shown relative to ``project`` when it lies inside."""
        path = err.path
        if project is not None and path:
            p = Path(path)
            if p.is_absolute() and p.is_relative_to(project):
                path = p.relative_to(project).as_posix()
        return cls(path=path, address=err.address, message=err.message)


@dataclass(frozen=True)
class ReloadState:
    """What every open page should show: the served epoch (0 = none yet) and the last errors."""

    run: str  # random per server process, so a page from a previous run always reloads
    seq: int = 0  # bumped on every change, to order states of one run
    epoch: int = 0
    base: str = "/"
    errors: tuple[ErrorInfo, ...] = ()
    building: bool = False

    def to_json(self) -> str:
        data: dict[str, Any] = {
            "run": self.run,
            "seq": self.seq,
            "epoch": self.epoch,
            "base": self.base,
            "building": self.building,
            "errors": [
                {"where": e.where, "path": e.path, "address": e.address, "message": e.message}
                for e in self.errors
            ],
        }
        return json.dumps(data, ensure_ascii=True, separators=(",", ":"))


@dataclass
class _Streams:
    active: int = 0


class LiveReloadHub:
    """Holds the current :class:`ReloadState` and feeds it to a bounded number of event streams.

    Streams end by themselves after ``lifetime`` seconds (the browser reconnects and gets the
    state again), when the server stops, or when the client goes away (found out by a heartbeat).
    """

    def __init__(
        self,
        *,
        max_streams: int = 64,
        lifetime: float = 300.0,
        heartbeat: float = 15.0,
        check: float = 0.5,
        base: str = "/",
    ) -> None:
        self.max_streams = max_streams
        self.lifetime = lifetime
        self.heartbeat = heartbeat
        self.check = check
        self._cond = threading.Condition()
        self._state = ReloadState(run=secrets.token_hex(8), base=base)
        self._streams = _Streams()
        self._stopping = False

    @property
    def state(self) -> ReloadState:
        with self._cond:
            return self._state

    @property
    def active_streams(self) -> int:
        with self._cond:
            return self._streams.active

    def update(
        self,
        *,
        epoch: int | None = None,
        errors: Sequence[ErrorInfo] | None = None,
        base: str | None = None,
        building: bool | None = None,
    ) -> ReloadState:
        """Change the state (only the given fields) and wake every stream and waiter."""
        with self._cond:
            s = self._state
            self._state = replace(
                s,
                seq=s.seq + 1,
                epoch=s.epoch if epoch is None else epoch,
                errors=s.errors if errors is None else tuple(errors),
                base=s.base if base is None else base,
                building=s.building if building is None else building,
            )
            self._cond.notify_all()
            return self._state

    def wait_for(self, predicate: Callable[[ReloadState], bool], timeout: float) -> ReloadState:
        """Block until ``predicate(state)`` holds; raise TimeoutError after ``timeout`` seconds."""
        with self._cond:
            if not self._cond.wait_for(lambda: predicate(self._state), timeout):
                raise TimeoutError(f"live-reload state still {self._state} after {timeout} s")
            return self._state

    def stop(self) -> None:
        """End every stream now; later streams end at once."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    def wait_streams(self, n: int, timeout: float) -> bool:
        """Wait until exactly ``n`` streams are open (0 at shutdown; tests)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._streams.active == n, timeout)

    def open_stream(self) -> bool:
        """Reserve a stream slot; False when the server is stopping or the limit is reached."""
        with self._cond:
            if self._stopping or self._streams.active >= self.max_streams:
                return False
            self._streams.active += 1
            self._cond.notify_all()
            return True

    def close_stream(self) -> None:
        with self._cond:
            self._streams.active -= 1
            self._cond.notify_all()

    def stream(
        self,
        send: Callable[[bytes], None],
        alive: Callable[[], bool] = lambda: True,
        lifetime: float | None = None,
    ) -> None:
        """Send the state now and after every change, as server-sent events, until the end.

        ``send`` raises OSError when the client has gone. ``alive()`` is asked every ``check``
        seconds too, so a tab that closed its stream frees the slot at once, not at the next
        heartbeat (a reloading tab closes one stream and opens another).
        """
        now = time.monotonic()
        deadline = now + (self.lifetime if lifetime is None else lifetime)
        next_ping = now + self.heartbeat
        send(f"retry: {RETRY_MS}\n\n".encode())
        seen = -1
        while True:
            with self._cond:
                if self._state.seq == seen and not self._stopping:
                    now = time.monotonic()
                    self._cond.wait(max(0.0, min(deadline, next_ping, now + self.check) - now))
                stopping, state = self._stopping, self._state
            now = time.monotonic()
            if stopping or now >= deadline or not alive():
                return
            if state.seq != seen:
                seen = state.seq
                send(b"data: " + state.to_json().encode("ascii") + b"\n\n")
            elif now >= next_ping:
                send(b": ping\n\n")
            else:
                continue
            next_ping = now + self.heartbeat


_VARIABLE = re.compile(rb"<title>.*?</title>|<meta name=\"description\"[^>]*>", re.S | re.I)


def shell_digest(html: bytes) -> str:
    """A digest of a page without its ``<main>``, title and description: equal digests mean
    an in-place update (which swaps ``<main>`` and sets the title) gives the new page exactly.
    Taken from the served bytes, since scripts (BokehJS) add their own elements to the live
    page anywhere in the body. Empty when the page has no ``<main>``."""
    start, end = html.find(b"<main"), html.rfind(b"</main>")
    if start < 0 or end < start:
        return ""
    outside = _VARIABLE.sub(b"", html[:start] + html[end:])
    return hashlib.sha1(outside, usedforsecurity=False).hexdigest()[:20]


def script_tag(state: ReloadState, epoch: int, shell: str = "") -> bytes:
    """The ``<script>`` injected before ``</body>``: the client below, told which epoch it shows
    and the :func:`shell_digest` of the page it is in."""
    cfg = {
        "run": state.run,
        "epoch": epoch,
        "base": state.base,
        "events": EVENTS_PATH,
        "shell": shell,
    }
    # JSON inside a <script>: escape what could end the element or start a comment
    js_cfg = (
        json.dumps(cfg, ensure_ascii=True)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
    )
    return (
        "<script data-tracesite-livereload>"
        + client_js().replace("__CONFIG__", js_cfg)
        + "</script>"
    ).encode("utf-8")


def inject(html: bytes, tag: bytes) -> bytes:
    """Insert ``tag`` before the last ``</body>`` (case-insensitive), else at the end."""
    at = html.lower().rfind(b"</body")
    if at < 0:
        return html + tag
    return html[:at] + tag + html[at:]


@functools.cache
def client_js() -> str:
    """The browser side (``livereload.js`` beside this module, shipped in the wheel)."""
    return (files("tracesite.serve") / "livereload.js").read_text(encoding="utf-8")
