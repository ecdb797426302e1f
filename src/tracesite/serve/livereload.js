/* The live-reload client of `tracesite serve`, injected before </body> of every served page
   (livereload.py's script_tag fills in __CONFIG__).
   The browser side. States come from the one tab holding the Web Lock (or from this tab's own
   stream where Web Locks are missing, e.g. a non-secure LAN address). The overlay is built with
   textContent only: error messages quote untrusted file content.
*/
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
