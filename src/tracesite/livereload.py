"""Live reload for ``tracesite serve``: the shared state, the server-sent-event stream, the script.

The server keeps one :class:`ReloadState` (which build epoch is served, the errors of the last
build) and streams it to pages as server-sent events. Every page carries the epoch it was served
from (injected at response time, never written into the built files), so a page that missed an
event while it was hidden or disconnected still notices, on reconnect, that it is out of date.

Browsers allow only six HTTP/1.1 connections per host, so one long-lived stream per tab would
starve the seventh tab. The script therefore elects one visible tab per browser profile with the
Web Locks API; that tab alone holds the stream and relays each state to the others over a
BroadcastChannel. Hidden tabs give up the lock, and reconnect and compare epochs when shown again.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from tracesite.errors import TracesiteError

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
    opened: int = 0


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
            self._streams.opened += 1
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
        + _CLIENT_JS.replace("__CONFIG__", js_cfg)
        + "</script>"
    ).encode("utf-8")


def inject(html: bytes, tag: bytes) -> bytes:
    """Insert ``tag`` before the last ``</body>`` (case-insensitive), else at the end."""
    at = html.lower().rfind(b"</body")
    if at < 0:
        return html + tag
    return html[:at] + tag + html[at:]


# The browser side. States come from the one tab holding the Web Lock (or from this tab's own
# stream where Web Locks are missing, e.g. a non-secure LAN address). The overlay is built with
# textContent only: error messages quote untrusted file content.
_CLIENT_JS = r"""
(function () {
  "use strict";
  var cfg = __CONFIG__;
  if (window.__tracesiteLiveReload) return;
  window.__tracesiteLiveReload = cfg;
  var NAME = "tracesite-livereload";
  var chan = typeof BroadcastChannel === "function" ? new BroadcastChannel(NAME) : null;
  var shared = !!(chan && navigator.locks && typeof navigator.locks.request === "function");
  var latest = null, source = null, release = null, pending = null, retry = null;
  var leaving = false, updating = false, shownKey = "", dismissedKey = "";

  function hidden() { return document.visibilityState === "hidden"; }

  function apply(s) {
    if (!s || leaving) return;
    if (!latest || s.run !== latest.run || s.seq >= latest.seq) latest = s;
    s = latest;
    if (hidden()) return;  // acted on when the tab is shown again
    if (s.epoch > 0 && (s.run !== cfg.run || s.epoch !== cfg.epoch)) {
      if (updating) return;  // looked at again when the update in flight is done
      if (location.pathname.indexOf(s.base) === 0 && document.querySelector("[data-live-keep]")) {
        update();
        return;
      }
      reload(location.pathname.indexOf(s.base) === 0 ? null : s.base);
      return;
    }
    showErrors(s.errors, s.epoch);
  }

  function reload(where) {
    leaving = true;
    resign();
    if (where) location.assign(where); else location.reload();
  }

  // In-place update. A page with parts marked data-live-keep (the heatmap: BokehJS and its
  // drawing, the slowest thing to redo) fetches its new version and swaps in the rest of its
  // <main> when the page around <main> (head, scripts, styles, header, footer: the server's
  // digest of it) and the kept parts (named by a digest of their HTML) are the same; otherwise,
  // or on any failure, it reloads as usual. The scroll position stays.
  function keeps(main) {
    var names = [];
    main.querySelectorAll("[data-live-keep]").forEach(function (e) {
      names.push(e.getAttribute("data-live-keep"));
    });
    return names.join(" ");
  }

  function patch(live, next) {  // same tag; next is already imported into this document
    if (live.hasAttribute("data-live-keep")) return true;
    if (!next.querySelector("[data-live-keep]")) {
      live.replaceWith(next);
      return true;
    }
    var a = live.children, b = next.children;
    if (a.length !== b.length) return false;
    for (var i = 0; i < a.length; i++) {
      if (a[i].tagName !== b[i].tagName) return false;
      var hasKeep = a[i].hasAttribute("data-live-keep") || a[i].querySelector("[data-live-keep]");
      var willKeep = b[i].hasAttribute("data-live-keep") || b[i].querySelector("[data-live-keep]");
      if (!!hasKeep !== !!willKeep) return false;
    }
    Array.prototype.slice.call(live.attributes).forEach(function (at) {
      if (!next.hasAttribute(at.name)) live.removeAttribute(at.name);
    });
    Array.prototype.forEach.call(next.attributes, function (at) {
      if (live.getAttribute(at.name) !== at.value) live.setAttribute(at.name, at.value);
    });
    var pairs = [];
    for (var j = 0; j < a.length; j++) pairs.push([a[j], b[j]]);
    return pairs.every(function (p) { return patch(p[0], p[1]); });
  }

  // Swaps the new <main> in; returns why it could not ("" when it did). ``shell``: the
  // server's digest of the new page without its <main>, title and description.
  function swap(doc, shell) {
    var live = document.querySelector("main"), next = doc.querySelector("main");
    if (!live || !next || !doc.body) return "no <main>";
    if (!shell || shell !== cfg.shell) return "the page around <main> changed";
    if (keeps(live) !== keeps(next)) return "the heatmap changed";
    next = document.importNode(next, true);
    var scripts = next.querySelectorAll("script");
    for (var i = 0; i < scripts.length; i++) {
      if (!scripts[i].closest("[data-live-keep]")) return "a script outside the kept parts";
    }
    if (!patch(live, next)) return "the kept parts moved";
    document.title = doc.title;
    var desc = doc.querySelector("meta[name=description]");
    var own = document.querySelector("meta[name=description]");
    if (own && desc) own.setAttribute("content", desc.getAttribute("content") || "");
    return "";
  }

  function update() {
    updating = true;
    var started = performance.now();
    fetch(location.pathname + location.search, { cache: "no-store", credentials: "same-origin" })
      .then(function (r) {
        var epoch = parseInt(r.headers.get("X-Tracesite-Epoch") || "", 10);
        var run = r.headers.get("X-Tracesite-Run") || "";
        if (!r.ok || !(epoch > 0) || !/^text\/html/.test(r.headers.get("Content-Type") || "")) {
          throw new Error("not an update");
        }
        return r.text().then(function (html) {
          var doc = new DOMParser().parseFromString(html, "text/html");
          var shell = r.headers.get("X-Tracesite-Shell") || "";
          var why = swap(doc, shell);
          if (why) throw new Error(why);
          cfg.epoch = epoch;
          cfg.run = run;
          cfg.shell = shell;
          window.__tracesiteLiveReload = cfg;
          updating = false;
          document.dispatchEvent(new CustomEvent("tracesite:updated", {
            detail: { epoch: epoch, ms: performance.now() - started }
          }));
          if (latest) apply(latest);  // a newer build may have landed meanwhile
        });
      })
      .catch(function (err) {
        if (window.console) console.info("tracesite: full reload (" + err.message + ")");
        updating = false;
        reload(null);
      });
  }

  function connect() {
    disconnect();
    source = new EventSource(cfg.events);
    source.onmessage = function (ev) {
      var s;
      try { s = JSON.parse(ev.data); } catch (e) { return; }
      if (shared) chan.postMessage(s);
      apply(s);
    };
    source.onerror = function () {
      // network errors reconnect by themselves; a refused stream (503: too many) is CLOSED
      if (source && source.readyState === 2) {
        disconnect();
        retry = setTimeout(function () {
          retry = null;
          if (!hidden() && !leaving) connect();
        }, 2000);
      }
    };
  }

  function disconnect() {
    if (retry) { clearTimeout(retry); retry = null; }
    if (source) { source.close(); source = null; }
  }

  function lead() {
    if (leaving) return;
    if (!shared) { if (!source) connect(); return; }
    if (release || pending) return;
    var ctl = new AbortController();
    pending = ctl;
    navigator.locks.request(NAME, { signal: ctl.signal }, function () {
      if (pending === ctl) pending = null;
      if (hidden() || leaving) return null;
      connect();
      return new Promise(function (resolve) { release = resolve; });
    }).catch(function () {});
  }

  function resign() {
    if (pending) { pending.abort(); pending = null; }
    disconnect();
    if (release) { var r = release; release = null; r(); }
  }

  function wake() {
    if (latest) apply(latest);
    lead();
    if (chan) chan.postMessage("ask");
  }

  function el(tag, css, text) {
    var e = document.createElement(tag);
    if (css) e.style.cssText = css;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function showErrors(errors, epoch) {
    var key = JSON.stringify(errors || []);
    var host = document.getElementById("tracesite-error-overlay");
    if (!errors || !errors.length) {
      if (host) host.remove();
      shownKey = dismissedKey = "";
      return;
    }
    if ((host && key === shownKey) || key === dismissedKey) return;
    if (host) host.remove();
    shownKey = key;
    host = el("div", "all:initial");
    host.id = "tracesite-error-overlay";
    var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
    var back = el("div", "position:fixed;inset:0;z-index:2147483647;background:rgba(0,0,0,.55);" +
      "display:flex;align-items:flex-start;justify-content:center;overflow:auto;padding:5vh 1em;" +
      "box-sizing:border-box;font:14px/1.5 system-ui,sans-serif");
    var box = el("div", "background:#fff;color:#1a1a1a;border-top:6px solid #c62828;" +
      "border-radius:6px;max-width:60em;width:100%;padding:1em 1.25em;box-shadow:0 8px 32px #0008");
    box.setAttribute("role", "alert");
    var head = el("div", "display:flex;align-items:baseline;gap:1em");
    var n = errors.length;
    head.appendChild(el("strong", "font-size:1.2em;color:#c62828;flex:1",
      "Build failed: " + n + (n === 1 ? " error" : " errors")));
    var close = el("button", "font:inherit;cursor:pointer;border:1px solid #999;background:#eee;" +
      "border-radius:4px;padding:0 .6em", "Dismiss");
    close.addEventListener("click", function () { dismissedKey = key; host.remove(); });
    head.appendChild(close);
    box.appendChild(head);
    box.appendChild(el("p", "margin:.4em 0 .8em;color:#555", epoch > 0
      ? "Still serving the last good build. Fix the file and save: this page updates by itself."
      : "Nothing could be built yet. Fix the file and save: this page updates by itself."));
    var list = el("ol", "margin:0;padding-left:1.5em");
    errors.forEach(function (e) {
      var li = el("li", "margin:.5em 0");
      li.className = "tracesite-error";
      li.appendChild(el("div", "font:600 13px/1.4 ui-monospace,monospace;word-break:break-all",
        e.where));
      li.appendChild(el("div", "white-space:pre-wrap;word-break:break-word", e.message));
      list.appendChild(li);
    });
    box.appendChild(list);
    back.appendChild(box);
    root.appendChild(back);
    (document.body || document.documentElement).appendChild(host);
  }

  if (chan) {
    chan.onmessage = function (ev) {
      if (ev.data === "ask") { if (source && latest) chan.postMessage(latest); }
      else apply(ev.data);
    };
  }
  document.addEventListener("visibilitychange", function () {
    if (hidden()) resign(); else wake();
  });
  window.addEventListener("pagehide", resign);
  window.addEventListener("pageshow", function (ev) { if (ev.persisted && !hidden()) wake(); });
  if (!hidden()) wake();
})();
"""
