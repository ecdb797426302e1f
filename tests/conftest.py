"""Shared fixtures: tiny projects in tmp_path, the CLI, the real-API corpus."""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus" / "real"


def native_trace(
    n: int = 30, seed: int = 0, texts: list[str] | None = None, **meta: object
) -> dict[str, object]:
    """A native trace with realistic random probabilities (deterministic per seed)."""
    rng = random.Random(seed)
    words = texts or [" the", " model", " wrote", " this", ",", " and", "\n", " 42", "."]
    tokens = []
    for i in range(n):
        p = min(1.0, max(0.01, rng.betavariate(5, 1)))
        chosen = words[i % len(words)] if texts else rng.choice(words)
        alts = [
            {
                "text": rng.choice(words) + "x",
                "logprob": math.log(max(1e-4, (1 - p) * rng.random())),
            }
            for _ in range(3)
        ]
        tokens.append(
            {
                "text": chosen,
                "logprob": math.log(p),
                "top": [{"text": chosen, "logprob": math.log(p)}, *alts],
            }
        )
    out: dict[str, object] = {"tracesite": 1, "model": "test-model", "tokens": tokens}
    out.update(meta)
    return out


@pytest.fixture
def make_project(tmp_path: Path) -> Callable[..., Path]:
    """``make_project(files={"content/a.json": {...} or "text"})`` -> the project folder."""

    def make(files: dict[str, object] | None = None, name: str = "proj") -> Path:
        root = tmp_path / name
        (root / "content").mkdir(parents=True, exist_ok=True)
        for rel, value in (files or {}).items():
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(value, bytes):
                target.write_bytes(value)
            elif isinstance(value, str):
                target.write_text(value, encoding="utf-8")
            else:
                target.write_text(json.dumps(value), encoding="utf-8")
        return root

    return make


def run_cli(
    *args: str, cwd: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run the real ``tracesite`` command in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "tracesite", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    return run_cli


@pytest.fixture
def corpus() -> Path:
    if not CORPUS.is_dir():  # CI always has ../shared beside the checkout: a failure, not a skip
        pytest.fail(f"the real-API corpus is missing: {CORPUS} (../shared/corpus/real)")
    return CORPUS


from browser_helpers import CHROMIUM, CHROMIUM_ARGS  # noqa: E402  (one launcher for all)


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright (never a downloaded browser)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: .ci/run installs it with apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    """A fresh page; any dialog (alert, confirm) that opens is recorded in ``page.dialogs``."""
    context = browser.new_context()
    pg = context.new_page()
    pg.dialogs = []  # type: ignore[attr-defined]

    def on_dialog(dialog):  # an injected alert() would land here
        pg.dialogs.append(dialog.message)  # type: ignore[attr-defined]
        dialog.dismiss()

    pg.on("dialog", on_dialog)
    yield pg
    context.close()


class SubpathServer:
    """Serve a built site under ``/repo/`` on 127.0.0.1, as GitHub Pages serves a project site."""

    def __init__(self, root: Path, prefix: str = "/repo/") -> None:
        import functools
        import http.server
        import threading

        prefix_ = prefix

        class Handler(http.server.SimpleHTTPRequestHandler):
            def translate_path(self, path: str) -> str:
                from urllib.parse import unquote, urlsplit

                p = unquote(urlsplit(path).path)
                if not p.startswith(prefix_):
                    return str(root / "__outside_base_path__")
                return super().translate_path("/" + p[len(prefix_) :])

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(Handler, directory=str(root))
        )
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}{prefix}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
