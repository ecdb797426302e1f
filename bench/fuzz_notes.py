"""Coverage-guided fuzzing of the note reader with atheris (libFuzzer for Python).

The contract (SPEC §13, issue 17): on any text, :func:`tracesite.site.notes.read_note` either
returns a note or raises :class:`tracesite.core.errors.NoteError` with the file and, where the
note has one, a line; nothing else escapes, and no script URL survives the neutraliser in the
note's HTML. The input is the note's bytes: libFuzzer evolves them from seeds that hold front
matter of every kind (dates, tags, highlights, aliases, YAML tags), Markdown of every construct
(links, footnotes, tables, raw HTML, ```` ```trace ```` blocks) and the pathological shapes
issue 17 found.

Run (bounded; crashes are written as ``crash-*`` files under the artifact prefix)::

    python bench/fuzz_notes.py --write-seeds /tmp/fuzz-notes/corpus
    python bench/fuzz_notes.py -max_total_time=60 -artifact_prefix=/tmp/fuzz-notes/ \\
        /tmp/fuzz-notes/corpus

tests/test_fuzz_notes.py runs it for a fixed number of inputs (marked slow).
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["tracesite", "yaml", "markdown"]):
    from tracesite.core.errors import NoteError
    from tracesite.site import mdlimits
    from tracesite.site.notes import read_note
    from tracesite.site.scripturls import dangerous, each_attribute, neutralise_script_links

SEEDS: dict[str, bytes] = {
    "full.md": b"---\ntitle: Where it hesitated\ndescription: one line\ntags: [a, B, c-d]\n"
    b"date: 2024-05-01\nhighlight:\n  - {from: 2, to: 4, label: carry}\ndraft: false\n"
    b"model: m\nprompt: p\ngroup: g\nprovenance: {engine: vllm, sampling: {t: 1}}\n---\n"
    b"# Title\n\nText with [a link](other.md), ![img](x.png), `code`, *em* and **strong**.\n\n"
    b"| a | b |\n|---|---|\n| 1 | 2 |\n\n```python\nprint(1)\n```\n\n"
    b"```trace\nsrc: run.json\npositions: 1-3\n```\n\nA note[^1].\n\n[^1]: The footnote.\n",
    "aliases.md": b"---\nbase: &b {from: 1, to: 2}\nhighlight: [*b, *b]\ntags: &t [x]\n"
    b"extra: *t\n<<: {title: merged}\n---\nbody\n",
    "yaml-tags.md": b"---\ntitle: !!str 5\ndate: !!timestamp 2024-01-01\nx: !!binary aGk=\n"
    b"y: !!float 1e5\nz: !!int 0x1f\n---\n",
    "bad-dates.md": b"---\ndate: 2024-02-30\ncreated: 2024-01-01 25:00:00\n---\n",
    "raw-html.md": b"<div class=x>\n<a href='javascript:alert(1)'>a</a>\n</div>\n\n"
    b"<svg><a xlink:href=javascript:alert(1)>b</a></svg> <!--> <a href=javascript:c>c</a> -->\n"
    b"\\<img src=x onerror=alert(1)>\n",
    "nesting.md": b"> > > quote\n\n- a\n    - b\n        - c\n\n1. 1. 1. x\n\n[[[x]]]\n",
    "entities.md": b"&#106;avascript: &amp; &lt;b&gt; &#xD800; &#0; \\* \\[ \\<\n",
    "setext.md": b"Title\n=====\n\nSub\n---\n\n***\n\n<http://example.com> [ref][r]\n\n"
    b"[r]: http://example.com 'title'\n",
}


def check(data: bytes) -> None:
    """A note either reads or is a NoteError naming the file; its HTML has no script URL."""
    text = data.decode("utf-8", "replace")
    try:
        note = read_note(Path("fuzz.md"), text)
    except NoteError as exc:
        assert exc.path == "fuzz.md", exc
        assert "\n" not in str(exc), str(exc)
        return
    html, _ = neutralise_script_links(note.html)
    for raw_text in (True, False):
        left = [a for a in each_attribute(html, raw_text=raw_text) if dangerous(a)]
        assert not left, left


def main(argv: list[str]) -> None:
    mdlimits.MARKDOWN_SECONDS = 2.0  # libFuzzer's -timeout is the backstop beyond this
    atheris.Setup(argv, check)
    atheris.Fuzz()


if __name__ == "__main__":
    if "--write-seeds" in sys.argv:  # python bench/fuzz_notes.py --write-seeds DIR
        folder = Path(sys.argv[sys.argv.index("--write-seeds") + 1])
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in SEEDS.items():
            (folder / name).write_bytes(data)
        raise SystemExit(0)
    main(sys.argv)
