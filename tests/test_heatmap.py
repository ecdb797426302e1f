"""The heatmap embed (no browser): what the page receives, how big it is, that it is safe.

Browser behaviour (drawing, hover, modes, scrolling) is in test_heatmap_browser.py.
"""

from __future__ import annotations

import base64
import gzip
import html
import itertools
import json
import math
import random
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tracesite.core.options import COLOR_MODES, HeatmapOptions, Highlight
from tracesite.model.trace import Candidate, Position, Trace, TraceMeta
from tracesite.render.assets import bokeh_js_files, bokeh_version, heatmap_assets
from tracesite.render.cells import MAX_VIEW_PX, UNIT_PX, layout_for, pack_trace
from tracesite.render.heatmap import render_heatmap, render_heatmap_direct
from tracesite.render.modes import MODE_TITLES
from tracesite.render.notebook import HeatmapView, show_trace

REPO = Path(__file__).resolve().parents[1]
FIGURE = REPO / "content" / "figure" / "forty-three-squared.json"
CORPUS = Path(__file__).parents[2] / "shared" / "corpus" / "real"
HOSTILE = "</script><img src=x onerror=alert(1)>"

_WORD_LIST = (
    "the of and to in is that it for as with be by on not this are or from at which but have an"
    " they you we their has been if more when will would who so no model token probability answer"
    " first then step because therefore result value number equals multiply add solve check"
    " compute reason think consider problem each two three four five café naïve 日本 語 — π"
)
_WORDS = _WORD_LIST.split()
_VOCAB = [w if i % 3 else " " + w for i, w in enumerate(_WORDS)] + [
    ".",
    ",",
    ":",
    "\n",
    "\n\n",
    " ",
    "\t",
    "'s",
    "(",
    ")",
    "1",
    "2",
    "42",
]


def synthetic_trace(
    n: int, top_k: int = 5, seed: int = 0, *, unknown_every: int = 0, model: str = "synthetic"
) -> Trace:
    """A trace with realistic probabilities: most positions near-certain, a long tail of doubt.

    Every ``unknown_every``-th chosen token gets a sentinel logprob and is not listed.
    """
    rng = random.Random(seed)
    positions = []
    for i in range(n):
        chosen = rng.choice(_VOCAB)
        p = 1.0 if rng.random() < 0.4 else min(1.0, rng.betavariate(4, 1.2))
        rest = 1.0 - p
        alts = [Candidate(chosen, math.log(p) if p > 0 else None)]
        seen = {chosen}
        for _ in range(top_k - 1):
            word = rng.choice(_VOCAB)
            while word in seen:
                word = rng.choice(_VOCAB)
            seen.add(word)
            q = rest * rng.random() * 0.6
            rest -= q
            alts.append(Candidate(word, math.log(q) if q > 1e-12 else -30.0))
        if unknown_every and i % unknown_every == unknown_every - 1:
            positions.append(Position(Candidate(chosen + "?", -9999.0), alts[1:]))
        else:
            positions.append(Position(Candidate(chosen, alts[0].logprob), alts))
    return Trace.from_positions(positions, TraceMeta(source="synthetic.json", model=model))


def docs_json(script: str) -> dict[str, Any]:
    """The Bokeh document inside a ``components()`` script, decoded as BokehJS decodes it."""
    m = re.search(r"const docs_json = '(.*?)';\n", script, re.S)
    assert m, "no docs_json in the embed script"
    # bokeh.embed: JSON -> html.escape -> ' as &#x27; -> every backslash doubled, in a JS '...'
    text = html.unescape(m.group(1).replace("\\\\", "\\"))
    docs: dict[str, Any] = json.loads(text)
    return docs


def _walk(node: Any) -> Any:
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)


def data_columns(script: str) -> dict[str, Any]:
    """The trace's data source columns ({name: value rep}) of an embed."""
    for node in _walk(docs_json(script)):
        if node.get("name") == "ColumnDataSource":
            entries = dict(node["attributes"]["data"]["entries"])
            if "tok" in entries:
                return {k: v[0] for k, v in entries.items()}
    raise AssertionError("no trace data source in the embed")


def decode_ndarray(rep: dict[str, Any]) -> np.ndarray:
    raw = base64.b64decode(rep["array"]["data"])
    if raw[:2] == b"\x1f\x8b":  # Bokeh gzips buffers when that pays
        raw = gzip.decompress(raw)
    return np.frombuffer(raw, dtype=rep["dtype"])


# ------------------------------------------------------------------------------------ output
def test_embed_is_a_script_and_our_container_around_bokehs_div() -> None:
    trace = synthetic_trace(50)
    script, div = render_heatmap(trace, HeatmapOptions())
    assert script.lstrip().startswith("<script") and script.rstrip().endswith("</script>")
    uid = re.search(r'<div class="tsh" id="(tsh-[0-9a-f]+)"', div)
    assert uid, div[:200]
    assert 'data-root-id="' in div and 'class="tsh-mode"' in div and 'class="tsh-tip"' in div
    cfg = json.loads(data_columns(script)["cfg"])
    assert cfg["uid"] == uid.group(1)  # the browser code finds its container by this id
    assert (cfg["C"], cfg["mode"], cfg["low"]) == (20, "probability", 0.5)


def test_two_embeds_on_one_page_never_share_ids() -> None:
    trace = synthetic_trace(30)
    (s1, d1), (s2, d2) = (
        render_heatmap(trace, HeatmapOptions()),
        render_heatmap(trace, HeatmapOptions()),
    )
    ids1 = set(re.findall(r'"id":"([^"]+)"', s1)) | set(re.findall(r'id="([^"]+)"', d1))
    ids2 = set(re.findall(r'"id":"([^"]+)"', s2)) | set(re.findall(r'id="([^"]+)"', d2))
    assert ids1 and not ids1 & ids2


def _normalised(script: str) -> Any:
    """The document with ids renamed in order of appearance and the container id blanked."""
    docs = docs_json(script)
    (doc,) = docs.values()
    text = json.dumps(doc)
    ids: dict[str, str] = {}
    for found in re.findall(r'"id": "([^"]+)"', text):
        ids.setdefault(found, f"id{len(ids)}")
    text = re.sub(r'"id": "([^"]+)"', lambda m: f'"id": "{ids[m.group(1)]}"', text)
    out = json.loads(text)
    for node in _walk(out):
        if node.get("name") == "ColumnDataSource":
            entries = node["attributes"]["data"]["entries"]
            for entry in entries:
                if entry[0] == "cfg":
                    cfg = json.loads(entry[1][0])
                    cfg["uid"] = "-"
                    entry[1][0] = cfg
    return out


@pytest.mark.parametrize(
    "options",
    [
        HeatmapOptions(),
        HeatmapOptions(columns=7, alternatives=1, color_by="surprisal", low_confidence=0.9),
        HeatmapOptions(highlights=(Highlight(3, 9, f"quote ' and {HOSTILE} \\ é"),)),
    ],
)
def test_the_fast_template_gives_what_bokeh_components_gives(options: HeatmapOptions) -> None:
    """render_heatmap splices data into a document built once; it must equal the direct build."""
    trace = synthetic_trace(333, unknown_every=17)
    fast, _ = render_heatmap(trace, options)
    direct, _ = render_heatmap_direct(trace, options)
    assert _normalised(fast) == _normalised(direct)


def test_the_template_follows_each_traces_height() -> None:
    short, _ = render_heatmap(synthetic_trace(25), HeatmapOptions())
    long, _ = render_heatmap(synthetic_trace(5000), HeatmapOptions())
    heights = [int(re.search(r'"frame_height":(\d+)', s).group(1)) for s in (short, long)]  # type: ignore[union-attr]
    assert heights[0] < heights[1] == MAX_VIEW_PX


# ------------------------------------------------------------------------------------ lean
def test_a_1000_token_top5_embed_is_at_most_100_bytes_per_token() -> None:
    trace = synthetic_trace(1000, top_k=5, seed=3)
    script, div = render_heatmap(trace, HeatmapOptions())
    per_token = (len(script.encode()) + len(div.encode())) / 1000
    assert per_token <= 100, f"{per_token:.1f} bytes per token"


def test_numbers_travel_as_small_binary_arrays_and_strings_as_one_blob() -> None:
    trace = synthetic_trace(400, seed=5)
    script, _ = render_heatmap(trace, HeatmapOptions())
    cols = data_columns(script)
    allowed = {"float32", "int32", "uint32", "uint16", "uint8", "int8"}
    for name, rep in cols.items():
        if name == "cfg":
            assert isinstance(rep, str)
            continue
        assert rep["type"] == "ndarray" and rep["array"]["type"] == "bytes", name
        assert rep["dtype"] in allowed, (name, rep["dtype"])
    # no token text in the document as JSON strings: it is all inside the UTF-8 blob
    assert '" multiply"' not in script and "multiply" not in script
    blob = decode_ndarray(cols["sb"]).tobytes()
    offsets = decode_ndarray(cols["so"])
    entries = {blob[a:b].decode() for a, b in itertools.pairwise(offsets)}
    assert set(trace.alt_tokens) <= entries and len(entries) < len(trace.alt_tokens) / 2


def test_packed_columns_rebuild_the_trace_exactly() -> None:
    """What the browser reads (tokens, logprobs, ranks) is what the trace holds."""
    trace = synthetic_trace(300, seed=9, unknown_every=11)
    cols = pack_trace(trace, HeatmapOptions(), "tsh-x")
    blob, so = cols["sb"].tobytes(), cols["so"]  # type: ignore[union-attr]

    def text(e: int) -> str:
        return blob[so[e] : so[e + 1]].decode()

    assert [text(e) for e in cols["tok"]] == list(trace.tokens)  # type: ignore[union-attr]
    assert [text(e) for e in cols["atok"]] == list(trace.alt_tokens)  # type: ignore[union-attr]
    # the browser's rebuild of chosen logprobs (heatmap.js chosenLogprobs)
    nalt, ci, alp = cols["nalt"], cols["ci"], cols["alp"]
    lp, k, j = [], 0, 0
    for i in range(trace.n_tokens):
        c = int(ci[i])  # type: ignore[index]
        lp.append(cols["lpo"][k] if c < 0 else alp[j + c])  # type: ignore[index]
        k += c < 0
        j += int(nalt[i])  # type: ignore[index]
    for at, v in zip(cols["lpdi"], cols["lpdv"], strict=True):  # type: ignore[call-overload]
        lp[at] = v
    assert np.array_equal(
        np.array(lp, np.float32), trace.logprobs.astype(np.float32), equal_nan=True
    )
    assert np.isnan(trace.logprobs).sum() == 300 // 11


def test_invalid_utf8_bytes_and_lone_surrogates_survive_packing() -> None:
    positions = [
        Position(Candidate(" \\xf0\\x9f", -0.1, b" \xf0\x9f")),  # half an emoji, as OpenAI sends it
        Position(Candidate("\\x99\\x82", -0.2, b"\x99\x82")),
        Position(Candidate("\ud83d", -0.3)),  # a lone surrogate from JSON
        Position(Candidate("ok", -0.4, b"ok")),
    ]
    trace = Trace.from_positions(positions, TraceMeta())
    cols = pack_trace(trace, HeatmapOptions(), "tsh-x")
    blob, so, bad, nent = cols["sb"].tobytes(), cols["so"], cols["bad"], int(cols["nent"][0])  # type: ignore[union-attr,index]
    texts = [blob[so[e] : so[e + 1]] for e in range(len(so) - 1)]
    assert texts[:nent] == [b" \\xf0\\x9f", b"\\x99\\x82", "⟨U+D83D⟩".encode(), b"ok"]
    assert list(bad) == [0, 1] and texts[nent:] == [b" \xf0\x9f", b"\x99\x82"]
    render_heatmap(trace, HeatmapOptions())  # and the page can be written (no surrogates left)


def test_alternative_rows_are_only_as_many_as_some_position_fills() -> None:
    two = Trace.from_positions(
        [
            Position(
                Candidate("a", -0.1), [Candidate("a", -0.1), Candidate("b", -3), Candidate("c", -4)]
            )
        ],
        TraceMeta(),
    )
    assert layout_for(two, HeatmapOptions(alternatives=3)).alternatives == 2
    assert layout_for(two, HeatmapOptions(alternatives=1)).alternatives == 1
    assert layout_for(synthetic_trace(10), HeatmapOptions()).alternatives == 3


def test_a_long_trace_gets_a_fixed_height_viewport_not_a_tall_canvas() -> None:
    trace = synthetic_trace(50_000, top_k=2, seed=1)
    lay = layout_for(trace, HeatmapOptions())
    assert lay.scrolls and lay.view_px == MAX_VIEW_PX
    assert lay.total_units * UNIT_PX > 100 * MAX_VIEW_PX  # the trace itself is very tall
    script, div = render_heatmap(trace, HeatmapOptions())
    assert f'"frame_height":{MAX_VIEW_PX}' in script
    assert 'class="tsh-overview"' in div  # the overview strip to navigate it


# ------------------------------------------------------------------------------------ safety
def test_hostile_tokens_and_labels_never_reach_the_page_as_markup() -> None:
    positions = [
        Position(Candidate(HOSTILE, -0.5), [Candidate(HOSTILE, -0.5), Candidate("<b>", -1)])
    ] * 3
    trace = Trace.from_positions(positions, TraceMeta(model=HOSTILE))
    opts = HeatmapOptions(highlights=(Highlight(1, 2, HOSTILE),))
    script, div = render_heatmap(trace, opts)
    assert script.count("</script") == 1 and script.rstrip().endswith("</script>")
    assert "<img" not in script and "<img" not in div and "<b>" not in div
    assert "{safe}" not in script
    cfg = json.loads(data_columns(script)["cfg"])
    assert cfg["hl"] == [[1, 2, HOSTILE]]  # the label arrives intact, as data


def test_only_render_imports_bokeh_and_only_when_rendering() -> None:
    src = REPO / "src" / "tracesite"
    importers = {
        p.relative_to(src).parts[0]
        for p in src.rglob("*.py")
        if re.search(r"^\s*(import bokeh|from bokeh)", p.read_text(encoding="utf-8"), re.M)
    }
    assert importers == {"render"}, importers
    code = (
        "import sys, tracesite, tracesite.render.heatmap, tracesite.render.glyphs,"
        " tracesite.render.page, tracesite.render.notebook, tracesite.render.modes,"
        " tracesite.render.textview, tracesite.render.assets;"
        "print('bokeh' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ------------------------------------------------------------------------------------ assets
def test_assets_for_the_site_build() -> None:
    names = [name for name, _ in heatmap_assets()]
    assert names == ["heatmap.css", "channels.js", "heatmap.js"]  # channels.js before its user
    for name in ("channels.js", "heatmap.js"):
        js = dict(heatmap_assets())[name].decode()
        # tooltips are built with textContent only: no HTML parsing of anything at runtime
        assert not re.search(r"\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write", js)
    (bokeh,) = bokeh_js_files()
    assert bokeh[0] == "bokeh.min.js" and len(bokeh[1]) > 500_000
    assert bokeh_version().encode() in bokeh[1]


# ------------------------------------------------------------------------------------ modes
def test_mode_titles_and_palettes_reach_the_browser_from_bokeh_palettes() -> None:
    """Each embed's config carries every mode's title and Bokeh's palette; the JS has none."""
    from bokeh.palettes import Greens9, Purples9, YlOrBr9

    script, _ = render_heatmap(synthetic_trace(10), HeatmapOptions(color_by="entropy"))
    modes = json.loads(data_columns(script)["cfg"])["modes"]
    assert list(modes) == list(COLOR_MODES)
    assert {m: v["title"] for m, v in modes.items()} == MODE_TITLES
    assert modes["probability"]["colors"] == list(reversed(Greens9))  # light (p=0) to dark
    assert modes["entropy"]["colors"] == list(reversed(Purples9))
    assert modes["surprisal"]["colors"] == list(reversed(YlOrBr9))
    bar = [n for n in _walk(docs_json(script)) if n.get("name") == "ColorBar"]
    assert bar[0]["attributes"]["title"] == "Entropy (bits, lower bound)"
    for name in ("channels.js", "heatmap.js"):
        js = dict(heatmap_assets())[name].decode()
        assert not re.search(r"(#[0-9a-fA-F]{6}[\"'],\s*[\"']){3}", js), "a palette in the JS"
        assert not any(title in js for title in MODE_TITLES.values()), "a mode title in the JS"


# ------------------------------------------------------------------------------------ show()
def test_show_trace_outside_jupyter_returns_a_self_contained_view(tmp_path: Path) -> None:
    view = show_trace(synthetic_trace(40), columns=10, color_by="entropy")
    assert isinstance(view, HeatmapView)
    cfg = json.loads(data_columns(view.page)["cfg"])  # the page embeds the heatmap, options kept
    assert (cfg["C"], cfg["mode"]) == (10, "entropy")
    assert "<script src=" not in view.page and "<link " not in view.page  # works offline
    assert bokeh_js_files()[0][1].decode()[:2000] in view.page  # BokehJS inlined
    assert "<h2>Statistics</h2>" in view.page  # the theme's trace page
    saved = view.save(tmp_path / "v.html")
    assert saved.read_text(encoding="utf-8") == view.page
    assert repr(view) == "<tracesite heatmap: 40 tokens>"


def test_show_trace_rejects_unknown_options() -> None:
    with pytest.raises(TypeError, match="colums"):
        show_trace(synthetic_trace(5), colums=3)


def test_tracesite_show_is_the_public_entry_point() -> None:
    import tracesite

    view = tracesite.show(synthetic_trace(5), columns=7)  # not in IPython: the view comes back
    assert isinstance(view, HeatmapView)
    assert json.loads(data_columns(view.page)["cfg"])["C"] == 7


BOKEH_MARK = bokeh_js_files()[0][1].decode()[-4000:-3000]  # a stretch of BokehJS's own code


def _notebook() -> Any:
    """A fresh IPython shell with ``t`` (a trace) and ``tracesite`` in its namespace."""
    from IPython.core.interactiveshell import InteractiveShell

    InteractiveShell.clear_instance()
    shell = InteractiveShell.instance()
    shell.run_cell("import tracesite", store_history=False)
    shell.user_ns["t"] = synthetic_trace(30)
    return shell


def _run(shell: Any, code: str, cell_id: str) -> list[dict[str, str]]:
    """Run one cell as a frontend would; the mime bundles it displayed."""
    from IPython.utils.capture import capture_output

    with capture_output() as captured:
        result = shell.run_cell(code, cell_id=cell_id)
    result.raise_error()
    return [dict(out.data) for out in captured.outputs]


def test_ten_show_calls_hold_bokehjs_once_and_each_page_once() -> None:
    shell = _notebook()
    try:
        outputs = [o for k in range(10) for o in _run(shell, "tracesite.show(t)", f"cell-{k}")]
    finally:
        shell.clear_instance()
    assert len(outputs) == 10
    assert all(set(o) == {"text/html", "text/plain"} for o in outputs)
    assert all(o["text/plain"] == "<tracesite heatmap: 30 tokens>" for o in outputs)
    held = [_bokeh_copies(o["text/html"]) for o in outputs]
    assert held == [1] + [0] * 9  # the first output carries the notebook's one copy
    bokeh_size = len(bokeh_js_files()[0][1])
    assert all(len(o["text/html"]) < bokeh_size / 4 for o in outputs[1:])
    for o in outputs:
        page = html.unescape(re.search(r'srcdoc="([^"]*)"', o["text/html"]).group(1))  # type: ignore[union-attr]
        assert page.count("<h2>Statistics</h2>") == 1 and page.count("<iframe") == 0
        assert "tracesiteBokehJS" in page  # the frame takes BokehJS from the notebook page


def _js_escaped(text: str) -> str:
    return json.dumps(text)[1:-1].replace("</", "<\\/")


def _bokeh_copies(output_html: str) -> int:
    """Copies of BokehJS in an output: as a JS string (the notebook's copy) or as code, inlined
    in the output or in a frame's srcdoc."""
    return output_html.count(_js_escaped(BOKEH_MARK)) + html.unescape(output_html).count(BOKEH_MARK)


def test_the_copy_moves_with_its_cell_when_that_cell_runs_again() -> None:
    shell = _notebook()
    try:
        first = _run(shell, "tracesite.show(t)", "a")
        second = _run(shell, "tracesite.show(t)", "b")
        again = _run(shell, "tracesite.show(t); tracesite.show(t)", "a")  # "a"'s outputs replaced
        later = _run(shell, "tracesite.show(t)", "c")
        emptied = _run(shell, "1 + 1", "a")  # "a" no longer shows a heatmap: the copy is gone
        after = _run(shell, "tracesite.show(t)", "d")
    finally:
        shell.clear_instance()
    counts = [
        [_bokeh_copies(o["text/html"]) for o in outs] for outs in (first, second, again, later)
    ]
    assert counts == [[1], [0], [1, 0], [0]]
    assert emptied == [] and _bokeh_copies(after[0]["text/html"]) == 1


def test_a_view_shown_outside_a_kernel_carries_bokehjs_itself(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import IPython

    monkeypatch.setattr(IPython, "get_ipython", lambda: None)
    bundle = show_trace(synthetic_trace(5))._repr_mimebundle_()  # type: ignore[union-attr]
    assert _bokeh_copies(bundle["text/html"]) == 1


# ------------------------------------------------------------------------------------ corpus
def _corpus_files() -> list[Path]:
    """Every file of the real corpus; a missing corpus gives one case that fails (CI always
    has ../shared beside the checkout, so a skip would hide a broken setup)."""
    if not CORPUS.is_dir():
        return [CORPUS]
    return sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.name != "SOURCES.md")


@pytest.mark.parametrize("path", _corpus_files(), ids=lambda p: p.name)
def test_every_real_trace_renders(path: Path) -> None:
    """A reader failing on a corpus file fails this test too: every file there must render."""
    from tracesite.formats import load
    from tracesite.render.textview import render_text_view

    assert CORPUS.is_dir(), f"the real-API corpus is missing: {CORPUS}"
    traces = load(path)
    assert traces
    for trace in traces:
        script, _ = render_heatmap(trace, HeatmapOptions())
        cols = data_columns(script)
        assert decode_ndarray(cols["tok"]).size == trace.n_tokens
        assert render_text_view(trace, HeatmapOptions()).count("<span id=tok-") == trace.n_tokens


@pytest.mark.parametrize("n", [0, 1])
def test_empty_and_one_token_traces_render(n: int) -> None:
    from tracesite.render.textview import render_text_view

    trace = synthetic_trace(n)
    script, _ = render_heatmap(trace, HeatmapOptions())
    assert decode_ndarray(data_columns(script)["tok"]).size == n
    assert render_text_view(trace, HeatmapOptions()).count("<span") == n
    view = show_trace(trace)
    assert isinstance(view, HeatmapView) and "<h2>Statistics</h2>" in view.page
