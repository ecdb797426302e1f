"""Every real file reads, with SOURCES.md's token counts and top-k, and text equal to the
provider's own text field. Nothing here skips: a file a reader fails on fails its test, and so
does a corpus that is missing (CI always has ``../shared/corpus/real`` beside the checkout)."""

from __future__ import annotations

from pathlib import Path

import pytest

import tracesite
from formats_helpers import CORPUS, FIXTURES, all_corpus_files, all_fixture_files
from tracesite.model.checks import data_flags

#: file -> (format, traces' token counts, largest top-k), from SOURCES.md's tables.
EXPECTED: dict[str, tuple[str, int, int]] = {
    "openai_chat/gpt-4o-mini-pizza-844tok-top3.json": ("openai_chat", 844, 3),
    "openai_chat/gpt-4o-mini-pizza-stream-top3.sse.txt": ("openai_chat_stream", 829, 3),
    "openai_chat/gpt-4.1-hello-top20.json": ("openai_chat", 9, 20),
    "openai_chat/gpt-4.1-hi-top20-stored-completion.json": ("openai_chat", 9, 20),
    "openai_chat/gpt-4o-perplexity-475tok-no-top.json": ("openai_chat", 475, 0),
    "openai_completions/gpt-3.5-instruct-porchlight-top20.json": ("openai_completions", 16, 20),
    "openai_completions/gpt-3.5-instruct-self-awareness-240tok.json": (
        "openai_completions",
        240,
        20,
    ),
    "openai_completions/gpt-3.5-instruct-relationships-223tok.json": (
        "openai_completions",
        223,
        20,
    ),
    "openai_responses/gpt-4o-p-vs-np-413tok-top5.json": ("openai_responses", 413, 5),
    "openai_responses/gpt-4.1-mini-complex-uncertain-78tok-top5.json": ("openai_responses", 78, 5),
    "openai_responses/gpt-4o-paris-top5.json": ("openai_responses", 7, 5),
    "openai_responses/gpt-4o-mini-what-are-logprobs-stream-top3.sse.txt": (
        "openai_responses_stream",
        422,
        3,
    ),
    "openai_responses/gpt-4o-mini-what-are-logprobs-stream-completed-top3.json": (
        "openai_responses",
        422,
        3,
    ),
    "openai_responses/gpt-4o-mini-minas-gerais-stream.sse.txt": ("openai_responses_stream", 9, 0),
    "openai_responses/gpt-4o-mini-minas-gerais-stream-completed.json": ("openai_responses", 9, 0),
    "openai_responses/gpt-4o-mini-minas-gerais-nonstream.json": ("openai_responses", 9, 0),
    "gemini/vertex-gemini-2.5-flash-2plus2-top5.json": ("gemini", 7, 5),
    "gemini/vertex-gemini-2.5-flash-2plus2-no-top.json": ("gemini", 7, 0),
    "gemini/vertex-gemini-2.5-flash-hello-top2.json": ("gemini", 1, 2),
    "gemini/gemini-1.5-flash-002-weather-chosen-only.json": ("gemini", 50, 0),
    "gemini/gemini-1.5-flash-002-toolcode-top3-logprobsResult.json": ("gemini", 58, 3),
    "tgi_generate/bloom-560m-french-prefill.json": ("tgi", 10, 0),
    "tgi_generate/gemma3-100tok.json": ("tgi", 100, 0),
    "tgi_generate/llama4-100tok-special.json": ("tgi", 100, 0),
    "tgi_generate/w8a8-int-endoftext.json": ("tgi", 76, 0),
    "tgi_generate/llama-grammar-json.json": ("tgi", 30, 0),
    "tgi_generate/deepseek-v2-eos-fullwidth.json": ("tgi", 4, 0),
    "vllm_chat/qwq-32b-reasoning-100tok-top3.json": ("openai_chat", 100, 3),
    "vllm_chat/qwq-32b-awq-int4-reasoning-100tok-top3.json": ("openai_chat", 100, 3),
    "vllm_chat/qwq-32b-fp8-validation-100tok-top3.json": ("openai_chat", 100, 3),
    "llamacpp/llamacpp-b6488-completion-stream-qwen3-cyrillic-partial-utf8.sse.jsonl": (
        "llamacpp",
        3,
        10,
    ),
    "llamacpp/ikllamacpp-completion-stream-oldform-byte-tokens.sse.jsonl": ("llamacpp", 3, 10),
    "llamacpp/ikllamacpp-b66cecc-completion-stream-oldform-prob-1-0.sse.jsonl": ("llamacpp", 3, 10),
    "llamacpp/ikllamacpp-chat-stream-oai-logprobs-with-id.sse.jsonl": ("openai_chat_stream", 3, 5),
}

#: The one file whose provider text (the stream events' text) is not the tokens' text: the old
#: form reports the token "byte: \\x89" while the event shows the server's merged " щ" (quirk 8);
#: its ``text`` is the provider's, "овые щё", and the difference is flagged (``text_differs``).
TEXT_DIFFERS = {"llamacpp/ikllamacpp-b66cecc-completion-stream-oldform-prob-1-0.sse.jsonl"}


def _corpus_path(rel: str) -> Path:
    """The corpus file ``rel``; fails (never skips) when it or the whole corpus is missing."""
    if not CORPUS.is_dir():
        pytest.fail(f"the corpus folder {CORPUS} is missing: check out ../shared beside the repo")
    path = CORPUS / rel
    if not path.is_file():
        pytest.fail(f"corpus file {rel} is missing from {CORPUS} (SOURCES.md lists it)")
    return path


def _check(rel: str, path: Path) -> None:
    fmt, n, k = EXPECTED[rel]
    traces = tracesite.load(path)
    assert len(traces) == 1
    t = traces[0]
    assert (t.meta.format, t.n_tokens, t.stats.top_k) == (fmt, n, k)
    assert t.meta.source == str(path) and t.meta.index == 0
    codes = {f.code for f in data_flags(t)}
    if rel in TEXT_DIFFERS:
        # the provider's text is the text; the tokens' own spelling is kept, the difference flagged
        assert t.meta.provider_text is not None and t.meta.provider_text != t.token_text
        assert t.text == t.meta.provider_text and "text_differs" in codes
    elif not rel.endswith("logprobsResult.json"):  # a bare logprobsResult carries no text
        assert t.meta.provider_text is not None
        assert t.text == t.meta.provider_text == t.token_text
        assert "text_differs" not in codes  # special tokens left out on both sides


@pytest.mark.parametrize("rel", sorted(str(p.relative_to(FIXTURES)) for p in all_fixture_files()))
def test_every_fixture_file_reads_as_sources_md_says(rel: str) -> None:
    _check(rel, FIXTURES / rel)


@pytest.mark.parametrize("rel", sorted(EXPECTED))
def test_every_corpus_file_reads_as_sources_md_says(rel: str) -> None:
    _check(rel, _corpus_path(rel))


def test_no_corpus_file_is_left_out() -> None:
    _corpus_path("SOURCES.md")
    files = all_corpus_files()
    assert sorted(str(p.relative_to(CORPUS)) for p in files) == sorted(EXPECTED)
    assert len(files) == 34


def test_docs_quirk_table_names_real_tests_for_all_21_quirks() -> None:
    """docs/formats.md maps each SOURCES.md quirk to the tests that cover it; keep it true."""
    import re

    repo = FIXTURES.parents[2]
    docs = (repo / "docs" / "formats.md").read_text(encoding="utf-8")
    table = docs.split("## Quirks", 1)[1]
    rows = [ln for ln in table.splitlines() if re.match(r"\| \d+ \|", ln)]
    assert [int(r.split("|")[1]) for r in rows] == list(range(1, 22))
    defined = set()
    for path in (repo / "tests").glob("test_*.py"):
        defined |= set(re.findall(r"^def (test_\w+)", path.read_text(encoding="utf-8"), re.M))
    for row in rows:
        named = re.findall(r"`(test_\w+)`", row)
        assert named, row
        missing = [n for n in named if n not in defined]
        assert not missing, f"quirk {row.split('|')[1].strip()}: no such test {missing}"
