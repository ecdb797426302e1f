"""The dev server in-process, without a browser: what it serves, what it refuses, how it holds up.

A fake build (test_serve_fakes.py) stands in for the real one, so these tests are about the
server: epochs, path safety, base path, headers, live-reload streams, failed builds.
"""

from __future__ import annotations

import http.client
import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from test_serve_fakes import FakeBuild, get, make_fake_project, running
from tracesite.core.errors import TracesiteError
from tracesite.serve.livereload import EVENTS_PATH, LiveReloadHub, inject
from tracesite.serve.server import DevServer

SECRET = "TOP-SECRET-OUTSIDE-THE-SITE"


def _state(server: DevServer) -> dict[str, object]:
    status, _, body = get(server, "/__tracesite/state")
    assert status == 200
    return json.loads(body)


# -- what is served -------------------------------------------------------------------------------


def test_pages_are_served_with_the_reload_script_injected_not_written(tmp_path):
    proj = make_fake_project(tmp_path / "p", {"hello": "Hello <world>"})
    with running(proj) as server:
        status, headers, body = get(server, "/pages/hello/")
        assert status == 200
        assert headers["content-type"] == "text/html; charset=utf-8"
        assert headers["cache-control"] == "no-store"
        assert int(headers["content-length"]) == len(body)
        text = body.decode()
        assert "Hello &lt;world&gt;" in text
        assert text.count("<script data-tracesite-livereload>") == 1
        assert text.index("<script data-tracesite-livereload>") < text.rindex("</body>")
        assert '"epoch": 1' in text
        # the in-place update learns which build a fetched page comes from
        assert headers["x-tracesite-epoch"] == "1"
        assert headers["x-tracesite-run"] == server.hub.state.run
        epoch = server.store.current
        assert epoch is not None
        on_disk = (epoch.root / "pages/hello/index.html").read_text()
        assert "livereload" not in on_disk  # built files stay as `tracesite build` writes them
    assert not (proj / "site").exists()  # never builds into site/


def test_inject_goes_before_the_last_body_end_or_at_the_end():
    assert inject(b"<body>x</BODY>", b"<s>") == b"<body>x<s></BODY>"
    assert inject(b"a</body>b</body>", b"<s>") == b"a</body>b<s></body>"
    assert inject(b"<p>no body end", b"<s>") == b"<p>no body end<s>"


def test_head_has_the_headers_of_get_and_no_body(tmp_path):
    proj = make_fake_project(tmp_path / "p")
    with running(proj) as server:
        for path in ("/", "/assets/style.css"):
            s1, h1, b1 = get(server, path)
            s2, h2, b2 = get(server, path, method="HEAD")
            assert (s1, s2) == (200, 200)
            assert b2 == b""
            assert h2["content-type"] == h1["content-type"]
            assert h2["content-length"] == h1["content-length"] == str(len(b1))


@pytest.mark.parametrize(
    ("path", "ctype"),
    [
        ("/", "text/html; charset=utf-8"),
        ("/index.html", "text/html; charset=utf-8"),
        ("/assets/style.css", "text/css; charset=utf-8"),
        ("/assets/app.js", "text/javascript; charset=utf-8"),
        ("/assets/data.json", "application/json"),
        ("/assets/logo.svg", "image/svg+xml"),
    ],
)
def test_content_types(tmp_path, path, ctype):
    proj = make_fake_project(tmp_path / "p")
    with running(proj) as server:
        status, headers, _ = get(server, path)
        assert status == 200
        assert headers["content-type"] == ctype
        assert headers["x-content-type-options"] == "nosniff"


def test_assets_revalidate_with_etags(tmp_path):
    proj = make_fake_project(tmp_path / "p")
    with running(proj) as server:
        _, headers, body = get(server, "/assets/app.js")
        assert b"appLoaded" in body
        status, _, body = get(server, "/assets/app.js", headers={"If-None-Match": headers["etag"]})
        assert (status, body) == (304, b"")


def test_folder_without_slash_redirects_and_missing_pages_get_the_site_404(tmp_path):
    proj = make_fake_project(tmp_path / "p")
    with running(proj) as server:
        status, headers, _ = get(server, "/pages/hello?x=1")
        assert status == 302
        assert headers["location"] == "/pages/hello/?x=1"
        status, headers, body = get(server, "/no/such/page/")
        assert status == 404
        assert b"<h1>Lost</h1>" in body  # the site's own 404.html, as GitHub Pages does
        assert b"data-tracesite-livereload" in body  # so it reloads when the page appears


def test_hidden_files_are_not_served(tmp_path):
    proj = make_fake_project(tmp_path / "p")
    with running(proj) as server:
        assert server.store.current is not None
        assert (server.store.current.root / ".nojekyll").exists()
        assert get(server, "/.nojekyll")[0] == 404


# -- path safety ----------------------------------------------------------------------------------


class SymlinkBuild(FakeBuild):
    """A build whose output has symlinks pointing out of the site (and one pointing inside)."""

    def __init__(self, outside: Path) -> None:
        super().__init__()
        self.outside = outside

    def __call__(self, project, options):
        result = super().__call__(project, options)
        out = options.output
        for name, target in (
            ("leak.txt", self.outside / "secret.txt"),
            ("leakdir", self.outside),
            ("pages/hello/up", self.outside),
            ("inside.css", out / "assets/style.css"),
        ):
            if not (out / name).is_symlink():
                os.symlink(target, out / name)
        return result


TRAVERSALS = [
    "/../../../secret.txt",
    "/pages/../../../../secret.txt",
    "/%2e%2e/%2e%2e/%2e%2e/secret.txt",
    "/%2E%2E%2F%2E%2E%2F%2E%2E%2Fsecret.txt",
    "/..%2f..%2f..%2fsecret.txt",
    "/.%2e/.%2e/.%2e/secret.txt",
    "/%252e%252e/%252e%252e/%252e%252e/secret.txt",
    "/%252e%252e%252f%252e%252e%252fsecret.txt",
    "/..\\..\\..\\secret.txt",
    "/%5c..%5c..%5c..%5csecret.txt",
    "/pages\\..\\..\\..\\..\\secret.txt",
    "/%c0%ae%c0%ae/%c0%ae%c0%ae/secret.txt",
    "/..%00/secret.txt",
    "//etc/passwd",
    "/etc/passwd",
    "/%2fetc%2fpasswd",
    "http://127.0.0.1/../../../secret.txt",
    "/leak.txt",
    "/leakdir/secret.txt",
    "/leakdir/",
    "/leakdir",
    "/pages/hello/up/secret.txt",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_nothing_outside_the_site_is_ever_served(tmp_path, path):
    outside = tmp_path
    (outside / "secret.txt").write_text(SECRET)
    proj = make_fake_project(tmp_path / "p")
    (tmp_path / "tmp").mkdir()
    with running(proj, build=SymlinkBuild(outside), tmp_parent=tmp_path / "tmp") as server:
        # the secret is three levels up from the epoch folder: tmp/tracesite-serve-*/build-1
        assert server.store.current is not None
        root = server.store.current.root
        assert (root / "../../../secret.txt").resolve() == (outside / "secret.txt").resolve()
        variants = [path, path.replace("secret.txt", str(outside / "secret.txt").lstrip("/"))]
        for p in variants:
            status, _, body = get(server, p)
            assert status in (403, 404), (p, status)
            assert SECRET.encode() not in body
            assert b"root:" not in body  # /etc/passwd


def test_absolute_file_paths_and_in_site_symlinks(tmp_path):
    (tmp_path / "secret.txt").write_text(SECRET)
    proj = make_fake_project(tmp_path / "p")
    with running(proj, build=SymlinkBuild(tmp_path)) as server:
        status, _, body = get(server, "/" + str(tmp_path / "secret.txt"))
        assert status == 404 and SECRET.encode() not in body
        status, _, body = get(server, "/inside.css")  # a symlink that stays inside is fine
        assert status == 200 and b"color" in body


# -- base path ------------------------------------------------------------------------------------


def test_project_site_is_served_under_its_base_path(tmp_path):
    toml = '[site]\nbase_url = "https://user.github.io/repo/"\n'
    proj = make_fake_project(tmp_path / "p", toml=toml)
    with running(proj) as server:
        assert server.url.endswith("/repo/")
        status, headers, _ = get(server, "/")
        assert (status, headers["location"]) == (302, "/repo/")
        status, headers, _ = get(server, "/repo")
        assert (status, headers["location"]) == (302, "/repo/")
        status, _, body = get(server, "/repo/pages/hello/")
        assert status == 200 and b"Hello world" in body
        for outside in ("/index.html", "/pages/hello/", "/repository/", "/other/repo/"):
            status, _, body = get(server, outside)
            assert status == 404, outside
            assert b"Hello world" not in body
        assert _state(server)["base"] == "/repo/"


# -- builds and epochs ----------------------------------------------------------------------------


def test_a_half_built_site_is_never_served(tmp_path):
    proj = make_fake_project(tmp_path / "p", {"hello": "first"})
    build = FakeBuild()
    with running(proj, build=build) as server:
        build.gate, build.started = threading.Event(), threading.Event()
        (proj / "content/hello.txt").write_text("second")
        (proj / "content/new.txt").write_text("a new page")
        assert build.started.wait(10)  # the rebuild has written the pages, not yet the index
        status, _, body = get(server, "/")
        assert status == 200 and b"pages/new/" not in body
        assert get(server, "/pages/new/")[0] == 404
        assert b"first" in get(server, "/pages/hello/")[2]
        build.gate.set()
        server.wait_for_build(2, timeout=10)
        assert b"pages/new/" in get(server, "/")[2]
        assert b"second" in get(server, "/pages/hello/")[2]
        assert _state(server)["epoch"] == 2


def test_old_epochs_are_deleted_and_the_temp_folder_goes_at_stop(tmp_path):
    proj = make_fake_project(tmp_path / "p")
    with running(proj) as server:
        for i in range(3):
            (proj / "content/hello.txt").write_text(f"version {i}")
            server.wait_for_build(i + 2, timeout=10)
        server.store.settle()
        folders = {f.name for f in server.store.tmp.iterdir()}
        assert server.store.current is not None
        assert server.store.current.root.name in folders
        assert len(folders) == 2, folders  # the served epoch and the next build's seeded folder
        tmp = server.store.tmp
    assert not tmp.exists()


def test_before_the_first_build_pages_say_building_and_reload(tmp_path):
    proj = make_fake_project(tmp_path / "p")
    build = FakeBuild()
    build.gate = threading.Event()
    server = DevServer(proj, port=0, build=build, log=lambda s: None)
    server.start()
    try:
        assert build.started.wait(10)
        status, _, body = get(server, "/pages/hello/")
        assert status == 503
        assert b"Building" in body and b'"epoch": 0' in body
        build.gate.set()
        server.wait_for_build(1, timeout=10)
        assert get(server, "/pages/hello/")[0] == 200
    finally:
        build.gate.set()
        server.stop()


HOSTILE = "</script><img src=x onerror=alert(1)>"


def test_a_failed_first_build_serves_an_escaped_error_page_and_keeps_watching(tmp_path):
    proj = make_fake_project(tmp_path / "p", {"bad": f"BROKEN {HOSTILE}"})
    with running(proj) as server:
        status, _, body = get(server, "/")
        assert status == 500
        assert b"content/bad.txt: $.tokens[3].logprob" in body
        assert b"&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in body
        assert HOSTILE.encode() not in body
        state = _state(server)
        assert state["epoch"] == 0
        assert state["errors"] == [
            {
                "where": "content/bad.txt: $.tokens[3].logprob",
                "path": "content/bad.txt",
                "address": "$.tokens[3].logprob",
                "message": HOSTILE,
            }
        ]
        (proj / "content/bad.txt").write_text("fixed now")
        server.wait_for_build(2, timeout=10)
        assert b"fixed now" in get(server, "/pages/bad/")[2]
        assert _state(server)["errors"] == []


def test_a_failed_rebuild_keeps_serving_the_last_good_build(tmp_path):
    proj = make_fake_project(tmp_path / "p", {"hello": "good text"})
    with running(proj) as server:
        (proj / "content/hello.txt").write_text("BROKEN bad number")
        server.wait_for_build(2, timeout=10)
        status, _, body = get(server, "/pages/hello/")
        assert status == 200 and b"good text" in body
        state = _state(server)
        assert state["epoch"] == 1
        assert [e["message"] for e in state["errors"]] == ["bad number"]
        server.store.settle()
        assert len(list(server.store.tmp.iterdir())) == 2  # served + next; the failed one is gone


def test_config_errors_are_build_errors_and_a_config_fix_recovers(tmp_path):
    proj = make_fake_project(tmp_path / "p", toml='[site]\ntitle = "ok"\n')
    with running(proj) as server:
        (proj / "tracesite.toml").write_text("[site]\ntitel = 3\n")
        server.wait_for_build(2, timeout=10)
        state = _state(server)
        assert state["epoch"] == 1
        assert state["errors"][0]["where"] == "tracesite.toml: site.titel"
        (proj / "tracesite.toml").write_text('[site]\nbase_url = "/docs/"\n')
        server.wait_for_build(3, timeout=10)
        state = _state(server)
        assert (state["epoch"], state["errors"], state["base"]) == (2, [], "/docs/")
        assert get(server, "/docs/pages/hello/")[0] == 200


def test_a_port_in_use_is_a_clear_error(tmp_path):
    proj = make_fake_project(tmp_path / "p")
    with running(proj) as server:
        assert server.httpd is not None
        port = server.httpd.server_address[1]
        other = DevServer(proj, port=port, build=FakeBuild(), log=lambda s: None)
        with pytest.raises(TracesiteError, match="try --port 0"):
            other.start()


# -- load -----------------------------------------------------------------------------------------


def test_200_concurrent_requests_all_answered(tmp_path):
    proj = make_fake_project(tmp_path / "p", {f"p{i}": f"text {i}" for i in range(20)})
    with running(proj) as server:
        barrier = threading.Barrier(200, timeout=30)

        def one(i: int) -> tuple[int, bool]:
            barrier.wait()
            status, _, body = get(server, f"/pages/p{i % 20}/")
            return status, f"text {i % 20}".encode() in body

        with ThreadPoolExecutor(max_workers=200) as pool:
            results = list(pool.map(one, range(200)))
        assert results == [(200, True)] * 200


def _open_stream(server: DevServer) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    assert server.httpd is not None
    conn = http.client.HTTPConnection("127.0.0.1", server.httpd.server_address[1], timeout=10)
    conn.request("GET", EVENTS_PATH)
    return conn, conn.getresponse()


def _next_event(resp: http.client.HTTPResponse) -> dict[str, object] | None:
    """The next `data:` event of a stream, or None at its end."""
    while True:
        line = resp.readline()
        if not line:
            return None
        if line.startswith(b"data: "):
            return json.loads(line[6:])


def test_50_live_reload_streams_get_every_state_and_end_by_themselves(tmp_path):
    proj = make_fake_project(tmp_path / "p")
    hub = LiveReloadHub(max_streams=50, lifetime=3.0)
    with running(proj, hub=hub) as server:
        streams = [_open_stream(server) for _ in range(50)]
        for _, resp in streams:
            assert resp.status == 200
            assert resp.getheader("Content-Type") == "text/event-stream; charset=utf-8"
            first = _next_event(resp)
            assert first is not None and first["epoch"] == 1
        assert hub.active_streams == 50
        assert get(server, EVENTS_PATH)[0] == 503  # bounded: the 51st is refused
        assert get(server, "/")[0] == 200  # and pages are still served
        (proj / "content/hello.txt").write_text("changed")
        for _, resp in streams:  # every stream hears about the new build...
            event = _next_event(resp)
            while event is not None and event["epoch"] != 2:
                event = _next_event(resp)
            assert event is not None
        for conn, resp in streams:  # ...and ends by itself after its lifetime
            while _next_event(resp) is not None:
                pass
            conn.close()
        assert hub.wait_streams(0, timeout=10)


def test_streams_end_when_the_server_stops(tmp_path):
    proj = make_fake_project(tmp_path / "p")
    server = DevServer(proj, port=0, build=FakeBuild(), log=lambda s: None)
    server.start()
    server.wait_for_build(1, timeout=30)
    streams = [_open_stream(server) for _ in range(5)]
    for _, resp in streams:
        assert _next_event(resp) is not None
    server.stop()
    for conn, resp in streams:
        assert _next_event(resp) is None
        conn.close()
    assert server.hub.active_streams == 0


def test_a_closed_tab_frees_its_stream_before_the_next_heartbeat(tmp_path):
    proj = make_fake_project(tmp_path / "p")
    hub = LiveReloadHub(heartbeat=60.0)
    with running(proj, hub=hub) as server:
        conn, resp = _open_stream(server)
        assert _next_event(resp) is not None
        assert hub.active_streams == 1
        conn.close()
        resp.close()
        assert hub.wait_streams(0, timeout=5)  # not 60 s: the server noticed the hang-up


def test_a_crashing_build_is_reported_and_the_server_keeps_going(tmp_path):
    class CrashingBuild(FakeBuild):
        crash = True

        def __call__(self, project, options):
            if self.crash:
                raise ZeroDivisionError("oops")
            return super().__call__(project, options)

    proj = make_fake_project(tmp_path / "p")
    build = CrashingBuild()
    log: list[str] = []
    with running(proj, build=build, log=log) as server:
        state = _state(server)
        assert state["epoch"] == 0
        assert state["errors"][0]["message"] == "internal error: ZeroDivisionError: oops"
        assert get(server, "/")[0] == 500
        build.crash = False
        (proj / "content/hello.txt").write_text("works again")
        server.wait_for_build(2, timeout=10)
        assert b"works again" in get(server, "/pages/hello/")[2]
    assert any("internal error: ZeroDivisionError: oops" in line for line in log)


def test_ipv6_loopback(tmp_path):
    proj = make_fake_project(tmp_path / "p")
    try:
        ctx = running(proj, host="::1")
        server = ctx.__enter__()
    except TracesiteError as exc:
        pytest.skip(f"no IPv6 loopback here: {exc}")
    try:
        assert server.url.startswith("http://[::1]:")
        assert server.httpd is not None
        conn = http.client.HTTPConnection("::1", server.httpd.server_address[1], timeout=10)
        conn.request("GET", "/pages/hello/")
        assert conn.getresponse().status == 200
        conn.close()
    finally:
        ctx.__exit__(None, None, None)


def test_the_shell_digest_ignores_main_title_and_description_only():
    """Equal digests let a page swap in a new <main> in place; anything else must reload."""
    from tracesite.serve.livereload import shell_digest

    def page(title: str, desc: str, main: str, header: str = "Gallery") -> bytes:
        return (
            f'<!doctype html><html><head><title>{title}</title><meta name="description" '
            f'content="{desc}"><script src="a.js"></script></head><body><header>{header}'
            f"</header><main><p>{main}</p></main><footer>f</footer></body></html>"
        ).encode()

    base = shell_digest(page("One", "first", "old text"))
    assert base and shell_digest(page("Two", "second", "new <b>text</b>")) == base
    assert shell_digest(page("One", "first", "old text", header="Renamed")) != base
    assert shell_digest(page("One", "first", "x").replace(b"a.js", b"b.js")) != base
    assert shell_digest(b"<html><body><p>no main element</p></body></html>") == ""
