"""Sections (issue 16.5): a folder's title, description, order and introduction come from its
``_section.md`` (or ``index.md``) front matter; without one, from the folder's name as before."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import native_trace
from tracesite.build import BuildOptions, build_project
from tracesite.site.discover import discover
from tracesite.site.sections import read_section, section_infos

FILES: dict[str, object] = {
    "content/openai/run.json": native_trace(10, seed=1),
    "content/openai/_section.md": (
        "---\ntitle: OpenAI\ndescription: Chat <Completions> & Responses\nweight: 2\n---\n"
        "These came from **the API**.\n"
    ),
    "content/zeta/run.json": native_trace(10, seed=2),
    "content/zeta/index.md": "---\ntitle: Zeta first\nweight: 1\n---\nAn older index page.\n",
    "content/alpha/run.json": native_trace(10, seed=3),  # no file: its name, after the weighted
    "content/top.json": native_trace(10, seed=4),
}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import json

    root = tmp_path_factory.mktemp("sections")
    for rel, value in FILES.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(value if isinstance(value, str) else json.dumps(value), encoding="utf-8")
    return root


def test_discovery_finds_each_sections_file(project: Path) -> None:
    content = discover(project / "content")
    assert content.section_files == {
        "openai": project / "content/openai/_section.md",
        "zeta": project / "content/zeta/index.md",
    }
    by_section = {t.section: t.section_file for t in content.traces}
    assert by_section["openai"] == project / "content/openai/_section.md"
    assert by_section["alpha"] is None and by_section[""] is None
    # _section.md is read although "_" paths are not content, but is no page (no link or search
    # hit may lead to a page that does not exist); an index.md stays a page, as before
    pages = [rel for _, rel in content.pages]
    assert "openai/_section.md" not in pages and "zeta/index.md" in pages


def test_section_titles_order_and_intros(project: Path) -> None:
    content = discover(project / "content")
    infos = section_infos(["openai", "zeta", "alpha", ""], content.section_files)
    assert list(infos) == ["", "zeta", "openai", "alpha"]  # top, weight 1, weight 2, by name
    openai = infos["openai"]
    assert openai.title == "OpenAI" and openai.description == "Chat <Completions> & Responses"
    assert openai.weight == 2.0 and "<strong>the API</strong>" in openai.intro_html
    assert infos["alpha"].title == "Alpha" and infos[""].title == "Traces"
    # a section file that does not read gives the folder's name (the build reports the error)
    bad = project / "bad.md"
    bad.write_text("---\nweight: heavy\n---\n", encoding="utf-8")
    assert read_section("my-evals", bad).title == "My evals"


def test_a_built_index_shows_the_section_titles_in_order(project: Path) -> None:
    result = build_project(project, BuildOptions(quiet=True, jobs=1))
    assert result.ok, [str(e) for e in result.errors]
    site = result.output
    index = (site / "index.html").read_text(encoding="utf-8")
    titles = re.findall(r"<h2>([^<]+?) <small>", index)
    assert titles == ["Traces", "Zeta first", "OpenAI", "Alpha"]
    assert "Chat &lt;Completions&gt; &amp; Responses" in index  # the description, escaped
    # _section.md is no page of its own; an index.md keeps its page, as before
    assert not (site / "openai" / "-section").exists() and not (site / "openai").exists()
    assert (site / "zeta" / "index" / "index.html").is_file()
    # weight is a known front-matter key now: no "unknown key" warning
    assert not [w for w in result.warnings if "weight" in str(w)]


def test_a_wrong_weight_is_an_error_with_its_line(make_project) -> None:  # type: ignore[no-untyped-def]
    root = make_project(
        {
            "content/a/run.json": native_trace(5),
            "content/a/_section.md": "---\ntitle: A\nweight: heavy\n---\n",
        }
    )
    result = build_project(root, BuildOptions(quiet=True, jobs=1))
    [err] = [e for e in result.errors if "weight" in str(e)]
    assert "content/a/_section.md" in str(err) and ":3" in str(err)
    assert "weight must be a number" in str(err)


def test_the_demo_sections_have_proper_titles() -> None:
    content = Path(__file__).resolve().parents[1] / "content"
    found = discover(content)
    names = {t.section for t in found.traces}
    infos = section_infos(names, found.section_files)
    assert infos["openai"].title == "OpenAI"
    assert all(infos[n].title and infos[n].description for n in names if n)
