"""`tracesite serve` as a user runs it: a subprocess, stopped with Ctrl-C (SIGINT) or SIGTERM."""

from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tracesite.serve.livereload import EVENTS_PATH


def _start(project: Path, tmp: Path, *args: str) -> tuple[subprocess.Popen[str], str]:
    tmp.mkdir(exist_ok=True)
    env = {**os.environ, "TMPDIR": str(tmp)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tracesite", "serve", str(project), "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # blocks until the server has bound its port
    m = re.search(r"at (http://\S+) \(Ctrl-C to stop\)", line)
    if not m:
        proc.kill()
        pytest.fail(f"no URL printed: {line!r} {proc.communicate()}")
    return proc, m.group(1)


def _get(url: str, path: str) -> tuple[int, bytes]:
    m = re.match(r"http://([^:/]+):(\d+)", url)
    assert m
    conn = http.client.HTTPConnection(m.group(1), int(m.group(2)), timeout=10)
    conn.request("GET", path)
    resp = conn.getresponse()
    return resp.status, resp.read()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_serve_stops_cleanly_on_ctrl_c_and_sigterm(make_project, tmp_path, sig):
    proj = make_project({"content/about.md": "---\ntitle: About\n---\nHello from the page.\n"})
    proc, url = _start(proj, tmp_path / "tmp")
    try:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", url)  # loopback by default, real port
        # wait for the first build on the live-reload stream (an open stream must not keep
        # the server alive either)
        m = re.match(r"http://([^:/]+):(\d+)", url)
        assert m
        stream = http.client.HTTPConnection(m.group(1), int(m.group(2)), timeout=30)
        stream.request("GET", EVENTS_PATH)
        resp = stream.getresponse()
        while b'"epoch":1' not in (line := resp.readline()):
            assert line, "stream ended before the first build"
        status, body = _get(url, "/about/")
        assert status == 200 and b"Hello from the page." in body
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert "stopped" in err
    assert list((tmp_path / "tmp").iterdir()) == []  # no temp folder left behind
    assert not (proj / "site").exists()
    assert resp.read() is not None  # the stream was closed by the server
    with pytest.raises(OSError):
        _get(url, "/")


def test_serve_a_missing_folder_is_an_error_not_a_traceback(tmp_path, cli):
    r = cli("serve", str(tmp_path / "nope"), "--port", "0")
    assert r.returncode == 1
    assert "no such folder" in r.stderr
    assert "Traceback" not in r.stderr


def test_serve_help_lists_the_options(cli):
    r = cli("serve", "--help")
    assert r.returncode == 0
    for opt in ("--host", "--port", "--open", "--poll"):
        assert opt in r.stdout


def test_open_starts_a_browser_on_the_served_url(make_project, monkeypatch, capsys):
    import threading

    from tracesite.serve import server as serve

    proj = make_project({"content/about.md": "Hello.\n"})
    opened: list[str] = []
    called = threading.Event()

    def fake_open(url: str) -> bool:
        opened.append(url)
        called.set()
        return True

    monkeypatch.setattr(serve.webbrowser, "open", fake_open)
    stop = threading.Event()
    thread = threading.Thread(
        target=serve.serve_project,
        args=(proj,),
        kwargs={"port": 0, "open_browser": True, "stop": stop},
    )
    thread.start()
    try:
        assert called.wait(30)
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive()
    out = capsys.readouterr().out
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", opened[0])
    assert f"at {opened[0]} (Ctrl-C to stop)" in out
