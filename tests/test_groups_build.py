"""Group pages in a build and in Chromium (SPEC §16, issue 14 points 1, 3, 4): a rollout table's
``uid`` groups become ``groups/<uid>/``; a branch of the prefix tree and a figure mark open the
trace at the position; a figure exports SVG."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tracesite.build import BuildOptions, build_project

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from synth_rollouts import demo_table


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("groups")
    (project / "content").mkdir()
    pq.write_table(demo_table(), project / "content" / "step.parquet")
    result = build_project(project, BuildOptions(quiet=True, jobs=1))
    assert result.ok, [str(e) for e in result.errors]
    return result.output


def test_a_rollout_group_gets_a_page_with_exact_numbers(site: Path) -> None:
    page = (site / "groups" / "train-trip-duration" / "index.html").read_text(encoding="utf-8")
    facts = dict(re.findall(r"<dt>([^<]+)</dt><dd>([^<]+)</dd>", page))
    assert facts["traces"] == "4" and facts["distinct completions"] == "4"
    assert facts["first divergence"] == "position 1"  # "From" ×2, "6", "Let"
    # every sibling is listed and linked, with its reward
    for k in range(1, 5):
        assert f'href="../../traces/step/rollout-{k}/index.html"' in page
    assert "<td>0</td>" in page  # the wrong answer's reward
    # the tree's branch into rollout 1 and 2's shared "From 3:40" run, then their split at 5
    assert 'href="../../traces/step/rollout-1/index.html#pos-5"' in page
    assert "Mean entropy by position" in page and "Sampler p against trainer p" in page


def test_an_unchanged_group_is_not_rendered_again(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Neither its pieces (render_group, in the pool's place with jobs=1), nor its page (the
    template), nor its cache entry is touched on a build where nothing changed."""
    import tracesite.build.assemble as assemble
    import tracesite.build.groups as groups
    import tracesite.render.groups as render_groups

    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("an unchanged group was rendered again")

    monkeypatch.setattr(render_groups, "render_group", fail)
    monkeypatch.setattr(groups, "group_fragment", fail)
    monkeypatch.setattr(assemble, "group_fragment", fail)
    project = site.parent
    before = (site / "groups" / "train-trip-duration" / "index.html").stat().st_mtime_ns
    result = build_project(project, BuildOptions(quiet=True, jobs=1))
    assert result.ok, [str(e) for e in result.errors]
    assert "groups/train-trip-duration/index.html" not in result.changed
    assert (site / "groups" / "train-trip-duration" / "index.html").stat().st_mtime_ns == before


@pytest.mark.browser
def test_branch_link_figure_click_and_svg_export(site: Path, browser) -> None:  # type: ignore[no-untyped-def]
    from browser_helpers import new_page

    url = (site / "groups" / "train-trip-duration" / "index.html").as_uri()
    with new_page(browser, url, accept_downloads=True) as (page, record):
        ready = (
            "() => window.Bokeh && [...document.querySelectorAll('.ts-figure')].every("
            "f => Bokeh.index.find_one_by_id(f.getAttribute('data-plot')))"
        )
        page.wait_for_function(ready)
        # a branch of the prefix tree opens its trace at the fork
        page.click('.group-tree a[href$="rollout-1/index.html#pos-5"]')
        page.wait_for_url(re.compile(r"rollout-1/index\.html#pos-5$"))
        page.go_back()
        page.wait_for_function(ready)
        # SVG export of the first figure produces an SVG file
        with page.expect_download() as dl:
            page.click('.ts-figure[data-figure="entropy-by-position"] [data-export="svg"]')
        path = dl.value.path()
        assert dl.value.suggested_filename == "entropy-by-position.svg"
        assert Path(path).read_text(encoding="utf-8").lstrip().startswith("<svg")
        # a click on a mark opens the trace at the position it came from
        target = page.evaluate(
            """() => {
              const fig = document.querySelector('.ts-figure[data-figure="entropy-by-position"]');
              const view = Bokeh.index.find_one_by_id(fig.getAttribute('data-plot'));
              const r = view.model.renderers.find(r => r.glyph.type === 'Scatter');
              const d = r.data_source.data, k = 9;  // the tenth position
              const box = view.el.getBoundingClientRect();
              return {x: box.left + view.frame.x_scale.compute(d.x[k]),
                      y: box.top + view.frame.y_scale.compute(d.y[k]), url: d.url[k]};
            }"""
        )
        assert target["url"].endswith("#pos-10")
        page.mouse.click(target["x"], target["y"])
        page.wait_for_url(re.compile(r"/index\.html#pos-10$"))
        assert not record.errors, record.errors


@pytest.mark.browser
def test_the_group_page_has_no_horizontal_scroll_on_a_phone(site: Path, browser) -> None:  # type: ignore[no-untyped-def]
    from browser_helpers import new_page

    url = (site / "groups" / "train-trip-duration" / "index.html").as_uri()
    phone = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
    with new_page(browser, url, **phone) as (page, _):
        page.wait_for_load_state("load")
        widths = page.evaluate(
            "() => [document.documentElement.clientWidth, document.documentElement.scrollWidth]"
        )
        assert widths[1] <= widths[0], widths
