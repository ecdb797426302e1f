"""The note reader never raises anything but NoteError, on any front matter or Markdown (SPEC
§13, issue 17), and no script URL survives the neutraliser in what it renders.

Hypothesis builds notes from the pieces that broke builds before: YAML values Python cannot
build, tags on garbage, aliases, deep nesting, surrogates, and Markdown runs of brackets, tags,
list markers and footnotes; ``bench/fuzz_notes.py`` (atheris) mutates whole notes, run here for a
fixed number of inputs (slow).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracesite.core.errors import NoteError
from tracesite.site import mdlimits
from tracesite.site.frontmatter import KNOWN_KEYS
from tracesite.site.notes import read_note
from tracesite.site.scripturls import dangerous, each_attribute, neutralise_script_links

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

YAML_VALUES = [
    "2024-02-30", "2024-13-01", "2024-01-01 25:00:00", "0000-01-01", "2024-01-01T00:00:00+99:00",
    "!!float abc", "!!timestamp x", "!!int 1e5", "!!binary ???", "!!python/name:os.system",
    "1" + "0" * 5000, "1e400", "-.inf", ".nan", "~", "true", "yes please", "'quoted'", '"\\ud800"',
    '"\\0nul"', "&a [*a]", "*nope", "[" * 80 + "]" * 80, "{a: {b: {c: [1, [2, [3]]]}}}",
    "[1, 2, 3]", "{from: 1, to: 2, label: x}", "[{from: 0, to: -3}]", "- a\n  - b", "|\n  block",
    ">\n  folded", "'javascript:alert(1)'", "<script>alert(1)</script>", "? complex\n: key",
    "!!set {a, b}", "!!omap [a: 1]", "[a, *b]", "x\tx", "@bad", "`bad`", "%bad", "a: b: c",
]  # fmt: skip
MD_PIECES = [
    "[", "]", "(", ")", "](", "![", "[^1]", "[^1]: x\n", "<a ", "<a href=javascript:x>", ">",
    "<!--", "-->", "<!-->", "`", "``", "*", "**", "_", "\\", "\\<", "\\[", "#", "# ", "> ", "- ",
    "1. ", "    ", "\n", "\n\n", "  \n", "|", "|---|\n", "```\n", "~~~", "```trace\nsrc: x.json\n```\n",
    "```trace\nsrc: [1\n```\n", "&#106;", "&#xD800;", "&amp;", "<script>", "</script>",
    "<svg><style>", "javascript:", "data:text/html,", "<div>", "</div>", "<![CDATA[", "]]>", "text",
    "\u202e", "\x00", "\ufeff", "---\n", "...\n", "http://x.example/",
]  # fmt: skip

keys = st.sampled_from([*KNOWN_KEYS, "unknown", "<<", "'quoted'", "[a]", "? x"])
values = st.sampled_from(YAML_VALUES) | st.text(max_size=20)
front = st.lists(st.tuples(keys, values), max_size=6).map(
    lambda pairs: "".join(f"{k}: {v}\n" for k, v in pairs)
)
body = st.lists(st.sampled_from(MD_PIECES) | st.text(max_size=10), max_size=60).map("".join)


@pytest.fixture(autouse=True)
def short_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mdlimits, "MARKDOWN_SECONDS", 2.0)


def check(text: str) -> None:
    try:
        note = read_note(Path("fuzz.md"), text)
    except NoteError as exc:
        assert exc.path == "fuzz.md"
        assert "\n" not in str(exc), str(exc)
        assert not exc.address or exc.address.isdigit(), exc.address
        return
    html, _ = neutralise_script_links(note.html)
    for raw_text in (True, False):
        assert [a for a in each_attribute(html, raw_text=raw_text) if dangerous(a)] == []
    for value in (note.title or "", note.description, *note.tags):
        value.encode("utf-8")  # every shown string can be written into a page


@FUZZ
@given(front, body)
def test_notes_with_front_matter(front_matter: str, markdown_body: str) -> None:
    check(f"---\n{front_matter}---\n{markdown_body}")


@FUZZ
@given(body)
def test_markdown_bodies(markdown_body: str) -> None:
    check(markdown_body)


@FUZZ
@given(st.text(max_size=400))
def test_arbitrary_text(text: str) -> None:
    check(text)


@FUZZ
@given(st.sampled_from(MD_PIECES), st.integers(1, 3000))
def test_one_piece_repeated(piece: str, n: int) -> None:
    """The shape of the quadratic inputs: one construct many times on one line."""
    check(piece * n)


FUZZ_RUNS = 10_000


@pytest.mark.slow
def test_atheris_finds_no_note_crash(tmp_path: Path) -> None:
    """bench/fuzz_notes.py for a fixed seed and number of inputs: only NoteError escapes."""
    import importlib.util

    if importlib.util.find_spec("atheris") is None:
        pytest.skip("atheris is not installed: pip install '.[fuzz]' (Linux)")
    harness = Path(__file__).resolve().parents[1] / "bench/fuzz_notes.py"
    corpus = tmp_path / "corpus"
    subprocess.run([sys.executable, str(harness), "--write-seeds", str(corpus)], check=True)
    r = subprocess.run(
        [
            sys.executable,
            str(harness),
            "-seed=20261124",
            f"-runs={FUZZ_RUNS}",
            "-max_total_time=600",
            "-max_len=4096",
            "-timeout=30",
            "-rss_limit_mb=4096",
            f"-artifact_prefix={tmp_path}/",
            str(corpus),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    crashes = sorted(tmp_path.glob("crash-*")) + sorted(tmp_path.glob("timeout-*"))
    assert crashes == [], r.stderr[-3000:]
    assert r.returncode == 0, r.stderr[-3000:]
    assert f"Done {FUZZ_RUNS} runs in " in r.stderr, r.stderr[-2000:]
