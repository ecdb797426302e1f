"""Group pages (SPEC §16): planned after the trace tasks, rendered in the pool, written from the
cache like every other page.

A group is the traces whose cards share a ``group`` (a rollout table's ``uid``, front matter
``group:``, the n choices of one response); one with two or more members gets
``groups/<group>/index.html``. Rendering a group needs its members' tokens, so it is a render
task of its own: it reads each member file once (a rollout table only the rows its members are
in) and stores the page's pieces under a key made of the members' own cache keys and URLs. The
write stage renders nothing, and keeps an unchanged group's page without reading its render
(tests/test_groups_build.py holds it to that).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracesite.build.cache import RENDER_KEY, has_entry, load_entry, store
from tracesite.core.errors import BuildError, TracesiteError
from tracesite.core.options import ReadOptions
from tracesite.site.urls import group_url, relative

if TYPE_CHECKING:
    from tracesite.site.gallery import TraceEntry

#: Members drawn on a group page, at most (a bigger group is cut, and says so).
MAX_MEMBERS = 1000


@dataclass(frozen=True)
class Member:
    path: Path
    rel: str
    index: int  # the trace's position in its file
    url: str  # its page, relative to the group page
    title: str
    reward: float | None


@dataclass(frozen=True)
class GroupTask:
    group: str
    url: str  # the group page, site-relative
    members: tuple[Member, ...]
    read: ReadOptions
    cache_dir: Path
    key: str
    n_total: int  # members before MAX_MEMBERS cut


def _reward(card: Any) -> float | None:
    import json

    if not card.scalar_json:
        return None
    values = json.loads(card.scalar_json)
    for name in ("reward", "score"):
        v = values.get(name)
        if isinstance(v, int | float):
            return float(v)
    return None


def plan_groups(
    entries: Sequence[TraceEntry], read: ReadOptions, cache_dir: Path
) -> list[GroupTask]:
    """One task per group of two or more traces, in order of first appearance."""
    by: dict[str, list[TraceEntry]] = {}
    for e in entries:
        if e.card.group:
            by.setdefault(e.card.group, []).append(e)
    tasks = []
    seen_urls: dict[str, str] = {}
    for group, members in by.items():
        if len(members) < 2:
            continue
        url = group_url(group)
        if url in seen_urls:  # two groups with one slug: the later one gets a suffix
            tag = hashlib.sha1(group.encode("utf-8", "surrogatepass")).hexdigest()[:6]
            url = url.replace("/index.html", f"-{tag}/index.html")
        seen_urls[url] = group
        shown = members[:MAX_MEMBERS]
        ms = tuple(
            Member(
                e.source.path,
                e.source.rel,
                e.index,
                relative(url, e.card.url),
                e.card.title,
                _reward(e.card),
            )
            for e in shown
        )
        h = hashlib.sha256(f"{RENDER_KEY}\0group\0{group}\0{url}".encode("utf-8", "surrogatepass"))
        for e, m in zip(shown, ms, strict=True):
            h.update(
                f"\0{e.cache_key}\0{m.index}\0{m.url}\0{m.title}\0{m.reward}".encode(
                    "utf-8", "surrogatepass"
                )
            )
        tasks.append(GroupTask(group, url, ms, read, cache_dir, h.hexdigest(), len(members)))
    return tasks


def _read_members(task: GroupTask) -> list[Any]:
    """Each member's trace, each file read once (a rollout table: only its members' rows)."""
    from tracesite.formats import read_bytes, table_rows

    by_file: dict[Path, list[int]] = {}
    for m in task.members:
        by_file.setdefault(m.path, []).append(m.index)
    got: dict[tuple[Path, int], Any] = {}
    for path, indexes in by_file.items():
        rel = next(m.rel for m in task.members if m.path == path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise BuildError(f"cannot read: {exc.strerror or exc}", path=rel) from None
        if table_rows(data, task.read) is not None:
            lo, hi = min(indexes), max(indexes) + 1
            traces = read_bytes(data, rel, task.read, (lo, hi))
            for k, t in enumerate(traces):
                got[(path, lo + k)] = t
        else:
            for k, t in enumerate(read_bytes(data, rel, task.read)):
                got[(path, k)] = t
    missing = [m for m in task.members if (m.path, m.index) not in got]
    if missing:
        raise BuildError(f"trace {missing[0].index} is no longer in the file", path=missing[0].rel)
    return [got[(m.path, m.index)] for m in task.members]


def render_group_task(task: GroupTask) -> str | None:
    """Render one group page's pieces into the cache; the error's text, or None."""
    try:
        from tracesite.model.figures import figure_data
        from tracesite.render.figures import render_figure
        from tracesite.render.groups import render_group

        traces = _read_members(task)
        urls = [m.url for m in task.members]
        got = render_group(
            traces, urls, [m.title for m in task.members], [m.reward for m in task.members]
        )
        figures = []
        name = (
            "entropy-by-position"
            if all("entropy" in t.channels for t in traces)
            else "p-by-position"
        )
        figures.append(render_figure(figure_data(name, traces), urls))
        if all("train_logprob" in t.channels for t in traces):
            figures.append(render_figure(figure_data("sampler-vs-trainer", traces), urls))
        fragment = {k: str(v) for k, v in got.items()}
        fragment["figures_html"] = "\n".join(figures)
        fragment["n_total"] = str(task.n_total)
        store(task.cache_dir, task.key, [], [fragment])
    except TracesiteError as exc:
        return str(exc)
    except Exception as exc:  # a bug: this group fails, the build goes on
        what = f"{type(exc).__name__}: {exc}"
        return f"internal error rendering group {task.group!r} ({what}); please report it"
    return None


def run_groups(tasks: list[GroupTask], jobs: int | None) -> list[tuple[GroupTask, str | None]]:
    """Render the groups the cache does not hold; each task with its error (or None)."""
    from tracesite.build.executor import map_in_pool

    todo = [t for t in tasks if not has_entry(t.cache_dir, t.key)]
    errors = dict(
        zip([t.key for t in todo], map_in_pool(render_group_task, todo, jobs), strict=True)
    )
    return [(t, errors.get(t.key)) for t in tasks]


def group_fragment(task: GroupTask) -> dict[str, str]:
    """The stored pieces of a rendered group page."""
    _, fragments = load_entry(task.cache_dir, task.key)
    return fragments[0]
