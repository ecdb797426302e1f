"""Watching and rebuilding: what triggers a rebuild, what never does, and debouncing.

Absence of a rebuild is shown with a sentinel: the junk is written first, then one real file;
inotify reports in order, so the rebuild's "changed:" line lists exactly what it reacted to.
"""

from __future__ import annotations

import os
import time

import pytest

from test_serve_fakes import FakeBuild, get, make_fake_project, running
from tracesite.serve.watch import WatchPlan
from tracesite.site.discover import discover, is_ignored


@pytest.mark.parametrize(
    "name",
    [".hello.txt.swp", "hello.txt.swx", "hello.txt~", ".#hello.txt", "#hello.txt#", "4913",
     "hello.tmp", ".tmp-abc.html", ".DS_Store", "hello.txt___jb_tmp___", "x.crswap",
     "run.json.bak", "run.json___jb_old___", "x.kate-swp"],
)  # fmt: skip
def test_editor_droppings_are_ignored_by_the_watcher_and_by_discovery(name, tmp_path):
    """One rule: what the watcher does not rebuild for, discovery does not read (and back)."""
    assert is_ignored(name)
    content = tmp_path / "content"
    content.mkdir()
    (content / name).write_text("{}")
    (content / "real.json").write_text("{}")
    found = discover(content)
    assert [t.rel for t in found.traces] == ["real.json"] and not found.static and not found.pages
    plan = WatchPlan(roots=(content,))
    assert not plan.relevant(content / name) and plan.relevant(content / "real.json")


@pytest.mark.parametrize("name", ["hello.txt", "run.json", "note.md", "tracesite.toml", "a~b.md"])
def test_real_files_are_not_ignored(name):
    assert not is_ignored(name)


def test_watch_plan_relevance(tmp_path):
    content, theme = tmp_path / "content", tmp_path / "themes/mine"
    plan = WatchPlan(
        roots=(content, theme),
        files=(tmp_path / "tracesite.toml",),
        excluded=(tmp_path / ".tracesite-cache", tmp_path / "site"),
    )
    assert plan.relevant(content / "a/run.json")
    assert plan.relevant(theme / "page.html")
    assert plan.relevant(tmp_path / "tracesite.toml")
    assert plan.relevant(content)  # the folder itself created, deleted or moved
    assert plan.relevant(tmp_path / "themes")  # a parent of a watched folder appeared
    assert not plan.relevant(content / ".git/index")
    assert not plan.relevant(content / "a/.run.json.swp")
    assert not plan.relevant(content / "notes~")
    assert not plan.relevant(tmp_path / "README.md")
    assert not plan.relevant(tmp_path / "site/index.html")
    assert not plan.relevant(tmp_path / ".tracesite-cache/abc.pkl")
    watches = dict(plan.watches())  # only content exists: the rest is seen through parents
    content.mkdir()
    assert dict(plan.watches()) == {content: True, tmp_path: False}
    assert watches == {tmp_path: False}


def _changed_lines(log: list[str]) -> list[str]:
    return [line for line in log if line.startswith("changed:")]


def _no_more_builds(server, n: int, window: float = 1.0) -> bool:
    """True if build ``n + 1`` does not come within ``window`` s (absence needs a time window)."""
    try:
        server.wait_for_build(n + 1, timeout=window)
    except TimeoutError:
        return True
    return False


def test_a_burst_of_100_saves_gives_at_most_two_rebuilds(tmp_path):
    proj = make_fake_project(tmp_path / "p")
    build = FakeBuild()
    with running(proj, build=build) as server:
        target = proj / "content/hello.txt"
        start = time.monotonic()
        for i in range(100):  # pacing the writes over one second is the burst, not a wait
            target.write_text(f"save {i}")
            time.sleep(max(0.0, start + (i + 1) / 100 - time.monotonic()))
        server.wait_for_build(2, timeout=10)
        assert _no_more_builds(server, 3)
        assert 2 <= server.builds <= 3  # the first build + one or two rebuilds
        assert b"save 99" in get(server, "/pages/hello/")[2]


def test_editor_temp_files_cache_and_output_never_trigger_rebuilds(tmp_path):
    proj = make_fake_project(tmp_path / "p")
    log: list[str] = []
    with running(proj, log=log) as server:
        content = proj / "content"
        for junk in (".hello.txt.swp", "hello.txt~", ".#hello.txt", "4913", "x.tmp", "#a#"):
            (content / junk).write_text("junk")
        (content / ".git").mkdir()
        (content / ".git/index").write_text("x")
        (proj / "site").mkdir()
        (proj / "site/index.html").write_text("x")
        (proj / "README.md").write_text("x")
        (proj / ".tracesite-cache/extra").write_text("x")
        (content / "sentinel.txt").write_text("real change")
        server.wait_for_build(2, timeout=10)
        assert _changed_lines(log) == ["changed: content/sentinel.txt"]
        # the builds read content and write the cache: that must not start another build
        assert _no_more_builds(server, 2)


def test_content_folder_inside_the_project_root_does_not_loop(tmp_path):
    """content_dir = "." puts the cache inside the watched folder: still no rebuild loop."""
    proj = tmp_path / "p"
    proj.mkdir()
    (proj / "hello.txt").write_text("hi")
    (proj / "tracesite.toml").write_text('[build]\ncontent_dir = "."\n')
    log: list[str] = []
    with running(proj, log=log) as server:
        (proj / "hello.txt").write_text("hi again")
        server.wait_for_build(2, timeout=10)
        assert _no_more_builds(server, 2)
        assert _changed_lines(log) == ["changed: hello.txt"]


def test_save_by_rename_like_vim_rebuilds_once_with_the_real_name(tmp_path):
    proj = make_fake_project(tmp_path / "p")
    log: list[str] = []
    with running(proj, log=log) as server:
        content = proj / "content"
        (content / "4913").write_text("")  # Vim's probe
        (content / "4913").unlink()
        (content / "hello.txt").rename(content / "hello.txt~")  # backup
        (content / "hello.txt").write_text("saved by vim")
        (content / "hello.txt~").unlink()
        tmp = content / ".hello.txt.tmp123"
        tmp.write_text("saved by rename")  # editors that write a temp file and rename it
        os.replace(tmp, content / "hello.txt")
        server.wait_for_build(2, timeout=10)
        assert _changed_lines(log) == ["changed: content/hello.txt"]
        assert b"saved by rename" in get(server, "/pages/hello/")[2]


def test_theme_and_config_changes_rebuild(tmp_path):
    proj = make_fake_project(tmp_path / "p")
    (proj / "themes/default").mkdir(parents=True)
    (proj / "themes/default/page.html").write_text("{{ x }}")
    log: list[str] = []
    with running(proj, log=log) as server:
        (proj / "themes/default/page.html").write_text("{{ y }}")
        server.wait_for_build(2, timeout=10)
        (proj / "tracesite.toml").write_text('[site]\ntitle = "New"\n')  # created
        server.wait_for_build(3, timeout=10)
        (proj / "tracesite.toml").write_text('[site]\ntitle = "Newer"\n')  # modified
        server.wait_for_build(4, timeout=10)
        assert _changed_lines(log) == [
            "changed: themes/default/page.html",
            "changed: tracesite.toml",
            "changed: tracesite.toml",
        ]


def test_a_new_content_folder_from_the_config_is_watched(tmp_path):
    proj = make_fake_project(tmp_path / "p")
    with running(proj) as server:
        (proj / "notes").mkdir()
        (proj / "notes/first.txt").write_text("in the new folder")
        (proj / "tracesite.toml").write_text('[build]\ncontent_dir = "notes"\n')
        server.wait_for_build(2, timeout=10)
        assert b"in the new folder" in get(server, "/pages/first/")[2]
        (proj / "notes/first.txt").write_text("edited in the new folder")
        server.wait_for_build(3, timeout=10)
        assert b"edited in the new folder" in get(server, "/pages/first/")[2]


def test_content_folder_deleted_and_recreated_is_watched_again(tmp_path):
    import shutil

    proj = make_fake_project(tmp_path / "p")
    with running(proj) as server:
        shutil.rmtree(proj / "content")
        server.wait_for_build(2, timeout=10)
        (proj / "content").mkdir()
        server.wait_for_build(3, timeout=10)
        (proj / "content/back.txt").write_text("it is back")
        server.wait_for_build(4, timeout=10)
        assert b"it is back" in get(server, "/pages/back/")[2]


def test_poll_mode_sees_changes(tmp_path):
    proj = make_fake_project(tmp_path / "p")
    with running(proj, poll=True) as server:
        (proj / "content/hello.txt").write_text("seen by polling")
        server.wait_for_build(2, timeout=10)
        assert b"seen by polling" in get(server, "/pages/hello/")[2]


def test_rebuilds_are_dev_builds_into_the_temporary_folder(tmp_path):
    """serve builds with drafts shown, quietly, never into site/ (the build picks its workers)."""
    proj = make_fake_project(tmp_path / "p")
    build = FakeBuild()
    with running(proj, build=build) as server:
        (proj / "content/hello.txt").write_text("one file")
        server.wait_for_build(2, timeout=10)
        assert all(o.dev and o.quiet and o.jobs is None for o in build.options)
        assert all(o.output is not None and o.output != proj / "site" for o in build.options)
