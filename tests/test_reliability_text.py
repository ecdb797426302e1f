"""Issue 17, points 1 and 3: one bad value fails only its file; untrusted text stays text.

- lone surrogates (front matter, trace metadata, file names that are not UTF-8) never break a
  page, their neighbours' pages or the index;
- the script-URL neutraliser holds in every quoting form, in notes and the gallery intro;
  ``\\<img ...>`` is text;
- terminal output: control characters escaped, one error one line.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import native_trace
from htmlcheck import parse
from tracesite.build.pipeline import BuildOptions, build_project
from tracesite.core.errors import NoteError, TracesiteError
from tracesite.core.safetext import safe_text, terminal_text, utf8
from tracesite.site.links import rewrite_links
from tracesite.site.notes import read_note
from tracesite.site.scripturls import neutralise_script_links

CLI = Callable[..., subprocess.CompletedProcess[str]]


# -- surrogates -------------------------------------------------------------------------------------


def test_safe_text_shows_lone_surrogates_as_codes() -> None:
    assert safe_text("a\ud800b\udce9") == "a⟨U+D800⟩b⟨U+DCE9⟩"
    assert safe_text("plain ✓") == "plain ✓"
    assert utf8("x\ud83d") == "x⟨U+D83D⟩".encode()


def test_front_matter_surrogates_are_shown_as_codes(tmp_path: Path) -> None:
    note = tmp_path / "n.md"
    note.write_text(
        '---\ntitle: "t \\ud800"\ntags: ["\\udc00x", ok]\nmodel: "m\\udfff"\n---\nbody\n',
        encoding="utf-8",
    )
    n = read_note(note)
    assert n.title == "t ⟨U+D800⟩"
    assert n.tags == ("⟨U+DC00⟩x", "ok")
    assert n.overrides["model"] == "m⟨U+DFFF⟩"


def test_a_surrogate_in_one_note_breaks_no_other_page(make_project: Callable[..., Path]) -> None:
    proj = make_project(
        {
            "content/good.json": native_trace(8, seed=1),
            "content/bad.json": native_trace(8, seed=2),
            "content/bad.md": '---\ntitle: "bad \\ud800"\ntags: ["\\udc00"]\n---\nbody\n',
        }
    )
    result = build_project(proj, BuildOptions(jobs=1, quiet=True))
    assert result.errors == [], [str(e) for e in result.errors]
    for page in ("index.html", "traces/good/index.html", "traces/bad/index.html"):
        assert (proj / "site" / page).is_file()
    assert "bad ⟨U+D800⟩" in " ".join(parse(proj / "site/index.html").text)


def _surrogate_project(make_project: Callable[..., Path]) -> Path:
    proj = make_project(
        {
            "content/good.json": native_trace(8, seed=1),
            # json.dumps escapes it: "\ud800x", valid JSON, no valid UTF-8 form
            "content/model.json": native_trace(8, seed=2, model="\ud800x", prompt="p\udfff"),
        }
    )
    bad_name = os.fsencode(proj / "content") + b"/caf\xe9.json"
    with open(bad_name, "w", encoding="utf-8") as fh:
        json.dump(native_trace(8, seed=3), fh)
    return proj


def test_surrogates_in_metadata_and_file_names_fail_no_page(
    make_project: Callable[..., Path],
) -> None:
    """Needs site/pages.py's Renderer.render to encode with core.safetext.utf8 (the lead's)."""
    proj = _surrogate_project(make_project)
    result = build_project(proj, BuildOptions(jobs=1, quiet=True))
    assert [str(e) for e in result.errors] == []
    index = " ".join(parse(proj / "site/index.html").text)
    assert "caf⟨U+DCE9⟩.json" in index
    assert (proj / "site/traces/good/index.html").is_file()
    model_page = " ".join(parse(proj / "site/traces/model/index.html").text)
    assert "⟨U+D800⟩x" in model_page


# -- the script-URL neutraliser ---------------------------------------------------------------------

SCRIPT_FORMS = [
    '<a href="javascript:alert(1)">x</a>',
    "<a href='javascript:alert(1)'>x</a>",
    "<a href=javascript:alert(1)>x</a>",
    '<a href = "javascript:alert(1)">x</a>',
    "<a\nhref\n=\njavascript:alert(1)>x</a>",
    "<A HREF=' JaVaScRiPt:alert(1)'>x</A>",
    '<a href="&#106;avascript:alert(1)">x</a>',
    "<a href=&#x6A;&#x61;vascript&colon;alert(1)>x</a>",
    '<a href="java&#x09;script:alert(1)">x</a>',
    "<a href=java&Tab;script:alert(1)>x</a>",
    '<a href="java\nscript:alert(1)">x</a>',
    '<a/href="javascript:alert(1)">x</a>',
    '<a title="x>y" href=javascript:alert(1)>x</a>',
    '<iframe src="data:text/html,<script>alert(1)</script>"></iframe>',
    "<iframe src=data:image/svg+xml,x></iframe>",
    "<object data=javascript:alert(1)></object>",
    "<form action=javascript:alert(1)><button formaction='javascript:alert(1)'>b</button></form>",
    '<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>',
    "<svg><animate attributeName=href to=javascript:alert(1) /></svg>",
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    "<a href='vbscript:msgbox(1)'>x</a>",
    "<!--> <a href=javascript:alert(1)>x</a> -->",
    "<!-- x --!> <a href=javascript:alert(1)>x</a>",
    "<svg><style><a href=javascript:alert(1)>x</a></style></svg>",
    "<script><!--</script><a href=javascript:alert(1)>x</a>-->",
    "<!-- <p title=' -->  <a href=javascript:alert(1)>x</a> '> -->",
]


def _script_urls(html: str) -> list[str]:
    """What a browser would follow: every URL attribute value, entities decoded."""
    from tracesite.site.scripturls import dangerous, each_attribute

    return [
        f"{a.tag} {a.name}={a.value}"
        for raw_text in (True, False)
        for a in each_attribute(html, raw_text=raw_text)
        if dangerous(a)
    ]


@pytest.mark.parametrize("html", SCRIPT_FORMS)
def test_no_script_url_survives_in_any_form(html: str) -> None:
    out, removed = neutralise_script_links(html)
    assert removed, html
    assert _script_urls(out) == [], out
    low = out.lower()
    assert "javascript:" not in low.replace("\n", "") and "data:text" not in low, out


@pytest.mark.parametrize(
    "html",
    [
        '<a href="https://example.com/">x</a>',
        '<img src="data:image/png;base64,AAAA">',
        '<p title="javascript: the language">x</p>',
        "<pre><code>&lt;a href=&quot;javascript:void(0)&quot;&gt;</code></pre>",
    ],
)
def test_harmless_html_is_left_as_it_is(html: str) -> None:
    assert neutralise_script_links(html) == (html, [])


def test_rewrite_links_warns_for_each_removal(tmp_path: Path) -> None:
    from tracesite.core.errors import Diagnostics

    note_file = tmp_path / "n.md"
    note_file.write_text(
        "[a](javascript:alert(1))\n\n<a href='javascript:alert(2)'>b</a>\n\n"
        "<!--> <a href=javascript:alert(3)>c</a> -->\n",
        encoding="utf-8",
    )
    note = read_note(note_file)
    diag = Diagnostics()
    html = rewrite_links(note, "page/index.html", {}, diag, "content/n.md")
    assert _script_urls(html) == []
    assert len(diag.warnings) == 3
    assert all("javascript: URL removed" in str(w) for w in diag.warnings)


def test_the_gallery_intro_goes_through_the_neutraliser(make_project: Callable[..., Path]) -> None:
    proj = make_project(
        {
            "content/good.json": native_trace(8, seed=1),
            "content/index.md": (
                "Intro: <a href='javascript:alert(1)'>one</a>, <a href=javascript:alert(2)>two</a>,"
                ' [three](javascript:alert(3)) and <a href="good.md">a note</a>.\n'
            ),
        }
    )
    result = build_project(proj, BuildOptions(jobs=1, quiet=True))
    html = (proj / "site/index.html").read_text(encoding="utf-8")
    assert "Intro:" in html
    assert _script_urls(html) == []
    assert "javascript:" not in html.lower()
    assert sum("javascript: URL removed" in str(w) for w in result.warnings) == 3


@pytest.mark.parametrize(
    "body",
    [
        r"\<img src=x onerror=alert(1)>",
        r"text \<img src=x onerror=alert(1)> text",
        r"\<script>alert(1)\</script>",
        "* \\<img src=x onerror=alert(1)>",
        "| a |\n|---|\n| \\<img src=x onerror=alert(1)> |",
    ],
)
def test_a_backslash_escaped_tag_is_text(body: str, tmp_path: Path) -> None:
    note = tmp_path / "n.md"
    note.write_text(body + "\n", encoding="utf-8")
    html = read_note(note).html
    assert "<img" not in html and "<script" not in html, html
    assert "&lt;" in html


def test_a_heading_title_has_its_escapes_undone(tmp_path: Path) -> None:
    note = tmp_path / "n.md"
    note.write_text("# A \\<b> title #\n\nbody\n", encoding="utf-8")
    assert read_note(note).title == "A <b> title"


# -- terminal output --------------------------------------------------------------------------------


def test_terminal_text_escapes_what_a_terminal_would_act_on() -> None:
    assert terminal_text("a\x1b[31mb\x07c\nd\re\tf") == "a\\x1b[31mb\\x07c\\nd\\re\\tf"
    assert terminal_text("bidi\u202eevil") == "bidi\\u202eevil"
    assert terminal_text("caf\udce9.json") == "caf\\xe9.json"  # a byte of a non-UTF-8 name
    assert terminal_text("ok é ✓") == "ok é ✓"


def test_an_error_is_one_line_whatever_its_file_name() -> None:
    err = TracesiteError("bad\nthing\x1b]0;title\x07", path="content/a\nb\x1b[2J.json")
    assert "\n" not in str(err) and "\x1b" not in str(err) and "\x07" not in str(err)
    assert str(NoteError("m", path="x\n.md", address="3")) == "x\\n.md:3: m"


def test_build_output_holds_no_control_character(
    make_project: Callable[..., Path], cli: CLI
) -> None:
    proj = make_project({"content/good.json": native_trace(8, seed=1)})
    names = ["esc\x1b[31mred.json", "bell\x07.json", "new\nline.json", "bidi\u202egnp.json"]
    for name in names:
        (proj / "content" / name).write_bytes(b"{not json")
    r = cli("build", cwd=proj)
    assert r.returncode == 1
    assert not any(c in r.stderr for c in "\x1b\x07\u202e"), repr(r.stderr)
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("content/")]
    assert len(errors) == len(names), r.stderr  # one line each, the newline name included
    assert any(ln.startswith("content/new\\nline.json: ") for ln in errors), errors
    assert any(ln.startswith("content/esc\\x1b[31mred.json: ") for ln in errors), errors
