"""Gather, render, write: embeds go through the cache and the worker pool like trace pages, the
write stage renders nothing, problems reach one Diagnostics, and the caller's process is left as
it was (no garbage-collector settings leak out of the workers)."""

from __future__ import annotations

import gc
import json
import subprocess
import sys

import pytest

from conftest import native_trace
from tracesite.build.pipeline import BuildOptions, build_project

ESSAY = "# Essay\n\n```trace\nsrc: a.json\npositions: 10-20\n```\n\nText.\n"


def _build(proj, **kw):  # type: ignore[no-untyped-def]
    return build_project(proj, BuildOptions(quiet=True, **kw))


def _count_renders(monkeypatch) -> list[int]:  # type: ignore[no-untyped-def]
    """Count heatmap renders in this process (jobs=1 renders in-process)."""
    import tracesite.render.fragments as fragments

    calls: list[int] = []
    real = fragments.render_fragments

    def counting(trace, options):  # type: ignore[no-untyped-def]
        calls.append(trace.n_tokens)
        return real(trace, options)

    monkeypatch.setattr(fragments, "render_fragments", counting)
    return calls


def test_an_unchanged_embed_is_not_rendered_again(make_project, monkeypatch):
    proj = make_project({"content/a.json": native_trace(50), "content/essay.md": ESSAY})
    calls = _count_renders(monkeypatch)
    first = _build(proj, jobs=1)
    assert first.ok, first.errors
    assert sorted(calls) == [11, 50]  # the embed (positions 10-20) and a.json's own page
    essay = proj / "site/essay/index.html"
    html = essay.read_text()
    assert "positions 10–20" in html and 'class="trace-embed"' in html
    before = essay.stat().st_mtime_ns, essay.stat().st_ino
    calls.clear()
    again = _build(proj, jobs=1)
    assert again.ok and again.rendered == 0 and calls == []
    assert essay.read_text() == html  # the same cached heatmap, not a new render
    assert (essay.stat().st_mtime_ns, essay.stat().st_ino) == before  # not even rewritten


def test_editing_the_note_keeps_the_embed_render_and_changing_the_trace_renders_it(
    make_project, monkeypatch
):
    proj = make_project({"content/a.json": native_trace(50), "content/essay.md": ESSAY})
    _build(proj, jobs=1)
    calls = _count_renders(monkeypatch)
    (proj / "content/essay.md").write_text(ESSAY.replace("Text.", "Other text."))
    r = _build(proj, jobs=1)
    assert r.ok and calls == []
    assert "Other text." in (proj / "site/essay/index.html").read_text()
    (proj / "content/a.json").write_text(json.dumps(native_trace(50, seed=9)))
    r = _build(proj, jobs=1)
    assert r.ok and sorted(calls) == [11, 50]


def test_a_trace_page_with_an_embed_is_kept_when_nothing_changed(make_project):
    """Pages whose notes embed traces used to be rendered again on every build."""
    proj = make_project(
        {
            "content/a.json": native_trace(30),
            "content/b.json": native_trace(20, seed=2),
            "content/b.md": "# B\n\n```trace\nsrc: a.json\n```\n",
        }
    )
    assert _build(proj).ok
    page = proj / "site/traces/b/index.html"
    before = page.stat().st_mtime_ns, page.stat().st_ino
    r = _build(proj)
    assert r.ok and "traces/b/index.html" not in r.changed
    assert (page.stat().st_mtime_ns, page.stat().st_ino) == before


def test_embeds_render_in_the_worker_pool(make_project, monkeypatch):
    """With misses enough for a pool, embed tasks go to the workers: none renders here."""
    files: dict[str, object] = {
        f"content/t{i:02d}.json": native_trace(10, seed=i) for i in range(8)
    }
    files["content/essay.md"] = "# E\n\n```trace\nsrc: t03.json\n```\n"
    proj = make_project(files)
    calls = _count_renders(monkeypatch)  # patched in this process only; forked workers are not
    import tracesite.build.executor as executor

    sent: list[str] = []
    real_run = executor._run

    # _run's signature as of the Dask executor: the executor is passed on (the local pool here)
    def watching(tasks, jobs, progress, executor="process"):  # type: ignore[no-untyped-def]
        sent.extend(t.part or "file" for t in tasks)
        assert jobs == 2 and executor == "process"
        return real_run(tasks, jobs, progress, executor)

    monkeypatch.setattr(executor, "_run", watching)
    r = _build(proj, jobs=2)
    assert r.ok, r.errors
    assert sent.count("file") == 8 and sent.count("embed=0,None,None") == 1
    assert calls == []  # every render, the embed's included, happened in a worker
    assert 'class="trace-embed"' in (proj / "site/essay/index.html").read_text()


def test_embed_errors_are_addressed_to_the_note_line_and_reported_once(make_project):
    proj = make_project(
        {
            "content/a.json": native_trace(10),
            "content/bad.json": "{not json",
            "content/page.md": (
                "# P\n\n```trace\nsrc: a.json\nindex: 3\n```\n\n"
                "```trace\nsrc: a.json\npositions: 40-50\n```\n\n"
                "```trace\nsrc: bad.json\n```\n\n```trace\nsrc: nope.json\n```\n"
            ),
        }
    )
    r = _build(proj)
    messages = [str(e) for e in r.errors]
    expected = [
        "content/page.md:3: trace block: index 3 but the file holds 1 trace(s)",
        "content/page.md:8: trace block: positions start at 40 but the trace has 10",
        "content/page.md:13: trace block: content/bad.json",
        "content/page.md:17: trace block: src 'nope.json' not found under content/",
    ]
    for want in expected:
        assert sum(m.startswith(want) for m in messages) == 1, (want, messages)
    html = (proj / "site/page/index.html").read_text()
    assert html.count('class="embed-error"') == 4
    assert (proj / "site/traces/a/index.html").is_file()  # the rest is built


def test_the_write_stage_reads_no_trace_and_renders_nothing(make_project, monkeypatch):
    """Once the render stage has run, writing the site must not call a reader or Bokeh."""
    proj = make_project({"content/a.json": native_trace(20), "content/essay.md": ESSAY})
    import tracesite.build.assemble as assemble
    import tracesite.formats as formats
    import tracesite.render.fragments as fragments
    import tracesite.render.heatmap as heatmap
    import tracesite.render.textview as textview

    real = assemble.write_site
    during: list[str] = []

    def guarded(*args, **kwargs):  # type: ignore[no-untyped-def]
        def forbidden(name):  # type: ignore[no-untyped-def]
            def fail(*a, **k):  # type: ignore[no-untyped-def]
                during.append(name)
                raise AssertionError(f"{name} called while writing")

            return fail

        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(formats, "read_bytes", forbidden("read_bytes"))
            mp.setattr(formats, "load", forbidden("load"))
            mp.setattr(fragments, "render_fragments", forbidden("render_fragments"))
            mp.setattr(heatmap, "render_heatmap", forbidden("render_heatmap"))
            mp.setattr(textview, "render_text_view", forbidden("render_text_view"))
            return real(*args, **kwargs)

    import tracesite.build.pipeline as pipeline

    monkeypatch.setattr(pipeline, "write_site", guarded)
    r = _build(proj, jobs=1)
    assert r.ok, r.errors
    assert during == []
    assert 'class="trace-embed"' in (proj / "site/essay/index.html").read_text()


@pytest.mark.parametrize("jobs", [1, 2])
def test_building_leaves_the_callers_garbage_collector_alone(make_project, jobs):
    """The dev server and notebooks call build_project: freezing their heap or raising their
    GC thresholds would keep their garbage for good. Run in a fresh interpreter so the
    numbers are this build's alone."""
    files = {f"content/t{i}.json": native_trace(30, seed=i) for i in range(10)}
    proj = make_project(files)
    script = (
        "import gc, sys\n"
        "from pathlib import Path\n"
        "from tracesite.build.pipeline import BuildOptions, build_project\n"
        "before = gc.get_threshold(), gc.get_freeze_count()\n"
        f"r = build_project(Path(sys.argv[1]), BuildOptions(quiet=True, jobs={jobs}))\n"
        "assert r.ok and r.rendered == 10, r.errors\n"
        "print(before == (gc.get_threshold(), gc.get_freeze_count()), before, gc.get_threshold())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(proj)], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("True"), out.stdout


def test_pool_workers_do_get_the_collector_settings():
    """The speed-up is kept where it belongs: a worker after its initializer."""
    script = (
        "import gc\n"
        "from tracesite.build.job import GC_FIRST_THRESHOLD, worker_init\n"
        "worker_init()\n"
        "print(gc.get_threshold()[0] == GC_FIRST_THRESHOLD, gc.get_freeze_count() > 1000)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert out.stdout.split() == ["True", "True"], out.stderr
    assert gc.get_freeze_count() == 0  # and this test process was not touched either
