"""Dev-server safety, beyond tests/test_serve_*.py: what a hostile or broken client can send.

test_serve_http.py already covers traversal (encoded, double-encoded, backslashes, symlinks
leading out of the site), 200 concurrent requests and 50 live-reload streams; test_serve_watch.py
covers a burst of 100 saves against a fake build. Here: NUL bytes in raw request lines, more
encodings of ``..``, absurd request lines and headers, idle connections, methods that would
write, the bind address, and the 100-saves burst against the real build. Everything stays on
loopback, is bounded in count and time, and ends by itself.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from conftest import native_trace
from test_serve_e2e import serving
from test_serve_fakes import FakeBuild, get, make_fake_project, running
from tracesite.serve.server import DevServer

SECRET = "TOP-SECRET-OUTSIDE-THE-SITE"


def _port(server: DevServer) -> int:
    assert server.httpd is not None
    return int(server.httpd.server_address[1])


def raw(server: DevServer, data: bytes, timeout: float = 10) -> bytes:
    """Send raw bytes on a fresh connection; return everything the server sent before closing."""
    with socket.create_connection(("127.0.0.1", _port(server)), timeout=timeout) as s:
        with contextlib.suppress(OSError):  # it may close early on an oversized request
            s.sendall(data)
        chunks = []
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def status_of(response: bytes) -> int:
    """The status code of a raw response; 0 when the server closed without answering.

    A request line without a version (``GET /``) is HTTP/0.9 to Python's server: the answer is a
    bare body, with no status line; its error pages say "Error code: N".
    """
    if not response:
        return 0
    if not response.startswith(b"HTTP/"):
        m = re.search(rb"Error code: (\d{3})", response)
        return int(m.group(1)) if m else 200
    return int(response.split(b"\r\n", 1)[0].split()[1])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[DevServer]:
    """A dev server (fake build) with a secret file three folders above the epoch folder."""
    (tmp_path / "secret.txt").write_text(SECRET)
    proj = make_fake_project(tmp_path / "p")
    (tmp_path / "tmp").mkdir()
    with running(proj, tmp_parent=tmp_path / "tmp") as server:
        yield server


def assert_still_serving(server: DevServer) -> None:
    status, _, body = get(server, "/pages/hello/")
    assert status == 200 and b"Hello world" in body


# -- NUL bytes and more encodings of ".." -----------------------------------------------------------


NUL_REQUESTS = [
    b"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /index.html\x00.png HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /pages/hello/\x00/../../../../secret.txt HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /%00 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /index.html%00 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /pages%00/../../../../secret.txt HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /%00/%2e%2e/%2e%2e/%2e%2e/secret.txt HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /pages/hello/index.html\x00 HTTP/1.0\r\n\r\n",
]


@pytest.mark.parametrize("request_bytes", NUL_REQUESTS, ids=range(len(NUL_REQUESTS)))
def test_nul_bytes_in_the_request_are_refused(served: DevServer, request_bytes: bytes) -> None:
    response = raw(served, request_bytes)
    assert status_of(response) in (0, 400, 403, 404), response[:300]
    assert SECRET.encode() not in response
    assert_still_serving(served)


MORE_TRAVERSALS = [
    "/%25252e%25252e/%25252e%25252e/%25252e%25252e/secret.txt",  # triple-encoded
    "/%2e%2E/%2E%2e/%2e%2e/secret.txt",  # mixed case
    "/%u002e%u002e/%u002e%u002e/%u002e%u002e/secret.txt",  # IIS-style %u
    "/\uff0e\uff0e/\uff0e\uff0e/\uff0e\uff0e/secret.txt",  # fullwidth dots (percent-encoded below)
    "/..;/..;/..;/secret.txt",  # Tomcat-style path parameters
    "/pages/hello/./../../../../secret.txt",
    "/./././../../../secret.txt",
    "/%e0%80%ae%e0%80%ae/%e0%80%ae%e0%80%ae/secret.txt",  # overlong UTF-8, 3 bytes
    "/.../.../secret.txt",
    "/" + "../" * 200 + "secret.txt",
    "/pages/hello/" + "%2e%2e%2f" * 50 + "secret.txt",
]


@pytest.mark.parametrize("path", MORE_TRAVERSALS, ids=range(len(MORE_TRAVERSALS)))
def test_more_encodings_of_dotdot_never_leave_the_site(served: DevServer, path: str) -> None:
    wire = path.encode("utf-8")
    if any(b > 127 for b in wire):
        from urllib.parse import quote

        wire = quote(path, safe="/%;").encode("ascii")
    response = raw(served, b"GET " + wire + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_of(response) in (400, 403, 404), response[:300]
    assert SECRET.encode() not in response


# -- absurd requests --------------------------------------------------------------------------------


ABSURD = {
    "request-line-100k": b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "header-line-100k": b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 100_000 + b"\r\n\r\n",
    "500-headers": b"GET / HTTP/1.1\r\n"
    + b"".join(b"X-H%d: v\r\n" % i for i in range(500))
    + b"\r\n",
    "header-without-colon": b"GET / HTTP/1.1\r\nthis is not a header\r\n\r\n",
    "binary-garbage": bytes(range(256)) * 4 + b"\r\n\r\n",
    "empty-request-line": b"\r\n\r\n",
    "method-only": b"GET\r\n\r\n",
    "http-9": b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
    "unknown-method": b"BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n",
    "negative-content-length": b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    "absurd-range": b"GET /assets/app.js HTTP/1.1\r\nHost: x\r\nRange: bytes=99999999999-1\r\n\r\n",
    "10k-segments": b"GET " + b"/a" * 10_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "absurd-if-none-match": b"GET /assets/app.js HTTP/1.1\r\nHost: x\r\nIf-None-Match: "
    + b'"x", ' * 5000
    + b"\r\n\r\n",
    "nul-in-header": b"GET / HTTP/1.1\r\nHost: x\x00y\r\nX-A: \x00\r\n\r\n",
    "utf8-in-header": "GET / HTTP/1.1\r\nHost: ☃\r\nX-Name: \u202e\r\n\r\n".encode(),
}


@pytest.mark.parametrize("name", sorted(ABSURD))
def test_absurd_requests_get_an_answer_and_the_server_keeps_serving(
    served: DevServer, name: str, capfd: pytest.CaptureFixture[str]
) -> None:
    response = raw(served, ABSURD[name])
    status = status_of(response)
    assert status == 0 or 200 <= status < 600, response[:300]
    if name in ("request-line-100k", "header-line-100k", "500-headers"):
        assert status in (0, 400, 414, 431), response[:300]
    if name == "unknown-method":
        assert status in (400, 405, 501)
    assert_still_serving(served)
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.parametrize("method", ["PUT", "POST", "DELETE", "PATCH", "PROPFIND", "MKCOL"])
def test_methods_that_would_write_change_nothing(served: DevServer, method: str) -> None:
    assert served.store is not None and served.store.current is not None
    page = served.store.current.root / "pages/hello/index.html"
    before = page.read_bytes()
    body = b"<script>alert(1)</script>"
    request = (
        f"{method} /pages/hello/index.html HTTP/1.1\r\nHost: x\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    status = status_of(raw(served, request))
    assert status in (400, 405, 501), status
    assert page.read_bytes() == before
    assert not (served.store.current.root / "pages/hello/new.html").exists()
    assert_still_serving(served)


def test_idle_and_half_sent_connections_do_not_block_others(served: DevServer) -> None:
    """Thirty connections that send nothing (or half a request line) while a normal browser
    request arrives: it is answered at once, each in its own thread."""
    with ExitStack() as stack:
        for i in range(30):
            s = stack.enter_context(socket.create_connection(("127.0.0.1", _port(served)), 10))
            if i % 2:
                s.sendall(b"GET /pages/hel")  # a slowloris-style client: never finishes
        start = time.monotonic()
        assert_still_serving(served)
        assert time.monotonic() - start < 5


def test_many_short_connections_in_a_row_leave_no_thread_behind(served: DevServer) -> None:
    before = threading.active_count()
    for _ in range(300):
        status, _, _ = get(served, "/assets/app.js")
        assert status == 200
    deadline = time.monotonic() + 10
    while threading.active_count() > before + 2 and time.monotonic() < deadline:
        time.sleep(0.05)  # handler threads end just after their response is sent
    assert threading.active_count() <= before + 2


# -- the bind address -------------------------------------------------------------------------------


def _outward_address() -> str | None:
    """This machine's address on its default route (no packet is sent), or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))
            address = str(s.getsockname()[0])
        except OSError:
            return None
    return None if address.startswith("127.") else address


def test_the_default_bind_address_is_loopback_only(tmp_path: Path) -> None:
    proj = make_fake_project(tmp_path / "p")
    server = DevServer(proj, port=0, build=FakeBuild(), log=lambda s: None)
    assert server.host == "127.0.0.1"
    server.start()
    try:
        server.wait_for_build(1, timeout=30)
        assert server.httpd is not None
        assert server.httpd.server_address[0] == "127.0.0.1"
        assert server.url.startswith("http://127.0.0.1:")
        outward = _outward_address()
        if outward is not None:  # the port is closed on the machine's network address
            with pytest.raises(OSError):
                socket.create_connection((outward, _port(server)), timeout=3).close()
    finally:
        server.stop()


# -- DNS rebinding: only local names and IP addresses -------------------------------------------------


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("127.0.0.1:{port}", 200),
        ("localhost:{port}", 200),
        ("LOCALHOST", 200),
        ("tracesite.localhost:{port}", 200),
        ("[::1]:{port}", 200),
        ("192.168.1.20:{port}", 200),  # a LAN address (--host 0.0.0.0)
        ("evil.example:{port}", 403),
        ("evil.example", 403),
        ("localhost.evil.example:{port}", 403),
        ("127.0.0.1.nip.io:{port}", 403),
    ],
)
def test_requests_for_foreign_host_names_are_refused(
    served: DevServer, host: str, status: int
) -> None:
    """A rebinding page (its name re-pointed at 127.0.0.1) must not read the site or the stream."""
    name = host.format(port=_port(served))
    for path in ("/pages/hello/", "/__tracesite/state"):
        response = raw(served, f"GET {path} HTTP/1.1\r\nHost: {name}\r\n\r\n".encode())
        assert status_of(response) == status, response[:300]
        if status == 403:
            assert b"Hello world" not in response and b'"epoch"' not in response


REBIND_SCRIPT = """
import json, sys
sys.path.insert(0, sys.argv[1])
from browser_helpers import CHROMIUM_ARGS, launch_chromium
port = sys.argv[2]
rules = "--host-resolver-rules=MAP rebind.test 127.0.0.1"
out = []
with launch_chromium(args=[*CHROMIUM_ARGS, rules]) as browser:
    page = browser.new_page()
    for host in ("rebind.test", "localhost"):
        r = page.goto(f"http://{host}:{port}/pages/hello/")
        out.append([r.status if r else 0, "Hello world" in page.content()])
print(json.dumps(out))
"""


@pytest.mark.browser
def test_a_rebound_name_in_a_real_browser_gets_no_site(served: DevServer) -> None:
    """Chromium told that rebind.test is 127.0.0.1 (as a rebinding DNS server would say). In a
    process of its own: the resolver rule is a launch flag, and this session's browser is up."""
    import json
    import subprocess
    import sys

    tests = str(Path(__file__).resolve().parent)
    r = subprocess.run(
        [sys.executable, "-c", REBIND_SCRIPT, tests, str(_port(served))],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    rebound, local = json.loads(r.stdout.strip().splitlines()[-1])
    assert rebound == [403, False]
    assert local == [200, True]


# -- a burst of saves with the real build -----------------------------------------------------------


def _no_build_within(server: DevServer, n: int, window: float) -> bool:
    """True if build ``n`` does not come within ``window`` s (absence needs a time window)."""
    try:
        server.wait_for_build(n, timeout=window)
    except TimeoutError:
        return True
    return False


@pytest.mark.slow
def test_100_saves_in_one_second_with_the_real_build_give_at_most_two_rebuilds(
    make_project: object,
) -> None:
    proj = make_project(  # type: ignore[operator]
        {"content/run.json": native_trace(50), "content/run.md": "---\ntitle: v0\n---\nnote 0\n"}
    )
    log: list[str] = []
    with serving(proj, log) as server:
        note = proj / "content/run.md"
        start = time.monotonic()
        for i in range(1, 101):  # pacing the writes over one second is the burst, not a wait
            note.write_text(f"---\ntitle: v{i}\n---\nnote {i}\n", encoding="utf-8")
            time.sleep(max(0.0, start + i / 100 - time.monotonic()))
        server.wait_for_build(2, timeout=60)
        if not _no_build_within(server, 3, window=3.0):
            assert _no_build_within(server, 4, window=3.0), log  # a third rebuild: too many
        assert 2 <= server.builds <= 3, log
        status, _, body = get(server, "/traces/run/")
        assert status == 200 and b"note 100" in body, body[:500]
