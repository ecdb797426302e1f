"""Compare (SPEC §16, issue 14 point 2): ```compare``` blocks in notes and
``tracesite render A --compare B``; the hover shows both sides (Chromium)."""

from __future__ import annotations

from pathlib import Path

import pytest

import tracesite
from tracesite import Trace, TraceMeta
from tracesite.build import BuildOptions, build_project
from tracesite.commands.render import render_file


def pair(folder: Path) -> tuple[Path, Path]:
    a = Trace(
        tokens=["The", " sky", " is", " blue", "."],
        logprobs=[-0.1, -0.2, -0.3, -0.4, -0.05],
        meta=TraceMeta(model="bf16", provenance={"logprobs": "raw"}),
    )
    b = Trace(
        tokens=["The", " sky", " looks", " blue", "."],
        logprobs=[-0.1, -0.3, -1.2, -0.5, -0.05],
        meta=TraceMeta(model="int4", provenance={"logprobs": "processed"}),
    )
    tracesite.save(a, folder / "a.json")
    tracesite.save(b, folder / "b.json")
    return folder / "a.json", folder / "b.json"


def test_a_compare_block_renders_in_its_note_and_a_bad_one_is_addressed(tmp_path: Path) -> None:
    content = tmp_path / "content"
    content.mkdir()
    pair(content)
    (content / "notes.md").write_text(
        "# Two runs\n\n```compare\na: a.json\nb: b.json\n```\n\n```compare\na: a.json\nb: nope.json\n```\n"
    )
    result = build_project(tmp_path, BuildOptions(quiet=True, jobs=1))
    errors = [str(e) for e in result.errors]
    assert len(errors) == 1 and "content/notes.md:8" in errors[0] and "nope.json" in errors[0]
    page = (result.output / "notes" / "index.html").read_text(encoding="utf-8")
    assert "a.json vs b.json" in page and page.count('class="trace-embed"') == 1
    assert "diff_logprob" in page  # coloured by B - A


@pytest.mark.browser
def test_render_compare_hover_shows_both_sides(tmp_path: Path, browser) -> None:  # type: ignore[no-untyped-def]
    from browser_helpers import new_page
    from test_heatmap_browser import hover

    a, b = pair(tmp_path)
    out = render_file(a, tmp_path / "cmp.html", compare=b)
    html = out.read_text(encoding="utf-8")
    assert "A and B differ in logprobs: raw (A) vs processed (B)" in html
    with new_page(browser, out.as_uri()) as (page, record):
        page.wait_for_function("() => window.TracesiteHeatmap && TracesiteHeatmap.instances.length")
        tip = hover(page, 2)  # " is" against " looks"
        assert "a_logprob\n-0.3000" in tip and "b_logprob\n-1.2000" in tip  # both sides
        assert "diff_logprob\n-0.9000" in tip  # B - A
        assert not record.errors, record.errors


QWQ = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "real" / "vllm_chat"
QWQ_BF16 = QWQ / "qwq-32b-reasoning-100tok-top3.json"


@pytest.mark.parametrize(
    "quantised",
    ["qwq-32b-awq-int4-reasoning-100tok-top3.json", "qwq-32b-fp8-validation-100tok-top3.json"],
)
def test_the_corpus_qwq_quantisations_against_bf16(tmp_path: Path, quantised: str) -> None:
    """The same QwQ-32B prompt served by vLLM in bf16 and quantised (the corpus, not copied:
    its licence is not MIT/Apache-2.0). Neither file says what its logprobs mean; the data do."""
    from tracesite.formats import load
    from tracesite.model.align import align, compared

    a, b = load(QWQ_BF16)[0], load(QWQ / quantised)[0]
    first = next(k for k, (x, y) in enumerate(zip(a.tokens, b.tokens, strict=True)) if x != y)
    al = align(a, b)
    assert al.first_difference == first + 1  # the tokens agree up to there, exactly
    assert al.n_same >= first  # the shared prefix is matched, and later equal runs too
    said = [f["message"] for f in compared(a, b).meta.provenance["flags"]]
    assert any(m.startswith("B's logprobs look processed") for m in said)  # -9999 alternatives
    assert (
        f"model: {a.meta.model} (A) vs {b.meta.model} (B)" in said or a.meta.model == b.meta.model
    )
    page = render_file(QWQ_BF16, tmp_path / "cmp.html", compare=QWQ / quantised).read_text("utf-8")
    assert "B&#39;s logprobs look processed" in page  # stated on the page, escaped
