"""``tracesite inspect``: the table, ``--json`` (SPEC §4 keys), and bad files."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from formats_helpers import chat_response, entry, fixture
from tracesite.commands.inspect import run_inspect, visible

SPEC_KEYS = {
    "source",
    "index",
    "format",
    "n_tokens",
    "top_k",
    "mean_prob",
    "perplexity",
    "min_prob",
    "n_unknown",
    "n_outside_top_k",
    "text",
    "model",
    "finish_reason",
    # SPEC §15: channels, rollout metadata, provenance and the data checks
    "channels",
    "channel_stats",
    "group",
    "scalars",
    "provenance",
    "flags",
}
Cli = Callable[..., subprocess.CompletedProcess[str]]
PIZZA = "openai_chat/gpt-4o-mini-pizza-844tok-top3.json"


def inspect(files: list[str], as_json: bool) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run_inspect(files, as_json=as_json, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_json_output_has_the_spec_keys_and_values(cli: Cli, tmp_path: Path) -> None:
    shutil.copy(fixture(PIZZA), tmp_path / "pizza.json")
    result = cli("inspect", "--json", "pizza.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout)
    assert set(row) == SPEC_KEYS
    content = json.loads((tmp_path / "pizza.json").read_text(encoding="utf-8"))["choices"][0][
        "message"
    ]["content"]
    assert row["source"] == "pizza.json" and row["index"] == 0  # path as given
    assert (row["format"], row["model"], row["finish_reason"]) == (
        "openai_chat",
        "gpt-4o-mini-2024-07-18",
        "stop",
    )
    assert (row["n_tokens"], row["top_k"], row["n_unknown"], row["n_outside_top_k"]) == (
        844,
        3,
        1,
        43,
    )
    assert 0 < row["min_prob"] < row["mean_prob"] < 1 and row["perplexity"] > 1
    assert row["text"] == content


def test_table_has_one_row_per_trace_and_the_text(cli: Cli) -> None:
    files = [str(fixture(PIZZA)), str(fixture("tgi_generate/deepseek-v2-eos-fullwidth.json"))]
    result = cli("inspect", *files)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:4] == ["FILE", "#", "FORMAT", "MODEL"]
    assert "OUTSIDE" in lines[0] and "PPL" in lines[0]
    rows = [ln for ln in lines[1:] if not ln.startswith("    ")]
    texts = [ln for ln in lines[1:] if ln.startswith("    ")]
    assert len(rows) == len(texts) == 2
    assert "openai_chat" in rows[0] and " 844 " in rows[0] and " 43 " in rows[0]
    assert texts[0].startswith("    The best pizza toppings") and "characters)" in texts[0]  # cut
    assert texts[1] == "     sent successfully."  # short text shown whole


def test_bad_file_is_reported_and_the_others_still_are(cli: Cli, tmp_path: Path) -> None:
    bad = chat_response([entry("a", -0.1) for _ in range(20)])
    bad["choices"][0]["logprobs"]["content"][17]["logprob"] = "abc"
    (tmp_path / "run3.json").write_text(json.dumps(bad), encoding="utf-8")
    shutil.copy(fixture("gemini/vertex-gemini-2.5-flash-hello-top2.json"), tmp_path / "ok.json")
    (tmp_path / "notes.md").write_text("# hi\n", encoding="utf-8")
    result = cli(
        "inspect", "--json", "run3.json", "ok.json", "notes.md", "missing.json", cwd=tmp_path
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        'run3.json: $.choices[0].logprobs.content[17].logprob: expected a number, got "abc"',
        "notes.md: line 1: not valid JSON: Expecting value (column 1)",
        "missing.json: cannot read file: No such file or directory",
    ]
    assert [r["source"] for r in json.loads(result.stdout)] == ["ok.json"]
    assert "Traceback" not in result.stderr


def test_several_traces_in_one_file_are_indexed(tmp_path: Path) -> None:
    lines = [
        json.dumps({"tracesite": 1, "model": f"m{i}", "tokens": [{"text": "x", "logprob": -0.1}]})
        for i in range(3)
    ]
    (tmp_path / "many.jsonl").write_text("\n".join(lines), encoding="utf-8")
    code, out, _ = inspect([str(tmp_path / "many.jsonl")], as_json=True)
    assert code == 0
    assert [(r["index"], r["model"]) for r in json.loads(out)] == [(0, "m0"), (1, "m1"), (2, "m2")]


def test_untrusted_text_cannot_drive_the_terminal(tmp_path: Path) -> None:
    evil = "\x1b[2J\x1b]0;pwned\x07</script>\u202e\u009b31m\nend"
    doc = {"tracesite": 1, "model": "\x1b[31mred", "tokens": [{"text": evil, "logprob": -0.1}]}
    (tmp_path / "evil.json").write_text(json.dumps(doc), encoding="utf-8")
    code, out, _ = inspect([str(tmp_path / "evil.json")], as_json=False)
    assert code == 0
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out and "\u009b" not in out
    assert "\\x1b[2J" in out and "</script>" in out and "↵end" in out
    code, out, _ = inspect([str(tmp_path / "evil.json")], as_json=True)
    assert "\x1b" not in out and "\u009b" not in out and "\u202e" not in out
    assert json.loads(out)[0]["text"] == evil  # the JSON still carries the exact text


def test_errors_on_stderr_are_escaped_too(tmp_path: Path) -> None:
    (tmp_path / "e.json").write_text(json.dumps({"\x1b[31mkey": 1}), encoding="utf-8")
    code, _, err = inspect([str(tmp_path / "e.json")], as_json=False)
    assert code == 1 and "\x1b" not in err and "not a trace format tracesite knows" in err


@pytest.mark.parametrize("text", ["a\tb", "\u200b", "\ufeff", "\u2028"])
def test_visible_shows_invisible_characters(text: str) -> None:
    shown = visible(text)
    assert shown != text and shown.isprintable()
