"""```` ```figure ```` blocks in notes (SPEC §16, issue 14 point 3): a paper figure over a
section, some files or the gallery, drawn in a worker and cached, its numbers those numpy gives on
the same arrays, its errors addressed and confined to the block; in Chromium a mark opens the trace
at its position and SVG export produces a file."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

from tracesite.build import BuildOptions, build_project
from tracesite.build.figblocks import render_figure_task as _REAL_DRAW

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from synth_rollouts import demo_table

from test_heatmap import _walk, decode_ndarray, docs_json

NOTE = """---
title: Figures of the rollouts
---

# Figures of the rollouts

```figure
figure: entropy-histogram
section: rollouts
channel: entropy
caption: The 80/20 line
```

```figure
figure: entropy-hist
section: rollouts
```

```figure
figure: sampler-vs-trainer
src: rollouts/*.parquet
```

```figure
figure: confidence-by-label
gallery: true
label: reward
```

The end of the note.
"""


def _chat(entropy: bool = False) -> dict[str, object]:
    """A small Chat Completions response (two tokens with top-2 alternatives)."""
    toks = [("Hi", -0.1), ("!", -0.7)]
    return {
        "object": "chat.completion",
        "model": "m",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hi!"},
                "logprobs": {
                    "content": [
                        {
                            "token": t,
                            "logprob": lp,
                            "bytes": list(t.encode()),
                            "top_logprobs": [
                                {"token": t, "logprob": lp, "bytes": list(t.encode())},
                                {"token": "x", "logprob": -3.0, "bytes": [120]},
                            ],
                        }
                        for t, lp in toks
                    ]
                },
                "finish_reason": "stop",
            }
        ],
    }


def _project(tmp_path: Path, note: str = NOTE) -> Path:
    project = tmp_path / "proj"
    (project / "content" / "rollouts").mkdir(parents=True)
    pq.write_table(demo_table(), project / "content" / "rollouts" / "step.parquet")
    (project / "content" / "chat.json").write_text(json.dumps(_chat()), encoding="utf-8")
    (project / "content" / "figures.md").write_text(note, encoding="utf-8")
    return project


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    project = _project(tmp_path_factory.mktemp("figblocks"))
    result = build_project(project, BuildOptions(quiet=True, jobs=1))
    return result.output, [str(e) for e in result.errors]


def _page(site: Path) -> str:
    return (site / "figures" / "index.html").read_text(encoding="utf-8")


def _bokeh_data(page: str, figure: str) -> dict[str, list[Any]]:
    """The data source of the figure ``figure`` on the page (from Bokeh's embedded document)."""
    for script in re.findall(r"<script>(.*?)</script>", page, re.S):
        if "docs_json" not in script:
            continue
        nodes = list(_walk(docs_json(script)))
        if not any(n.get("attributes", {}).get("name") == f"figure-{figure}" for n in nodes):
            continue
        for node in nodes:
            if node.get("name") == "ColumnDataSource":
                entries = dict(node["attributes"]["data"]["entries"])
                return {k: _array(v) for k, v in entries.items()}
    raise AssertionError(f"no figure {figure} on the page")


def _array(v: Any) -> list[Any]:
    if isinstance(v, dict) and v.get("type") == "ndarray":
        return decode_ndarray(v).tolist()
    return list(v)


def _demo_entropy() -> list[np.ndarray]:
    table = demo_table()
    return [np.asarray(v, dtype=np.float64) for v in table.column("entropy").to_pylist()]


def test_a_section_entropy_histogram_has_numpys_counts_and_80th_percentile(
    built: tuple[Path, list[str]],
) -> None:
    site, _ = built
    page = _page(site)
    assert page.count('class="ts-figure"') == 3  # the unknown figure is an error in its place
    data = _bokeh_data(page, "entropy-histogram")
    values = np.concatenate(_demo_entropy())
    counts, edges = np.histogram(values, bins=40)
    assert data["count"] == counts.astype(float).tolist()
    assert np.allclose(data["left"], edges[:-1]) and np.allclose(data["right"], edges[1:])
    p80 = float(np.percentile(values, 80))
    assert f"80th percentile {p80:.3g}" in page
    assert "The 80/20 line" in page and "4 traces" in page
    # every bar opens a rollout at a position holding a value of that bar
    table = demo_table()
    ids = table.column("id").to_pylist()
    per_trace = _demo_entropy()
    for url, lo, hi, n in zip(data["url"], data["left"], data["right"], data["count"], strict=True):
        if n == 0:
            assert url == ""  # an empty bar opens nothing
            continue
        m = re.fullmatch(r"traces/rollouts/step/([^/]+)/index\.html#pos-(\d+)", str(url))
        assert m is not None, url
        v = per_trace[ids.index(m.group(1))][int(m.group(2)) - 1]
        assert lo - 1e-12 <= v <= hi + 1e-12
    # the page links its trace URLs from its own place, and loads the export script
    assert 'data-root="../"' in page and 'src="../assets/theme/figures.js"' in page


def test_sampler_vs_trainer_over_a_glob_matches_numpys_2d_histogram(
    built: tuple[Path, list[str]],
) -> None:
    site, _ = built
    data = _bokeh_data(_page(site), "sampler-vs-trainer")
    table = demo_table()
    s = np.exp(
        np.concatenate([np.asarray(v) for v in table.column("rollout_logprobs").to_pylist()])
    )
    t = np.exp(np.concatenate([np.asarray(v) for v in table.column("train_logprobs").to_pylist()]))
    counts, _, _ = np.histogram2d(s, t, bins=25, range=[[0, 1], [0, 1]])
    assert sorted(data["count"]) == sorted(c for c in counts.ravel().tolist() if c > 0)
    assert sum(data["count"]) == len(s)


def test_confidence_by_label_splits_the_gallery_by_reward(built: tuple[Path, list[str]]) -> None:
    site, _ = built
    page = _page(site)
    data = _bokeh_data(page, "confidence-by-label")
    table = demo_table()
    rewards = table.column("reward").to_pylist()
    means = [
        float(np.mean(np.exp(np.asarray(v)))) for v in table.column("rollout_logprobs").to_pylist()
    ]
    edges = np.linspace(0, 1, 21)
    # the chat trace has no reward: its own series
    want: dict[str, list[float]] = {}
    for r, m in zip(rewards, means, strict=True):
        want.setdefault(str(int(r)) if float(r).is_integer() else str(r), []).append(m)
    chat_mean = float(np.mean(np.exp([-0.1, -0.7])))
    want["(none)"] = [chat_mean]
    got: dict[str, float] = {}
    for series, count in zip(data["series"], data["count"], strict=True):
        got[str(series)] = got.get(str(series), 0) + count
    assert got == {k: float(len(v)) for k, v in want.items()}
    for label, ms in want.items():
        counts, _ = np.histogram(ms, bins=edges)
        shown = [c for s, c in zip(data["series"], data["count"], strict=True) if s == label]
        assert shown == [float(c) for c in counts if c]


def test_a_bad_block_fails_alone_with_an_addressed_error(built: tuple[Path, list[str]]) -> None:
    site, errors = built
    (err,) = errors
    assert err.startswith("content/figures.md:14:")  # the fence of block 2
    assert 'figure block 2: unknown figure "entropy-hist"; known: entropy-histogram,' in err
    page = _page(site)
    assert 'class="embed-error"' in page and "unknown figure &#34;entropy-hist&#34;" in page
    assert "The end of the note." in page  # the rest of the note is there


def test_a_channel_a_trace_lacks_is_named_with_its_file(tmp_path: Path) -> None:
    note = "# F\n\n```figure\nfigure: entropy-histogram\nsrc: chat.json\nchannel: entropy\n```\n"
    project = _project(tmp_path, note)
    result = build_project(project, BuildOptions(quiet=True, jobs=1))
    (err,) = [str(e) for e in result.errors]
    assert err == 'content/figures.md:3: figure block 1: channel "entropy" not in chat.json'


def test_a_selection_that_matches_nothing_and_a_yaml_error_are_block_errors(
    tmp_path: Path,
) -> None:
    note = (
        "# F\n\n```figure\nfigure: p-by-position\nsrc: nothing/*.json\n```\n\n"
        "```figure\nfigure: [unclosed\n```\n\n```figure\nfigure: p-by-position\nsrc: chat.json\n```\n"
    )
    result = build_project(_project(tmp_path, note), BuildOptions(quiet=True, jobs=1))
    errors = [str(e) for e in result.errors]
    assert errors[0] == (
        "content/figures.md:3: figure block 1: src nothing/*.json matches no trace of this build"
    )
    assert errors[1].startswith("content/figures.md:8: figure block 2:")
    assert len(errors) == 2
    page = _page(result.output)
    assert page.count('class="ts-figure"') == 1  # the third block is drawn


def test_an_unchanged_figure_is_not_drawn_again_and_a_changed_trace_redraws_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tracesite.build.figblocks as figblocks

    note = "# F\n\n```figure\nfigure: p-by-position\nsrc: chat.json\n```\n"
    project = _project(tmp_path, note)
    assert build_project(project, BuildOptions(quiet=True, jobs=1)).ok
    drawn: list[str] = []
    real = figblocks.render_figure_task
    monkeypatch.setattr(
        figblocks, "render_figure_task", lambda task: drawn.append(task.key) or real(task)
    )
    assert build_project(project, BuildOptions(quiet=True, jobs=1)).ok
    assert drawn == []
    doc = _chat()
    doc["choices"][0]["logprobs"]["content"][0]["logprob"] = -2.0  # type: ignore[index]
    (project / "content" / "chat.json").write_text(json.dumps(doc), encoding="utf-8")
    result = build_project(project, BuildOptions(quiet=True, jobs=1))
    assert result.ok and len(drawn) == 1
    data = _bokeh_data(_page(result.output), "p-by-position")
    assert np.allclose(data["y"], np.exp([-2.0, -0.7]))


def _draw_and_tell(task):  # type: ignore[no-untyped-def]
    """render_figure_task, writing the process id that ran it beside the cache. The real one is
    the module's import-time binding, not a global the test sets: a worker the pool spawns (its
    start method once this process has a thread, such as the one Dask leaves running after
    test_executor_dask.py) imports this module afresh and would see it unset."""
    import os

    (task.cache_dir / f"drawn-by-{os.getpid()}").write_text("", encoding="utf-8")
    return _REAL_DRAW(task)


def test_a_big_figure_is_drawn_in_a_worker_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past IN_PROCESS_TRACES even one figure is drawn in a worker: the main process does not
    read the traces."""
    import os

    import tracesite.build.figblocks as figblocks

    note = "# F\n\n```figure\nfigure: entropy-histogram\nsection: rollouts\n```\n"
    project = _project(tmp_path, note)
    monkeypatch.setattr(figblocks, "IN_PROCESS_TRACES", 1)
    monkeypatch.setattr(figblocks, "render_figure_task", _draw_and_tell)
    result = build_project(project, BuildOptions(quiet=True, jobs=1))
    assert result.ok, [str(e) for e in result.errors]
    from tracesite.build.cachedir import cache_dir_for

    pids = [int(p.name.split("-")[-1]) for p in cache_dir_for(project).path.glob("drawn-by-*")]
    assert len(pids) == 1 and pids[0] != os.getpid()
    assert 'data-figure="entropy-histogram"' in _page(result.output)


@pytest.mark.browser
def test_a_figure_mark_opens_the_trace_there_and_svg_export_gives_a_file(
    built: tuple[Path, list[str]], browser
) -> None:  # type: ignore[no-untyped-def]
    from browser_helpers import new_page

    site, _ = built
    url = (site / "figures" / "index.html").as_uri()
    with new_page(browser, url, accept_downloads=True) as (page, record):
        ready = (
            "() => window.Bokeh && [...document.querySelectorAll('.ts-figure')].every("
            "f => Bokeh.index.find_one_by_id(f.getAttribute('data-plot')))"
        )
        page.wait_for_function(ready)
        with page.expect_download() as dl:
            page.click('.ts-figure[data-figure="entropy-histogram"] [data-export="svg"]')
        assert dl.value.suggested_filename == "entropy-histogram.svg"
        assert Path(dl.value.path()).read_text(encoding="utf-8").lstrip().startswith("<svg")
        target = page.evaluate(
            """() => {
              const fig = document.querySelector('.ts-figure[data-figure="entropy-histogram"]');
              const view = Bokeh.index.find_one_by_id(fig.getAttribute('data-plot'));
              const r = view.model.renderers.find(r => r.glyph.type === 'Quad');
              const d = r.data_source.data;
              const k = [...d.count].findIndex(c => c > 0);
              const box = view.el.getBoundingClientRect();
              const x = (d.left[k] + d.right[k]) / 2, y = d.count[k] / 2;
              return {x: box.left + view.frame.x_scale.compute(x),
                      y: box.top + view.frame.y_scale.compute(y), url: d.url[k]};
            }"""
        )
        m = re.fullmatch(r"traces/rollouts/step/([^/]+)/index\.html#pos-(\d+)", target["url"])
        assert m is not None, target
        page.mouse.click(target["x"], target["y"])
        page.wait_for_url(
            re.compile(rf"/traces/rollouts/step/{m.group(1)}/index\.html#pos-{m.group(2)}$")
        )
        assert page.locator(f"#pos-{m.group(2)}").count() >= 0  # the trace page itself
        assert page.title().startswith("step.parquet") or "rollout" in page.title().lower()
        assert not record.errors, record.errors
