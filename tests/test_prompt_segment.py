"""vLLM's prompt_logprobs on the trace page (issue 15.2): the prompt's scored positions shown as a
segment of their own before the generated text, marked as the prompt, and not mixed into the
generated statistics or the heatmap."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tracesite.build import BuildOptions, build_project
from tracesite.commands.render import render_file

HOSTILE = "<img src=x onerror=alert(1)>"


def vllm_completion() -> dict[str, Any]:
    """``/v1/completions`` with ``logprobs: 1, prompt_logprobs: 1`` (vLLM protocol.py
    CompletionResponseChoice): ``null`` for the first prompt token, then per prompt token
    ``{token_id: {logprob, rank, decoded_token}}``."""
    return {
        "id": "cmpl-1",
        "object": "text_completion",
        "created": 1718000000,
        "model": "Qwen/Qwen2.5-0.5B-Instruct",
        "choices": [
            {
                "index": 0,
                "text": " Paris",
                "logprobs": {
                    "text_offset": [0],
                    "token_logprobs": [-0.05],
                    "tokens": [" Paris"],
                    "top_logprobs": [{" Paris": -0.05}],
                },
                "finish_reason": "length",
                "prompt_token_ids": [785, 6864, 315, 9822],
                "prompt_logprobs": [
                    None,
                    {"6864": {"logprob": -7.5, "rank": 312, "decoded_token": f" {HOSTILE}"}},
                    {"315": {"logprob": -0.01, "rank": 1, "decoded_token": " of"}},
                    {"9822": {"logprob": -0.4, "rank": 1, "decoded_token": " France"}},
                ],
            }
        ],
    }


def page_of(tmp_path: Path) -> str:
    content = tmp_path / "content"
    content.mkdir()
    (content / "capital.json").write_text(json.dumps(vllm_completion()), encoding="utf-8")
    result = build_project(tmp_path, BuildOptions(quiet=True, jobs=1))
    assert result.ok, result.errors
    return (tmp_path / "site/traces/capital/index.html").read_text(encoding="utf-8")


def test_the_prompt_is_a_segment_before_the_generated_text_and_out_of_the_statistics(
    tmp_path: Path,
) -> None:
    page = page_of(tmp_path)
    start = page.index('<section class="prompt-panel"')
    assert start < page.index("<h2>Generated text</h2>")  # before the generated text
    segment = page[start : page.index("</section>", start)]
    assert "Prompt" in segment and "not generated" in segment  # marked as the prompt
    spans = re.findall(r"<span id=ptok-(\d+) class=[^>]*>([^<]*)</span>", segment)
    assert [text for _, text in spans][1:] == [
        " &lt;img src=x onerror=alert(1)&gt;",
        " of",
        " France",
    ]
    assert "<img src=x" not in page  # the prompt's tokens are escaped
    assert "4 prompt positions" in segment and "1 without a logprob" in segment
    mean = (0.000553 + 0.99005 + 0.67032) / 3  # exp of the three scored logprobs
    assert f"mean p {mean:.3f}" in segment
    # the generated statistics and the heatmap hold the one generated token only
    assert re.search(r"<th scope=\"row\">Tokens</th><td>1</td>", page)
    assert "id=tok-1 " in page and "id=tok-2 " not in page
    assert "id=ptok-" not in page[page.index("<h2>Generated text</h2>") :]


def test_a_trace_without_prompt_logprobs_has_no_prompt_segment(tmp_path: Path) -> None:
    doc = vllm_completion()
    del doc["choices"][0]["prompt_logprobs"]
    (tmp_path / "plain.json").write_text(json.dumps(doc), encoding="utf-8")
    page = render_file(tmp_path / "plain.json", None).read_text(encoding="utf-8")
    assert '<section class="prompt-panel"' not in page and "<span id=ptok-" not in page


def test_render_shows_the_prompt_segment_too(tmp_path: Path) -> None:
    (tmp_path / "c.json").write_text(json.dumps(vllm_completion()), encoding="utf-8")
    page = render_file(tmp_path / "c.json", None).read_text(encoding="utf-8")
    assert page.index('class="prompt-panel"') < page.index("<h2>Generated text</h2>")
