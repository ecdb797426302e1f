"""The gallery at scale in a real browser (SPEC §8, §17; docs/scale.md): the first page without
JavaScript, paging, sorting over every trace across sections, tag filter, text search over whole
texts and notes landing on #pos-N, token queries checked against numpy, the URL hash restoring a
view; from file:// and from http://."""

from __future__ import annotations

import json
import math
import random
import re
from pathlib import Path

import numpy as np
import pytest

from conftest import SubpathServer, run_cli

pytestmark = pytest.mark.browser

WORDS = [" the", " model", " wrote", " this", ",", " and", "\n", " 42", ".", " Wait", " so"]
N_A, N_B = 70, 62  # two sections; with the long trace, more than two pages of 60
END_WORD = "zanzibarword"  # only near the end of the long trace
NOTE_WORD = "quetzalcoatl"  # only in a note's body
PAGE_WORD = "xylophonic"  # only in a standalone page


def make_trace(n: int, seed: int, *, tail: list[str] | None = None) -> dict[str, object]:
    """A native trace of ``n`` tokens (plus ``tail``), with a reward and an entropy channel."""
    rng = random.Random(seed)
    texts = [rng.choice(WORDS) for _ in range(n)] + (tail or [])
    tokens = []
    for text in texts:
        p = min(1.0, max(0.01, rng.betavariate(2, 1)))
        alt = {"text": rng.choice(WORDS) + "x", "logprob": math.log(max(1e-4, (1 - p) / 2))}
        tokens.append(
            {
                "text": text,
                "logprob": math.log(p),
                "top": [{"text": text, "logprob": math.log(p)}, alt],
            }
        )
    return {
        "tracesite": 2,
        "model": f"model-{seed % 3}",
        "tokens": tokens,
        "scalars": {"reward": round(rng.uniform(-1, 1), 4)},
        # quarters: exact in float16, which token shards may store channels as
        "channels": {"adv": [round(rng.uniform(-2, 2) * 4) / 4 for _ in texts]},
    }


def read_shard(site: Path, name: str) -> object:
    """A shard's payload, parsed in Python (as the browser's TRACESITE_SHARD receives it)."""
    path = site / (
        "assets/tokens/" + name[4:] if name.startswith("tok-") else "assets/index/" + name
    )
    text = path.with_suffix(".js").read_text(encoding="utf-8")
    m = re.match(r'\s*window\.TRACESITE_SHARD\((".*?"),\s*(.*)\);?\s*$', text, re.S)
    assert m, text[:200]
    return json.loads(m.group(2))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A gallery of 133 traces in two sections, with notes, a page and a long trace; max_pages
    low, so most traces have viewer URLs. Returns (site, traces by content path)."""
    root = tmp_path_factory.mktemp("scale")
    content = root / "content"
    (root / "tracesite.toml").write_text("[build]\nmax_pages = 3\n")
    traces: dict[str, dict[str, object]] = {}
    for i in range(N_A):
        traces[f"alpha/a{i:03d}.json"] = make_trace(30 + i % 7, seed=i)
    for i in range(N_B):
        traces[f"beta/b{i:03d}.json"] = make_trace(25 + i % 5, seed=1000 + i)
    tail = [" and", " then", " " + END_WORD, " end", "."]
    traces["beta/long.json"] = make_trace(3000, seed=7, tail=tail)
    for rel, data in traces.items():
        (content / rel).parent.mkdir(parents=True, exist_ok=True)
        (content / rel).write_text(json.dumps(data))
    (content / "alpha/a001.md").write_text(
        f"---\ntitle: Alpha one\ntags: [gold]\n---\nThis trace mentions {NOTE_WORD} in its note.\n"
    )
    (content / "beta/b005.md").write_text(
        "---\ntitle: Beta five\ntags: [gold, rare]\n---\nA note.\n"
    )
    (content / "about.md").write_text(f"---\ntitle: About\n---\nA page about {PAGE_WORD} things.\n")
    r = run_cli("build", cwd=root, timeout=600)
    assert r.returncode == 0, r.stderr
    return root / "site", traces


@pytest.fixture(scope="module", params=["file", "http"])
def site_url(request, built):
    """The built site's root URL, from file:// and from a local http:// server."""
    site, _ = built
    if request.param == "file":
        yield site.as_uri() + "/"
        return
    server = SubpathServer(site, "/repo/")
    yield server.url
    server.close()


def cards_by_id(site: Path) -> dict[int, dict[str, object]]:
    meta = read_shard(site, "meta")
    out: dict[int, dict[str, object]] = {}
    for k in range(math.ceil(meta["n"] / meta["card_shard"])):
        for card in read_shard(site, f"cards-{k}"):
            out[card["i"]] = card
    return out


def source_of(card: dict[str, object], traces: dict[str, dict[str, object]]) -> str:
    """The content path of a card (its title is the file's name, or the note's title)."""
    titles = {"Alpha one": "alpha/a001.json", "Beta five": "beta/b005.json"}
    if card["t"] in titles:
        return titles[card["t"]]
    return next(rel for rel in traces if Path(rel).name == card["t"])


def titles(page) -> list[str]:
    return page.eval_on_selector_all(
        "#gallery article.card .card-title", "els => els.map(e => e.textContent.trim())"
    )


def wait_view(page) -> None:
    page.wait_for_function("!document.getElementById('gallery-controls').hasAttribute('aria-busy')")


def open_index(page, url: str, hash_: str = "") -> None:
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url + "index.html" + hash_)
    page.wait_for_selector("#gallery-controls:not([hidden])")
    wait_view(page)
    assert errors == []


def search(page, text: str) -> None:
    page.fill("#q", text)
    page.press("#q", "Enter")
    page.wait_for_timeout(0)
    wait_view(page)


def test_first_page_reads_without_javascript(browser, built):
    site, _ = built
    meta = read_shard(site, "meta")
    ctx = browser.new_context(java_script_enabled=False)
    page = ctx.new_page()
    page.goto((site / "index.html").as_uri())
    shown = titles(page)
    assert len(shown) == meta["page_size"] < meta["n"]
    cards = cards_by_id(site)
    assert shown == [cards[i]["t"] for i in range(meta["page_size"])]  # the gallery's order
    headings = page.eval_on_selector_all(".section h2", "els => els.map(e => e.textContent)")
    assert headings and headings[0].startswith(meta["sections"][0]["title"])
    assert page.locator("#gallery-controls").is_hidden()  # controls need JavaScript
    ctx.close()


def test_paging_through_every_trace(page, built, site_url):
    site, _ = built
    meta = read_shard(site, "meta")
    cards = cards_by_id(site)
    open_index(page, site_url)
    pages = math.ceil(meta["n"] / meta["page_size"])
    seen: list[str] = []
    for k in range(1, pages + 1):
        if k > 1:
            page.click(f"#pager a[data-page='{k}']:not(.next):not(.prev)")
            wait_view(page)
            assert f"page={k}" in page.evaluate("location.hash")
        seen += titles(page)
    assert seen == [cards[i]["t"] for i in range(meta["n"])]
    # sections still show as headings in the gallery's own order, past the first page too
    assert page.locator(".section[data-section='beta'] h2").count() == 1


def test_sort_over_all_traces_across_sections(page, built, site_url):
    site, traces = built
    meta = read_shard(site, "meta")
    cards = cards_by_id(site)
    reward = {i: traces[source_of(c, traces)]["scalars"]["reward"] for i, c in cards.items()}
    want = sorted(cards, key=lambda i: (-reward[i], i))
    open_index(page, site_url)
    page.select_option("#sort", "sc.reward-desc")
    wait_view(page)
    size = meta["page_size"]
    assert titles(page) == [cards[i]["t"] for i in want[:size]]
    sections = {cards[i]["s"] for i in want[:size]}
    assert sections == {"alpha", "beta"}  # one order across sections
    page.click("#pager a.next")
    wait_view(page)
    assert titles(page) == [cards[i]["t"] for i in want[size : 2 * size]]
    # mean p ascending, against the numbers the trace files hold
    page.select_option("#sort", "p-asc")
    wait_view(page)
    mean_p = {
        i: float(np.mean(np.exp([t["logprob"] for t in traces[source_of(c, traces)]["tokens"]])))
        for i, c in cards.items()
    }
    assert titles(page) == [
        cards[i]["t"] for i in sorted(cards, key=lambda i: (mean_p[i], i))[:size]
    ]
    # the cards drawn from the shards (compact points) carry the trace's own sparkline
    from tracesite.model.summary import sparkline_points

    first = sorted(cards, key=lambda i: (mean_p[i], i))[0]
    drawn = page.get_attribute(".card polyline", "points")
    p = np.exp([t["logprob"] for t in traces[source_of(cards[first], traces)]["tokens"]])
    want_pts = [tuple(map(float, pt.split(","))) for pt in sparkline_points(p).split()]
    got_pts = [tuple(map(float, pt.split(","))) for pt in drawn.split()]
    assert len(got_pts) == len(want_pts) > 2
    assert np.allclose(got_pts, want_pts, atol=0.06)


SORTS = [  # (spec, the shard of the order of all, the order)
    ("n-desc", "col-n.js", lambda c: sorted(c, key=lambda i: (-c[i]["n"], i))),  # ties: by id
    ("title-desc", "ord-title.js", lambda c: sorted(c, key=lambda i: c[i]["t"].casefold())[::-1]),
]


def test_a_sorts_first_pages_are_one_shard_each(page, built, site_url):
    site, _ = built
    meta = read_shard(site, "meta")
    cards = cards_by_id(site)
    size = meta["page_size"]
    loaded: list[str] = []
    page.on("request", lambda r: loaded.append(r.url.rsplit("/", 1)[-1]))
    open_index(page, site_url)
    for spec, _, order in SORTS:
        want = order(cards)
        loaded.clear()
        page.select_option("#sort", spec)
        wait_view(page)
        assert titles(page) == [cards[i]["t"] for i in want[:size]], spec
        k = meta["top"][spec]
        page.click("#pager a.next")
        wait_view(page)
        assert titles(page) == [cards[i]["t"] for i in want[size : 2 * size]], spec
        shards = {name for name in loaded if name.endswith(".js")}
        # no cards-K, no column: pages 1 and 2, and page 3 when the idle prefetch came first
        assert (
            {f"top-{k}-1.js", f"top-{k}-2.js"} <= shards <= {f"top-{k}-{p}.js" for p in (1, 2, 3)}
        ), shards
        assert page.locator("#count").text_content() == f"{meta['n']} traces"


def test_past_the_presorted_pages_the_order_of_all_agrees(page, built, tmp_path):
    """With one pre-sorted page (meta.top_pages 1), page 2 comes from the order of all and
    cards-K, and matches the same order."""
    import shutil

    site, _ = built
    copy = tmp_path / "site"
    shutil.copytree(site, copy)
    meta_js = copy / "assets/index/meta.js"
    text = meta_js.read_text(encoding="utf-8")
    assert '"top_pages":5' in text
    meta_js.write_text(text.replace('"top_pages":5', '"top_pages":1'), encoding="utf-8")
    meta = read_shard(copy, "meta")
    cards = cards_by_id(copy)
    size = meta["page_size"]
    loaded: list[str] = []
    page.on("request", lambda r: loaded.append(r.url.rsplit("/", 1)[-1]))
    open_index(page, copy.as_uri() + "/")
    for spec, order_file, order in SORTS:
        want = order(cards)
        loaded.clear()
        page.select_option("#sort", spec)
        wait_view(page)
        assert titles(page) == [cards[i]["t"] for i in want[:size]], spec
        page.click("#pager a.next")
        wait_view(page)
        assert titles(page) == [cards[i]["t"] for i in want[size : 2 * size]], spec
        # page 2 (loaded by the click, or by the idle prefetch before it) has no top shard
        k = meta["top"][spec]
        assert order_file in loaded and f"top-{k}-2.js" not in loaded, loaded


def test_the_next_page_is_loaded_before_it_is_asked_for(page, built, tmp_path):
    """Once a page is drawn, the shards of the next one load while the browser is idle: the
    pager's next link then draws without a request (here past the one pre-sorted page)."""
    import shutil

    site, _ = built
    copy = tmp_path / "site"
    shutil.copytree(site, copy)
    meta_js = copy / "assets/index/meta.js"
    text = meta_js.read_text(encoding="utf-8")
    meta_js.write_text(text.replace('"top_pages":5', '"top_pages":1'), encoding="utf-8")
    cards = cards_by_id(copy)
    size = read_shard(copy, "meta")["page_size"]
    loaded: list[str] = []
    page.on("request", lambda r: loaded.append(r.url.rsplit("/", 1)[-1]))
    open_index(page, copy.as_uri() + "/")
    page.select_option("#sort", "n-asc")
    wait_view(page)
    want = sorted(cards, key=lambda i: (cards[i]["n"], i))
    for at in (2, 3):  # page 2: prefetched from page 1's top shard; page 3: from page 2
        seen = -1
        for _ in range(50):  # until no shard has been asked for in 300 ms: the prefetch is done
            if len(loaded) == seen:
                break
            seen = len(loaded)
            page.wait_for_timeout(300)
        loaded.clear()
        page.click("#pager a.next")
        wait_view(page)
        assert titles(page) == [cards[i]["t"] for i in want[(at - 1) * size : at * size]]
        assert not [n for n in loaded if n.endswith(".js")], loaded


def test_the_radix_order_is_the_comparator_order(page, built):
    """gallery.js sorts a column by the bits of its doubles; the order must be Python's
    sort_order (ties by id, unknown last) on values that trip bit tricks up: both zeros, both
    infinities, subnormals, negatives, ties, NaN."""
    from tracesite.build.indexwrite import sort_order

    site, _ = built
    open_index(page, site.as_uri() + "/")
    rng = np.random.default_rng(5)
    special = [0.0, -0.0, math.inf, -math.inf, 5e-324, -5e-324, 1e308, -1e308, math.nan, 1.5, -1.5]
    values = np.concatenate(
        [rng.choice(special, 300), rng.normal(0, 1e3, 400), rng.integers(-3, 3, 300)]
    )
    rng.shuffle(values)
    arr = [None if math.isnan(x) else float(x) for x in values]
    for descending in (False, True):
        got = page.evaluate(
            "([v, dir]) => Array.from(TracesiteGallery.argsort("
            "Float64Array.from(v, x => x === null ? NaN : x), dir))",
            [arr, -1 if descending else 1],
        )
        assert got == sort_order(values, descending).tolist()


def test_a_missing_presorted_shard_is_reported(page, built, tmp_path):
    import shutil

    site, _ = built
    copy = tmp_path / "site"
    shutil.copytree(site, copy)
    meta = read_shard(copy, "meta")
    (copy / f"assets/index/top-{meta['top']['n-desc']}-1.js").unlink()
    open_index(page, copy.as_uri() + "/")
    page.select_option("#sort", "n-desc")
    wait_view(page)
    assert page.locator("#count").text_content().startswith("could not load the gallery's data")


def test_a_column_that_failed_to_load_is_loaded_again(page, built, tmp_path):
    """A failed load (a flaky network, or an idle prefetch that failed) is not remembered: the
    next view that needs the column loads it again."""
    import shutil

    site, _ = built
    copy = tmp_path / "site"
    shutil.copytree(site, copy)
    col = copy / "assets/index/col-n.js"
    col.rename(col.with_suffix(".gone"))
    open_index(page, copy.as_uri() + "/")
    search(page, "n<40")
    assert page.locator("#count").text_content().startswith("could not load the gallery's data")
    col.with_suffix(".gone").rename(col)
    search(page, "n<41")
    cards = cards_by_id(copy)
    want = sum(1 for c in cards.values() if c["n"] < 41)
    assert page.locator("#count").text_content() == f"{want} traces"


def test_tag_filter_and_numeric_condition(page, built, site_url):
    site, traces = built
    open_index(page, site_url)
    page.select_option("#tag-filter", "gold")
    wait_view(page)
    assert sorted(titles(page)) == ["Alpha one", "Beta five"]
    assert page.locator("#count").text_content() == "2 traces"
    page.select_option("#tag-filter", "")
    search(page, "reward>0.8")
    cards = cards_by_id(site)
    want = [
        c["t"]
        for i, c in sorted(cards.items())
        if traces[source_of(c, traces)]["scalars"]["reward"] > 0.8
    ]
    assert 0 < len(want) < 60
    assert titles(page) == want


def test_text_search_finds_the_end_of_a_long_trace(page, built, site_url):
    _site, traces = built
    open_index(page, site_url)
    search(page, END_WORD.upper())  # case-folded like the index
    assert titles(page) == ["long.json"]
    link = page.locator("#gallery .card-hit")
    pos = len(traces["beta/long.json"]["tokens"]) - 3 + 1  # " zanzibarword", 1-based
    assert link.text_content() == f"match at position {pos}"
    href = link.get_attribute("href")
    assert href.endswith(f"#pos-{pos}")
    link.click()
    page.wait_for_load_state("load")
    assert page.evaluate("location.hash") == f"#pos-{pos}"
    page.wait_for_selector(f"[data-target='{pos}']", state="attached", timeout=20000)


def test_text_search_finds_notes_and_pages(page, built, site_url):
    open_index(page, site_url)
    search(page, NOTE_WORD)
    docs = page.locator("#doc-hits a")
    assert docs.all_text_contents() == ["Alpha one"]  # the note of alpha/a001.json
    assert docs.first.get_attribute("href").endswith("traces/alpha/a001/index.html")
    assert titles(page) == []  # not in any trace's text
    search(page, PAGE_WORD)
    assert page.locator("#doc-hits a").all_text_contents() == ["About"]
    assert page.locator("#count").text_content() == "0 traces, 1 note"
    search(page, "nothingatallhasthisword")
    assert page.locator("#no-match").is_visible()
    assert page.locator("#doc-hits").is_hidden()


def expected_token_hits(site: Path, traces, token: str, limit: float) -> set[tuple[str, int]]:
    """(title, 1-based position) of every chosen token `token` with p < limit, by numpy."""
    cards = cards_by_id(site)
    out = set()
    for c in cards.values():
        data = traces[source_of(c, traces)]
        text = np.array([t["text"] for t in data["tokens"]])
        p = np.exp(np.array([t["logprob"] for t in data["tokens"]]))
        for k in np.flatnonzero((np.char.lower(np.char.strip(text)) == token) & (p < limit)):
            out.add((str(c["t"]), int(k) + 1))
    return out


def test_token_query_matches_numpy(page, built, site_url):
    site, traces = built
    want = expected_token_hits(site, traces, "wait", 0.3)
    assert len(want) > 50  # more than one batch of 50: "more hits" is needed
    open_index(page, site_url)
    search(page, 'token:"Wait" p<0.3')
    page.wait_for_selector("#token-hits li")
    first = page.locator("#token-hits li").first
    assert float(first.locator(".token-p").text_content().split()[1]) < 0.3
    while True:
        page.wait_for_function(
            "!document.querySelector('.token-status').textContent.startsWith('searching')"
        )
        more = page.locator(".token-more")
        if more.is_hidden():
            break
        more.click()
    got = page.eval_on_selector_all(
        "#token-hits li",
        "els => els.map(e => [e.querySelector('a').textContent, +e.dataset.pos, e.querySelector('a').getAttribute('href')])",
    )
    assert {(t, p) for t, p, _ in got} == want
    assert len(got) == len(want)  # each position once
    assert all(h.endswith(f"#pos-{p}") for _, p, h in got)


def test_token_query_on_a_channel_and_alternatives(page, built, site_url):
    site, traces = built
    cards = cards_by_id(site)
    want = set()
    for c in cards.values():
        data = traces[source_of(c, traces)]
        adv = np.array(data["channels"]["adv"])
        text = np.array([t["text"] for t in data["tokens"]])
        for k in np.flatnonzero((text == " so") & (adv > 1.5)):
            want.add((str(c["t"]), int(k) + 1))
    open_index(page, site_url)
    search(page, "token:so adv>1.5")
    page.wait_for_function(
        "!document.querySelector('.token-status').textContent.startsWith('searching')"
    )
    while page.locator(".token-more").is_visible():
        page.click(".token-more")
        page.wait_for_function(
            "!document.querySelector('.token-status').textContent.startsWith('searching')"
        )
    got = page.eval_on_selector_all(
        "#token-hits li", "els => els.map(e => [e.querySelector('a').textContent, +e.dataset.pos])"
    )
    assert {(t, p) for t, p in got} == want and want
    # alt: matches the listed alternatives (" Waitx" is one in some traces)
    search(page, "alt:waitx")
    page.wait_for_selector("#token-hits li")
    assert page.locator("#token-hits li .token-text").first.text_content() == '" Waitx"'


def test_the_url_hash_restores_a_view(page, built, site_url):
    site, _traces = built
    cards = cards_by_id(site)
    open_index(page, site_url, "#sort=n-desc&section=alpha&page=2")
    assert page.locator("#sort").input_value() == "n-desc"
    assert page.locator("#section-filter").input_value() == "alpha"
    alpha = [i for i, c in cards.items() if c["s"] == "alpha"]
    want = sorted(alpha, key=lambda i: (-cards[i]["n"], i))[60:]
    assert titles(page) == [cards[i]["t"] for i in want]
    assert page.locator("#pager a[aria-current='page']").text_content() == "2"
    # and a view made with the controls is a link that reproduces it
    page.select_option("#section-filter", "")
    page.select_option("#tag-filter", "gold")
    wait_view(page)
    url = page.url
    assert "tag=gold" in url and "sort=n-desc" in url and "section" not in url
    gold = sorted(
        (i for i, c in cards.items() if "gold" in c["g"]), key=lambda i: (-cards[i]["n"], i)
    )
    assert len(gold) == 2
    assert titles(page) == [cards[i]["t"] for i in gold]
    page.goto("about:blank")
    open_index(page, site_url, "#" + url.split("#", 1)[1])
    assert titles(page) == [cards[i]["t"] for i in gold]
    assert page.locator("#tag-filter").input_value() == "gold"
    assert page.locator("#sort").input_value() == "n-desc"


def test_js_and_python_cut_terms_and_hash_alike(page, built):
    """The browser's terms and buckets are the build's (build/shards.py), non-ASCII included."""
    from tracesite.build.shards import fnv1a32, note_terms

    site, _ = built
    page.goto((site / "index.html").as_uri())
    page.wait_for_function("window.TracesiteShards")
    text = "Größe ﬁne ½ naïve İstanbul Σίσυφος " + "x" * 50 + " 東京 e\u0301 don't"
    js = page.evaluate("t => TracesiteShards.terms(t)", text)
    assert js == list(note_terms(text))  # each term once here, in order
    for term in [*js, "wait", "ünïcødé"]:
        assert page.evaluate("t => TracesiteShards.fnv1a(t)", term) == fnv1a32(term)
    assert (
        page.evaluate("t => TracesiteShards.tokenKey(t)", "\u3000 Wait\x1f")
        == "\u3000 Wait\x1f".strip().lower()
    )
