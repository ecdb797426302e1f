"""Shared helpers for the reader tests: where the real files are, and small builders.

Fixtures under ``tests/fixtures/real/`` (MIT/Apache copies, see ATTRIBUTION.md) always exist;
the full corpus (``../shared/corpus/real``) may not, and tests needing it skip.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tracesite.formats import read_bytes
from tracesite.model.trace import Trace

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "real"
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "real"


def fixture(rel: str) -> Path:
    """A copied real file (always present)."""
    path = FIXTURES / rel
    assert path.is_file(), f"missing fixture {rel}"
    return path


def corpus_file(rel: str) -> Path:
    """A file of the full corpus (../shared/corpus/real, always beside the repository in CI)."""
    path = CORPUS / rel
    if not path.is_file():
        pytest.fail(f"corpus file {rel} is missing from {CORPUS}")
    return path


def real(rel: str) -> Path:
    """The fixture copy when there is one, else the corpus file (skipping without it)."""
    path = FIXTURES / rel
    return path if path.is_file() else corpus_file(rel)


def all_fixture_files() -> list[Path]:
    return sorted(p for p in FIXTURES.rglob("*") if p.is_file())


def all_corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.name != "SOURCES.md")


def read_json(obj: Any, name: str = "test.json") -> list[Trace]:
    """Read a JSON value as if it were a file's content."""
    return read_bytes(json.dumps(obj).encode("utf-8"), name)


def read_text(text: str, name: str = "test.txt") -> list[Trace]:
    return read_bytes(text.encode("utf-8"), name)


def entry(
    token: str, logprob: float, top: list[tuple[str, float]] | None = None, **kw: Any
) -> dict[str, Any]:
    """One OpenAI-style logprob entry, with bytes of the token's UTF-8 unless given."""
    out: dict[str, Any] = {"token": token, "logprob": logprob, "bytes": list(token.encode("utf-8"))}
    out.update(kw)
    out["top_logprobs"] = [
        {"token": t, "logprob": lp, "bytes": list(t.encode("utf-8"))} for t, lp in (top or [])
    ]
    return out


def chat_response(
    entries: list[dict[str, Any]], content: str | None = None, **top: Any
) -> dict[str, Any]:
    """A minimal chat completion response around ``entries``."""
    if content is None:
        content = "".join(e["token"] for e in entries)
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "gpt-test",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "logprobs": {"content": entries, "refusal": None},
                "finish_reason": "stop",
            }
        ],
        **top,
    }


def sse(events: list[Any], done: bool = True) -> str:
    """Events as OpenAI-style SSE text."""
    text = "".join(f"data: {json.dumps(e)}\n\n" for e in events)
    return text + ("data: [DONE]\n\n" if done else "")
