"""The render cache is never stale, and a rebuild with nothing changed renders nothing.

Builds go through the Python API (``build_project``) so the tests can read ``rendered`` (trace
files rendered rather than taken from ``.tracesite-cache/``) and ``changed`` (site files written).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import time
from pathlib import Path

from conftest import native_trace
from htmlcheck import parse
from tracesite.build.cache import CACHE_DIR
from tracesite.build.pipeline import BuildOptions, BuildResult, build_project

# Bokeh's model ids ("p1234"), document uuids and the heatmap's random element ids differ per render
_RENDER_IDS = re.compile(r"(p\d{3,}|[0-9a-f]{8,}(?:-[0-9a-f]{4,})*)")

# Tokens that stress every step between the renderer and the page: markup, a lone surrogate
# (valid JSON, not valid UTF-8), invisible characters, quotes and backslashes.
TRICKY = [
    "</script><img src=x onerror=alert(1)>",
    "\ud83d",
    "\u00a0",
    "\u200b",
    "\n\n",
    '"quoted" \\ back',
    " café",
]


def build(project: Path) -> BuildResult:
    result = build_project(project, BuildOptions(quiet=True))
    assert result.ok, [str(e) for e in result.errors]
    return result


def pages(site: Path) -> dict[str, str]:
    """Every HTML page of a site, render ids normalised."""
    return {
        p.relative_to(site).as_posix(): _RENDER_IDS.sub("ID", p.read_text(encoding="utf-8"))
        for p in sorted(site.rglob("*.html"))
    }


def flagged(page: Path) -> list[str]:
    """Ids of the text-view tokens flagged as low confidence."""
    return [
        str(e.attrs["id"])
        for e in parse(page).find_all("span")
        if str(e.attrs.get("id", "")).startswith("tok-")
        and "lc" in str(e.attrs.get("class") or "").split()
    ]


def below(trace: dict[str, object], threshold: float) -> list[str]:
    tokens = trace["tokens"]
    assert isinstance(tokens, list)
    return [f"tok-{i + 1}" for i, t in enumerate(tokens) if math.exp(t["logprob"]) < threshold]


def test_a_rebuild_with_nothing_changed_renders_and_writes_nothing(make_project):
    proj = make_project({f"content/t{i}.json": native_trace(40, seed=i) for i in range(3)})
    first = build(proj)
    assert first.rendered == 3 and first.n_traces == 3
    again = build(proj)
    assert again.rendered == 0
    assert again.changed == []  # not one site file rewritten
    assert again.n_traces == 3 and again.n_pages == first.n_pages


def test_changed_bytes_are_rendered_again_even_with_the_same_size_and_mtime(make_project):
    a, b = native_trace(30, seed=1), native_trace(30, seed=2)
    a["tokens"][0]["text"] = "zebra"  # type: ignore[index]
    proj = make_project({"content/a.json": a, "content/b.json": b})
    build(proj)
    page_a = proj / "site/traces/a/index.html"
    assert "zebra" in page_a.read_text(encoding="utf-8")

    # Same length, same modification time: a cache keyed on size or mtime would miss this.
    src = proj / "content/a.json"
    before = src.stat()
    src.write_bytes(src.read_bytes().replace(b'"zebra"', b'"okapi"'))
    os.utime(src, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert src.stat().st_size == before.st_size

    r = build(proj)
    assert r.rendered == 1  # only a.json; b.json comes from the cache
    text = page_a.read_text(encoding="utf-8")
    assert "okapi" in text and "zebra" not in text
    assert "traces/a/index.html" in r.changed
    assert "traces/b/index.html" not in r.changed


def test_changed_heatmap_options_render_again(make_project):
    trace = native_trace(60, seed=3)
    proj = make_project({"content/a.json": trace})
    page = proj / "site/traces/a/index.html"
    build(proj)
    default_flags = flagged(page)
    assert default_flags == below(trace, 0.5) and default_flags

    (proj / "tracesite.toml").write_text("[heatmap]\nlow_confidence = 0.9\n", encoding="utf-8")
    r = build(proj)
    assert r.rendered == 1
    assert flagged(page) == below(trace, 0.9) != default_flags

    # Back to the defaults: the entry for those options is still valid and is reused.
    (proj / "tracesite.toml").unlink()
    r = build(proj)
    assert r.rendered == 0
    assert flagged(page) == default_flags


def test_a_note_edit_updates_the_page_and_a_highlight_edit_renders_again(make_project):
    proj = make_project(
        {"content/a.json": native_trace(30, seed=4), "content/a.md": "First version.\n"}
    )
    page = proj / "site/traces/a/index.html"
    build(proj)
    (proj / "content/a.md").write_text("Second version.\n", encoding="utf-8")
    r = build(proj)
    assert r.rendered == 0  # the heatmap does not depend on the note's text
    assert "Second version." in page.read_text(encoding="utf-8")

    # Highlights are drawn in the heatmap, so they are part of what is cached.
    (proj / "content/a.md").write_text(
        '---\nhighlight: [{from: 3, to: 5, label: "the fork"}]\n---\nSecond version.\n',
        encoding="utf-8",
    )
    r = build(proj)
    assert r.rendered == 1
    assert "the fork" in page.read_text(encoding="utf-8")


def test_deleting_the_cache_builds_the_same_pages(make_project):
    files: dict[str, object] = {
        f"content/t{i}.json": native_trace(50, seed=10 + i, texts=TRICKY if i == 0 else None)
        for i in range(3)
    }
    files["content/multi.jsonl"] = "".join(
        json.dumps(native_trace(20, seed=20 + i)) + "\n" for i in range(2)
    )
    proj = make_project(files)
    first = build(proj)
    assert first.rendered == 4 and first.n_traces == 5
    before = pages(proj / "site")
    assert "traces/multi-2/index.html" in before

    shutil.rmtree(proj / CACHE_DIR)
    again = build(proj)
    assert again.rendered == 4  # everything rendered afresh...
    assert pages(proj / "site") == before  # ...into the same pages
    assert "&lt;/script&gt;&lt;img" in before["traces/t0/index.html"]


def test_a_damaged_cache_entry_is_rendered_again_not_trusted(make_project):
    proj = make_project({"content/a.json": native_trace(30, seed=5)})
    build(proj)
    good = pages(proj / "site")
    entries = [p for p in (proj / CACHE_DIR).rglob("*") if p.is_file()]
    assert entries

    for damage in (lambda b: b[: len(b) // 2], lambda b: b"\x00garbage\n" + b[9:], lambda b: b""):
        for entry in entries:
            entry.write_bytes(damage(entry.read_bytes()))
        r = build(proj)
        assert r.rendered == 1
        assert pages(proj / "site") == good
        entries = [p for p in (proj / CACHE_DIR).rglob("*") if p.is_file()]


# -- the stat index: unchanged files are not read again ------------------------------------------


def _age(folder: Path, monkeypatch, seconds: float = 3600) -> None:  # type: ignore[no-untyped-def]
    """Files written long ago: the index does not trust files modified (mtime or ctime) within
    RACY_NS of a build. A test cannot set a change time back, so it shortens that window to
    the files' own: anything written before the build started counts as old."""
    import tracesite.build.statindex as si

    past = int((time.time() - seconds) * 1e9)
    for f in folder.rglob("*.json"):
        os.utime(f, ns=(past, past))
    time.sleep(0.02)
    monkeypatch.setattr(si, "RACY_NS", 0)


def _reads(monkeypatch) -> list[str]:  # type: ignore[no-untyped-def]
    import tracesite.build.job as tj

    seen: list[str] = []
    real = tj._read

    def counting(task):  # type: ignore[no-untyped-def]
        seen.append(task.rel)
        return real(task)

    monkeypatch.setattr(tj, "_read", counting)
    return seen


def test_a_no_change_rebuild_reads_no_trace_file(make_project, monkeypatch):
    proj = make_project({f"content/t{i}.json": native_trace(20, seed=i) for i in range(4)})
    _age(proj / "content", monkeypatch)
    build(proj)  # reads and hashes every file, and remembers their stats
    reads = _reads(monkeypatch)
    r = build(proj)
    assert r.rendered == 0 and reads == []
    assert (proj / CACHE_DIR / "stat-index.json").is_file()


def test_the_stat_index_never_serves_old_bytes(make_project, monkeypatch):
    """Same size, mtime put back: the change time still differs, so the file is read again."""
    a = native_trace(30, seed=1)
    a["tokens"][0]["text"] = "zebra"  # type: ignore[index]
    proj = make_project({"content/a.json": a, "content/b.json": native_trace(30, seed=2)})
    _age(proj / "content", monkeypatch)
    build(proj)
    src = proj / "content/a.json"
    before = src.stat()
    time.sleep(0.01)  # a later change time
    src.write_bytes(src.read_bytes().replace(b'"zebra"', b'"okapi"'))
    os.utime(src, ns=(before.st_atime_ns, before.st_mtime_ns))
    reads = _reads(monkeypatch)
    r = build(proj)
    assert set(reads) == {"content/a.json"} and r.rendered == 1  # b.json: not read
    assert "okapi" in (proj / "site/traces/a/index.html").read_text(encoding="utf-8")


def test_files_modified_just_before_a_build_are_not_remembered(make_project, monkeypatch):
    proj = make_project({"content/new.json": native_trace(10, seed=5)})  # written just now
    build(proj)
    reads = _reads(monkeypatch)
    build(proj)
    assert reads == ["content/new.json"]  # read and hashed again: its stat may not tell


def test_a_damaged_or_foreign_stat_index_is_ignored(make_project, monkeypatch):
    proj = make_project({f"content/t{i}.json": native_trace(10, seed=i) for i in range(2)})
    _age(proj / "content", monkeypatch)
    build(proj)
    index = proj / CACHE_DIR / "stat-index.json"
    data = json.loads(index.read_text())
    data["renderer"] = "another tracesite"
    index.write_text(json.dumps(data))
    reads = _reads(monkeypatch)
    build(proj)
    assert sorted(reads) == ["content/t0.json", "content/t1.json"]
    index.write_text("{not json")
    reads.clear()
    assert build(proj).rendered == 0
    assert sorted(reads) == ["content/t0.json", "content/t1.json"]
