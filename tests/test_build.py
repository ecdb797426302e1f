"""End-to-end builds of small projects: the real command, the HTML parsed."""

from __future__ import annotations

import json
import re
from pathlib import Path

from conftest import native_trace
from htmlcheck import parse

NOTE = """---
title: "A run worth a note"
description: Where the model hesitated.
tags: [reasoning, arithmetic]
date: 2024-05-01
highlight:
  - {from: 3, to: 6, label: "the hesitation"}
---
# Heading one

A table:

| a | b |
|---|---|
| 1 | 2 |

```python
x = 1  # highlighted
```

A footnote[^1].

## Second heading

[^1]: the footnote text.
"""


def test_build_writes_the_whole_site(make_project, cli):
    proj = make_project(
        {
            "content/run1.json": native_trace(40, seed=1),
            "content/run1.md": NOTE,
            "content/evals/run2.json": native_trace(25, seed=2),
            "content/about.md": "---\ntitle: About us\n---\nHello **there**.\n",
            "content/img/figure.png": b"\x89PNG fake",
        }
    )
    r = cli("build", cwd=proj)
    assert r.returncode == 0, r.stderr
    site = proj / "site"
    for rel in (
        "index.html",
        "traces/run1/index.html",
        "traces/evals/run2/index.html",
        "about/index.html",
        "tags/index.html",
        "tags/reasoning/index.html",
        "404.html",
        ".nojekyll",
        "assets/search-index.js",
        "img/figure.png",
    ):
        assert (site / rel).is_file(), rel
    assert not (site / "sitemap.xml").exists()  # base_url "/" is not absolute
    bokeh = list(site.glob("assets/bokeh-*/*.js"))
    assert bokeh, "BokehJS copied once into a versioned folder"
    # the one-line summary
    assert re.search(r"2 traces, \d+ pages, 0 warnings, 0 errors in [\d.]+ s", r.stderr)

    page = parse(site / "traces/run1/index.html")
    assert "A run worth a note" in page.all_text
    assert "the footnote text." in page.all_text
    assert page.find_all("table"), "Markdown tables"
    assert any("highlight" in (e.attrs.get("class") or "") for e in page.find_all("div"))
    assert page.find_all("a", href="#pos-3"), "highlight span listed as a link"
    # BokehJS loaded by relative path, never a CDN, never inlined per page
    srcs = [e.attrs["src"] for e in page.find_all("script") if e.attrs.get("src")]
    assert any(s.startswith("../../assets/bokeh-") for s in srcs)
    assert not any(s.startswith("http") for s in srcs)
    assert max(len(s) for s in page.scripts) < 200_000
    # previous / next
    assert page.find_all("a", rel="prev") or page.find_all("a", rel="next")

    index = parse(site / "index.html")
    cards = index.find_all("article")
    assert {c.attrs["data-url"] for c in cards} == {
        "traces/run1/index.html",
        "traces/evals/run2/index.html",
    }
    assert "A run worth a note" in index.all_text
    assert any("spark" in (e.attrs.get("class") or "") for e in index.find_all("svg"))


def test_sections_sorting_and_search_index(make_project, cli):
    proj = make_project(
        {
            "content/b.json": native_trace(10, seed=1),
            "content/a.json": native_trace(10, seed=2),
            "content/evals/c.json": native_trace(10, seed=3),
        }
    )
    assert cli("build", cwd=proj).returncode == 0
    index = parse(proj / "site/index.html")
    urls = [c.attrs["data-url"] for c in index.find_all("article")]
    assert urls == ["traces/a/index.html", "traces/b/index.html", "traces/evals/c/index.html"]
    sections = [
        s.attrs["data-section"] for s in index.find_all("section") if "data-section" in s.attrs
    ]
    assert sections == ["", "evals"]
    js = (proj / "site/assets/search-index.js").read_text()
    data = json.loads(js.split("=", 1)[1].strip().rstrip(";"))
    assert [d["u"] for d in data] == urls


def test_several_traces_in_one_file_get_numbered_pages(make_project, cli):
    lines = "\n".join(json.dumps(native_trace(8, seed=s)) for s in range(3))
    proj = make_project({"content/batch.jsonl": lines})
    r = cli("build", cwd=proj)
    assert r.returncode == 0, r.stderr
    for i in (1, 2, 3):
        assert (proj / f"site/traces/batch-{i}/index.html").is_file()


def test_two_sources_for_one_url_is_an_error_naming_both(make_project, cli):
    proj = make_project(
        {"content/run.json": native_trace(5), "content/run.jsonl": json.dumps(native_trace(6))}
    )
    r = cli("build", cwd=proj)
    assert r.returncode == 1
    assert (
        "run.json" in r.stderr and "run.jsonl" in r.stderr and "traces/run/index.html" in r.stderr
    )


def test_broken_files_fail_only_themselves(make_project, cli):
    proj = make_project(
        {
            "content/good.json": native_trace(10),
            "content/bad.json": '{"tracesite": 1, "tokens": [{"text": "a", "logprob": "abc"}]}',
            "content/bad-note.json": native_trace(10, seed=3),
            "content/bad-note.md": "---\ntitle: x\nfoo: bar: baz\n---\nbody\n",
            "content/page.md": "# A page\n",
        }
    )
    r = cli("build", cwd=proj)
    assert r.returncode == 1
    assert "content/bad.json: $.tokens[0].logprob: expected a number" in r.stderr
    assert re.search(
        r"content/bad-note\.md:3: front matter: mapping values are not allowed", r.stderr
    )
    assert "Traceback" not in r.stderr
    assert (proj / "site/traces/good/index.html").is_file()
    # A standalone page's URL comes from its file name (content/page.md), never its title.
    assert "A page" in (proj / "site/page/index.html").read_text(encoding="utf-8")
    assert not (proj / "site/a-page").exists()


def test_config_errors_name_file_and_key(make_project, cli):
    proj = make_project(
        {
            "tracesite.toml": '[site]\ntitle = 3\n[heatmap]\ncolumns = "x"\nfoo = 1\n[nope]\n',
            "content/a.json": native_trace(5),
        }
    )
    r = cli("build", cwd=proj)
    assert r.returncode == 1
    assert "tracesite.toml: site.title: expected a string, got 3" in r.stderr
    assert "tracesite.toml: heatmap.columns: expected an integer" in r.stderr
    assert "heatmap.foo: unknown key" in r.stderr
    assert "nope: unknown table" in r.stderr


def test_config_is_applied(make_project, cli):
    proj = make_project(
        {
            "tracesite.toml": '[site]\ntitle = "My <gallery>"\nbase_url = "https://me.github.io/repo/"\n'
            '[build]\noutput_dir = "public"\n[heatmap]\ncolumns = 10\n',
            "content/a.json": native_trace(5),
        }
    )
    r = cli("build", cwd=proj)
    assert r.returncode == 0, r.stderr
    index = (proj / "public/index.html").read_text()
    assert "My &lt;gallery&gt;" in index
    sitemap = (proj / "public/sitemap.xml").read_text()
    assert "<loc>https://me.github.io/repo/traces/a/</loc>" in sitemap


def test_strict_fails_on_warnings(make_project, cli):
    proj = make_project(
        {"content/a.json": native_trace(5), "content/a.md": "---\ntitel: typo\n---\nx\n"}
    )
    r = cli("build", cwd=proj)
    assert r.returncode == 0
    assert "unknown key 'titel'" in r.stderr
    r = cli("build", "--strict", cwd=proj)
    assert r.returncode == 1


def test_drafts_are_left_out(make_project, cli):
    proj = make_project(
        {
            "content/a.json": native_trace(5),
            "content/a.md": "---\ndraft: true\n---\nx\n",
            "content/b.json": native_trace(5),
        }
    )
    assert cli("build", cwd=proj).returncode == 0
    assert not (proj / "site/traces/a").exists()
    assert (proj / "site/traces/b/index.html").is_file()


def test_trace_block_embeds_a_slice_and_cannot_escape_content(make_project, cli):
    proj = make_project(
        {
            "content/a.json": native_trace(50),
            "content/essay.md": "# Essay\n\n```trace\nsrc: a.json\npositions: 10-20\n```\n",
            "content/evil.md": "# Evil\n\n```trace\nsrc: ../tracesite.toml\n```\n",
            "tracesite.toml": "",
        }
    )
    r = cli("build", cwd=proj)
    assert r.returncode == 1
    assert (
        "content/evil.md:3: trace block: src '../tracesite.toml' is outside the content folder"
        in r.stderr
    )
    essay = (proj / "site/essay/index.html").read_text()
    assert "positions 10–20" in essay
    assert "assets/bokeh-" in essay  # the page loads BokehJS for its embed


def _site_files(site: Path) -> dict[str, tuple[bytes, int, int]]:
    """Every file of a built site: its bytes, inode and mtime_ns (an atomic replace changes the
    inode, a write in place the mtime)."""
    files = {}
    for path in sorted(site.rglob("*")):
        if path.is_file():
            st = path.stat()
            files[str(path.relative_to(site))] = (path.read_bytes(), st.st_ino, st.st_mtime_ns)
    return files


def test_removed_trace_disappears_and_unchanged_files_are_not_rewritten(make_project, cli):
    traces = {f"content/{n}.json": native_trace(5 + i, seed=i) for i, n in enumerate("abc")}
    proj = make_project(traces)
    site = proj / "site"
    assert cli("build", cwd=proj).returncode == 0
    before = _site_files(site)
    (proj / "content/a.json").unlink()
    r = cli("build", cwd=proj)
    assert r.returncode == 0, r.stderr
    assert not (proj / "site/traces/a").exists()
    after = _site_files(site)
    # b's page lost its "prev" link to a; c's page and the shared assets are byte for byte the
    # same, and a file whose bytes did not change must not have been written again at all.
    same = sorted(rel for rel in after if rel in before and after[rel][0] == before[rel][0])
    assert "traces/c/index.html" in same and "404.html" in same
    assert any(rel.startswith("assets/bokeh-") for rel in same)
    assert "traces/b/index.html" not in same
    rewritten = [rel for rel in same if after[rel][1:] != before[rel][1:]]
    assert rewritten == [], f"unchanged files written again: {rewritten}"
    # The probe sees a rewrite: c's page, changed, is written (new inode or mtime).
    (proj / "content/c.json").write_text(json.dumps(native_trace(9, seed=9)), encoding="utf-8")
    assert cli("build", cwd=proj).returncode == 0
    page_c = _site_files(site)["traces/c/index.html"]
    assert page_c[0] != after["traces/c/index.html"][0]
    assert page_c[1:] != after["traces/c/index.html"][1:]


def test_refuses_dangerous_output_folders(make_project, cli, tmp_path):
    proj = make_project({"content/a.json": native_trace(5)})
    r = cli("build", "-o", str(proj), cwd=proj)
    assert r.returncode == 1 and "refusing" in r.stderr
    r = cli("build", "-o", str(proj / "content"), cwd=proj)
    assert r.returncode == 1 and "refusing" in r.stderr
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "precious.txt").write_text("keep me")
    r = cli("build", "--clean", "-o", str(foreign), cwd=proj)
    assert r.returncode == 1 and "not written by tracesite" in r.stderr
    assert (foreign / "precious.txt").read_text() == "keep me"


def test_theme_override_extends_the_builtin_template(make_project, cli):
    proj = make_project(
        {
            "content/a.json": native_trace(5),
            "themes/default/templates/index.html": '{% extends "default:index.html" %}'
            '{% block content %}<p id="custom">custom index</p>{{ super() }}{% endblock %}',
        }
    )
    r = cli("build", cwd=proj)
    assert r.returncode == 0, r.stderr
    index = parse(proj / "site/index.html")
    assert index.find_all("p", id="custom")
    assert index.find_all("article"), "the built-in content is still there"


def test_template_errors_are_reported_not_raised(make_project, cli):
    proj = make_project(
        {
            "content/a.json": native_trace(5),
            "themes/default/templates/tags.html": "{{ page.no_such_field }}",
        }
    )
    r = cli("build", cwd=proj)
    assert r.returncode == 1
    assert "no_such_field" in r.stderr and "Traceback" not in r.stderr


# Bokeh's model ids ("p1234"), document uuids, and the heatmap's random element ids
_BOKEH_IDS = re.compile(r"(p\d{3,}|[0-9a-f]{8,}(?:-[0-9a-f]{4,})*)")


def test_same_site_whatever_the_jobs(make_project, cli, tmp_path):
    files = {f"content/t{i:02d}.json": native_trace(20, seed=i) for i in range(10)}
    files["content/t03.md"] = "---\ntags: [x]\n---\nnote\n"
    proj = make_project(files)
    outs = []
    for jobs in ("1", "2"):
        out = tmp_path / f"out{jobs}"
        # a fresh cache each time, so both builds really render
        r = cli("build", "--jobs", jobs, "-o", str(out), cwd=proj)
        assert r.returncode == 0, r.stderr
        for cache in proj.glob(".tracesite-cache"):
            import shutil

            shutil.rmtree(cache)
        outs.append(out)
    names = [sorted(p.relative_to(o).as_posix() for p in o.rglob("*") if p.is_file()) for o in outs]
    assert names[0] == names[1]
    assert "traces/t09/index.html" in names[0]
    for rel in names[0]:
        if rel == ".tracesite-build":
            continue
        a, b = ((o / rel).read_bytes() for o in outs)
        if rel.endswith(".html"):
            a = _BOKEH_IDS.sub("ID", a.decode()).encode()
            b = _BOKEH_IDS.sub("ID", b.decode()).encode()
        assert a == b, rel


def test_python_api_build_from_a_script_without_main_guard(make_project):
    """Worker processes must not re-run a user's script (spawn would, without a main guard)."""
    import subprocess
    import sys

    proj = make_project({f"content/t{i:02d}.json": native_trace(10, seed=i) for i in range(12)})
    script = (
        "from pathlib import Path\n"
        "from tracesite.build.pipeline import build_project, BuildOptions\n"
        "print('RUN')\n"
        f"r = build_project(Path({str(proj)!r}), BuildOptions(quiet=True, jobs=2))\n"
        "print('OK', r.ok, r.n_traces, r.rendered)\n"
    )
    r = subprocess.run(
        [sys.executable, "-"], input=script, capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["RUN", "OK", "True", "12", "12"]


def test_a_trace_page_weighs_at_most_100_bytes_per_token(make_project, cli):
    """SPEC §12: a 1,000-token top-5 trace page, without the shared BokehJS, <= 100 B/token."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    import synth  # realistic distributions: the benchmarks' generator

    proj = make_project({"content/t.json": synth.openai_json(7, 1000, 5)})
    r = cli("build", cwd=proj)
    assert r.returncode == 0, r.stderr
    page = proj / "site/traces/t/index.html"
    size = page.stat().st_size
    assert size / 1000 <= 100, f"{size / 1000:.1f} bytes per token"
    assert "assets/bokeh-" in page.read_text() and size < 200_000  # BokehJS linked, not inlined
