"""Rebuilds render only what changed: pages whose inputs are the same are kept as they are."""

from __future__ import annotations

import os
import time
from collections import Counter

import pytest

from conftest import native_trace
from tracesite.build.pipeline import BuildOptions, build_project
from tracesite.site import pages


@pytest.fixture
def rendered(monkeypatch):
    """Counts the pages rendered, by URL."""
    counts: Counter[str] = Counter()
    original = pages.Renderer.render

    def counting(self, page):  # type: ignore[no-untyped-def]
        counts[page.url] += 1
        return original(self, page)

    monkeypatch.setattr(pages.Renderer, "render", counting)
    return counts


def test_no_change_rebuild_renders_no_trace_page(make_project, rendered):
    files = {f"content/t{i}.json": native_trace(20, seed=i) for i in range(5)}
    files["content/t2.md"] = "---\ntitle: Two\n---\nFirst version of the note.\n"
    proj = make_project(files)
    first = build_project(proj, BuildOptions(quiet=True, jobs=1))
    assert first.ok and first.n_traces == 5
    assert sum(1 for u in rendered if u.startswith("traces/")) == 5
    rendered.clear()
    again = build_project(proj, BuildOptions(quiet=True, jobs=1))
    assert again.ok and again.rendered == 0
    assert not [u for u in rendered if u.startswith("traces/")]
    assert again.changed == []  # nothing rewritten on disk either
    assert (proj / "site/traces/t3/index.html").is_file()


def _five_traces_built(make_project, rendered, note: str):  # type: ignore[no-untyped-def]
    """Five traces, t2 with ``note``, built once; the render counter then cleared."""
    files = {f"content/t{i}.json": native_trace(20, seed=i) for i in range(5)}
    files["content/t2.md"] = note
    proj = make_project(files)
    assert build_project(proj, BuildOptions(quiet=True, jobs=1)).ok
    rendered.clear()
    return proj


def test_editing_a_note_rerenders_only_its_page(make_project, rendered):
    proj = _five_traces_built(
        make_project, rendered, "---\ntitle: Two\n---\nFirst version of the note.\n"
    )
    (proj / "content/t2.md").write_text("---\ntitle: Two\n---\nSecond version.\n")
    result = build_project(proj, BuildOptions(quiet=True, jobs=1))
    assert result.ok
    # the cards did not change, so the index, tag pages and neighbours are kept as they are
    assert list(rendered) == ["traces/t2/index.html"]
    assert "Second version." in (proj / "site/traces/t2/index.html").read_text()


def test_a_new_title_rerenders_the_neighbours_links(make_project, rendered):
    proj = _five_traces_built(make_project, rendered, "---\ntitle: Two\n---\n")
    (proj / "content/t2.md").write_text("---\ntitle: Renamed\n---\n")
    assert build_project(proj, BuildOptions(quiet=True, jobs=1)).ok
    traces = sorted(u for u in rendered if u.startswith("traces/"))
    assert traces == ["traces/t1/index.html", "traces/t2/index.html", "traces/t3/index.html"]
    assert "Renamed" in (proj / "site/traces/t1/index.html").read_text()  # its "next" link
    assert "index.html" in rendered  # the card changed, so the gallery is rendered again
    assert "Renamed" in (proj / "site/index.html").read_text()
    assert "Renamed" in (proj / "site/assets/search-index.js").read_text()


def test_a_theme_change_rerenders_every_page(make_project, rendered):
    proj = make_project({f"content/t{i}.json": native_trace(10, seed=i) for i in range(3)})
    assert build_project(proj, BuildOptions(quiet=True, jobs=1)).ok
    rendered.clear()
    tpl = proj / "themes/default/templates/trace.html"
    tpl.parent.mkdir(parents=True)
    tpl.write_text('{% extends "default:trace.html" %}{% block title %}CUSTOM{% endblock %}')
    assert build_project(proj, BuildOptions(quiet=True, jobs=1)).ok
    assert sum(1 for u in rendered if u.startswith("traces/")) == 3
    assert "<title>CUSTOM</title>" in (proj / "site/traces/t0/index.html").read_text()


def test_a_kept_jinja_environment_sees_template_edits(make_project):
    """The dev server keeps one Jinja environment across builds; a template edit still shows."""
    from tracesite.build.memo import BuildMemo

    proj = make_project({"content/a.json": native_trace(10, seed=1)})
    tpl = proj / "themes/default/templates/index.html"
    tpl.parent.mkdir(parents=True)
    memo = BuildMemo()
    for word in ("FIRST", "SECOND", "THIRD"):
        tpl.write_text(
            '{% extends "default:index.html" %}{% block title %}' + word + "{% endblock %}"
        )
        os.utime(tpl, ns=(time.time_ns(), time.time_ns()))  # a new mtime even on a coarse clock
        assert build_project(proj, BuildOptions(quiet=True, jobs=1), memo).ok
        assert f"<title>{word}</title>" in (proj / "site/index.html").read_text()


def test_a_kept_page_survives_a_deleted_file_on_disk(make_project):
    proj = make_project({"content/a.json": native_trace(10)})
    assert build_project(proj, BuildOptions(quiet=True, jobs=1)).ok
    (proj / "site/traces/a/index.html").unlink()  # someone removed it by hand
    assert build_project(proj, BuildOptions(quiet=True, jobs=1)).ok
    assert (proj / "site/traces/a/index.html").is_file()


def test_memo_across_rebuilds_stays_correct(make_project):
    """The dev server's memo: edits are seen, a deleted cache folder is rebuilt, not trusted."""
    import shutil

    from tracesite.build.memo import BuildMemo

    proj = make_project(
        {"content/a.json": native_trace(10, seed=1), "content/b.json": native_trace(10, seed=2)}
    )
    memo = BuildMemo()
    assert build_project(proj, BuildOptions(quiet=True, jobs=1), memo).rendered == 2
    assert build_project(proj, BuildOptions(quiet=True, jobs=1), memo).rendered == 0
    import json

    (proj / "content/a.json").write_text(json.dumps(native_trace(12, seed=3)))
    r = build_project(proj, BuildOptions(quiet=True, jobs=1), memo)
    assert r.ok and r.rendered == 1
    assert "12 tokens" in (proj / "site/traces/a/index.html").read_text()
    shutil.rmtree(proj / ".tracesite-cache")
    (proj / "site/traces/b/index.html").unlink()
    r = build_project(proj, BuildOptions(quiet=True, jobs=1), memo)
    assert r.ok and r.rendered == 2
    assert (proj / "site/traces/b/index.html").is_file()


def test_cache_hits_never_start_worker_processes(make_project, monkeypatch):
    """A pool costs seconds to start on two cores; a note edit must not pay for one."""
    import tracesite.build.executor as build_mod

    proj = make_project({f"content/t{i:02d}.json": native_trace(10, seed=i) for i in range(12)})
    assert build_project(proj, BuildOptions(quiet=True, jobs=2)).rendered == 12
    pools: list[int] = []
    real = build_mod.ProcessPoolExecutor

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        pools.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(build_mod, "ProcessPoolExecutor", counting)
    (proj / "content/t03.md").write_text("a new note\n")
    r = build_project(proj, BuildOptions(quiet=True, jobs=2))
    assert r.ok and r.rendered == 0 and pools == []


@pytest.mark.parametrize("jobs", [1, 2])
def test_the_build_does_not_hold_every_traces_summary(make_project, monkeypatch, jobs):
    """Peak memory must not grow with the gallery: the main process keeps a small card per
    trace, not its summary (statistics, metadata, marks), which pages read back from the cache."""
    import gc

    import tracesite.build.assemble as sitewrite_mod
    from tracesite.model.summary import TraceSummary

    proj = make_project({f"content/t{i:02d}.json": native_trace(15, seed=i) for i in range(30)})
    alive: list[int] = []
    real = sitewrite_mod.search_index_js

    def counting(entries):  # type: ignore[no-untyped-def]
        gc.collect()  # written after every trace page: count what the build still holds
        alive.append(sum(isinstance(o, TraceSummary) for o in gc.get_objects()))
        return real(entries)

    monkeypatch.setattr(sitewrite_mod, "search_index_js", counting)
    for _ in range(2):  # cold (rendered), then every file a cache hit
        r = build_project(proj, BuildOptions(quiet=True, jobs=jobs))
        assert r.ok and r.n_traces == 30
    assert alive == [0, 0]
    page = (proj / "site/traces/t07/index.html").read_text()
    assert "Mean p" in page and "Format" in page  # the page still shows stats and metadata
