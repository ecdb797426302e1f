"""Writing the gallery's shards (docs/scale.md): token shards, text postings, token index,
cards, columns, tags, docs and meta, from the spooled cards and the render cache.

One pass over the tasks in gallery order reads each task's cache entry once (its traces' token
shard entries, its spooled terms and keys), then each index is merged one bucket at a time, then
the cards are read back from the spool: memory holds a shard, a bucket, and a few numbers per
trace (numpy columns), never the gallery's cards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tracesite.build.cache import load_whole
from tracesite.build.postings import BucketSpool
from tracesite.build.shards import b64, group_by_hash, note_terms, shard_js
from tracesite.build.spool import CardSpool
from tracesite.build.tokenshards import TokenShards
from tracesite.site.gallery import js_json

#: Cards per ``cards-K`` shard.
CARD_SHARD = 16  # cards per cards-K shard: a sorted page of 60 draws from up to 60 of them
#: Pages of each sort kept pre-sorted in ``top-K-P`` shards: each is one load instead of one per
#: ``cards-K`` its cards fall in (up to 60, ~300 ms at 100,000 traces). Five pages of a dozen
#: sorts cost ~2 MB of site at any gallery size.
TOP_PAGES = 5
#: Where the viewer draws a trace without a page.
VIEWER_URL = "view/index.html"
META_JS = "assets/index/meta.js"

Write = Callable[[str, str], None]


@dataclass(frozen=True)
class IndexTask:
    """A render task's place in the gallery: its cache entry and section."""

    task: int
    key: str
    section: str
    rank: int  # the section's place in the gallery's order
    pages: bool  # its traces have pages of their own
    n: int = 0  # its traces


@dataclass(frozen=True)
class Doc:
    """A note or a standalone page as a search document."""

    url: str
    title: str
    text: str  # the body as plain text


@dataclass
class Placed:
    """Where the shards put each trace: its id's base per task, its token shard and slot."""

    order: list[IndexTask]
    base: dict[int, int]
    count: dict[int, int]
    shard: np.ndarray[Any, Any] = field(default_factory=lambda: np.zeros(0, np.int32))
    slot: np.ndarray[Any, Any] = field(default_factory=lambda: np.zeros(0, np.int32))
    n_token_shards: int = 0

    @property
    def n(self) -> int:
        return sum(self.count.values())

    def viewer_url(self, i: int) -> str:
        return f"{VIEWER_URL}?t={int(self.shard[i])}.{int(self.slot[i])}"


def place(tasks: Sequence[IndexTask], counts: dict[int, int]) -> Placed:
    """The gallery's order of the tasks that gave cards, and each one's first id."""
    order = sorted((t for t in tasks if counts.get(t.task)), key=lambda t: (t.rank, t.task))
    base, at = {}, 0
    for t in order:
        base[t.task] = at
        at += counts[t.task]
    return Placed(order, base, {t.task: counts[t.task] for t in order})


def write_traces_pass(
    placed: Placed, cache_dir: Path, write: Write, terms: BucketSpool, keys: BucketSpool
) -> list[str]:
    """Token shards in id order (each with one string table, :mod:`build.tokenshards`), and
    each task's terms and keys spooled with its base id. Returns the problems (a cache entry
    gone mid-build)."""
    n = placed.n
    placed.shard, placed.slot = np.zeros(n, np.int32), np.zeros(n, np.int32)
    shards = TokenShards(write)
    problems = []
    for t in placed.order:
        base, count = placed.base[t.task], placed.count[t.task]
        try:
            _, fragments, parts = load_whole(cache_dir, t.key)
        except (OSError, ValueError) as exc:
            problems.append(f"the rendered trace left the cache: {exc}")
            continue
        for j, frag in enumerate(fragments[len(fragments) - count :]):
            placed.shard[base + j], placed.slot[base + j] = shards.add(base + j, frag)
        terms.add(base, parts.get("terms", b""))
        keys.add(base, parts.get("keys", b""))
    shards.flush()
    placed.n_token_shards = shards.shard
    return problems


def spool_docs(docs: Sequence[Doc], n: int, terms: BucketSpool) -> None:
    """The notes' and pages' terms, as documents ``n..``."""
    for d, doc in enumerate(docs):
        terms.add(n + d, group_by_hash([note_terms(doc.title + "\n" + doc.text)]))


def write_postings(terms: BucketSpool, write: Write) -> int:
    """``s-<b>``: ``{term: [id, pos, ...]}``; returns the bucket count."""
    n_buckets = terms.buckets()
    for b, got in terms.merged(n_buckets, pairs=True):
        body = ",".join(f"{js_json(t)}:[{_ints(ids)}]" for t, ids in got.items())
        write(f"assets/index/s-{b}.js", shard_js(f"s-{b}", "{" + body + "}"))
    return n_buckets


def write_token_index(keys: BucketSpool, placed: Placed, write: Write) -> int:
    """``k-<b>``: ``{key: [token shard, ...]}``; returns the bucket count."""
    n_buckets = keys.buckets()
    for b, got in keys.merged(n_buckets, pairs=False):
        body = ",".join(
            f"{js_json(k)}:[{_ints(np.unique(placed.shard[ids]))}]" for k, ids in got.items()
        )
        write(f"assets/index/k-{b}.js", shard_js(f"k-{b}", "{" + body + "}"))
    return n_buckets


def _ints(values: Iterable[int] | np.ndarray[Any, Any]) -> str:
    seq = values.tolist() if isinstance(values, np.ndarray) else list(values)
    return ",".join(map(str, seq))


@dataclass
class Columns:
    """Per trace id, the numbers the browser sorts and filters by."""

    n: int
    num: dict[str, np.ndarray[Any, Any]] = field(default_factory=dict)
    titles: list[str] = field(default_factory=list)
    section: np.ndarray[Any, Any] = field(default_factory=lambda: np.zeros(0, np.uint16))

    def column(self, name: str) -> np.ndarray[Any, Any]:
        if name not in self.num:
            self.num[name] = np.full(self.n, np.nan)
        return self.num[name]


def _days(date: str) -> float:
    """An ISO date as days since 1970-01-01 (NaN when it is none)."""
    try:
        return float(np.datetime64(date[:10], "D").astype(np.int64))
    except ValueError:
        return float("nan")


def _number(v: object) -> float:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else float("nan")


def write_cards_pass(
    placed: Placed, spool: CardSpool, page_urls: dict[tuple[int, int], str], write: Write
) -> Columns:
    """``cards-K`` in id order, each card's ``u`` its page or its viewer URL; the columns."""
    cols = Columns(placed.n, section=np.zeros(placed.n, np.uint16))
    ranks = sorted({t.rank for t in placed.order})
    sec_index = {r: k for k, r in enumerate(ranks)}
    buf: list[str] = []
    for t in placed.order:
        base = placed.base[t.task]
        for j, rec in enumerate(spool.records(t.task)):
            i = base + j
            rec = _shard_card(placed, page_urls, t, j, rec)
            buf.append(js_json(rec))
            if len(buf) == CARD_SHARD:
                _flush_cards(write, i // CARD_SHARD, buf)
                buf = []
            _fill_columns(cols, i, rec)
            cols.section[i] = sec_index[t.rank]
    if buf:
        _flush_cards(write, (placed.n - 1) // CARD_SHARD, buf)
    return cols


def _shard_card(
    placed: Placed,
    page_urls: dict[tuple[int, int], str],
    t: IndexTask,
    j: int,
    rec: dict[str, Any],
) -> dict[str, Any]:
    """A spooled card as ``cards-K`` holds it: its id, and ``u`` its page or viewer URL."""
    i = placed.base[t.task] + j
    url = page_urls.get((t.task, j)) if t.pages else None
    return {"i": i, "u": url or placed.viewer_url(i), **rec}


def _fill_columns(cols: Columns, i: int, rec: dict[str, Any]) -> None:
    cols.column("n")[i] = _number(rec.get("n"))
    cols.column("p")[i] = _number(rec.get("p"))
    cols.column("q")[i] = _number(rec.get("q"))
    cols.column("d")[i] = _days(str(rec.get("d") or ""))
    for name, v in (rec.get("sc") or {}).items():
        cols.column(f"sc.{name}")[i] = _number(v)
    cols.titles.append(str(rec.get("t", "")).casefold())


def _flush_cards(write: Write, k: int, buf: list[str]) -> None:
    write(f"assets/index/cards-{k}.js", shard_js(f"cards-{k}", "[" + ",".join(buf) + "]"))


def write_columns(cols: Columns, write: Write) -> tuple[list[dict[str, str]], np.ndarray[Any, Any]]:
    """``col-<field>``, ``ord-title``, ``col-section``; returns the meta's fields and the
    title order."""
    labels = {"n": "Tokens", "p": "Mean p", "q": "Perplexity", "d": "Date"}
    fields = [{"name": "title", "label": "Title", "kind": "text"}]
    for name, values in cols.num.items():
        write(
            f"assets/index/col-{name}.js", shard_js(f"col-{name}", js_json({"v:f64": b64(values)}))
        )
        kind = "date" if name == "d" else "num"
        fields.append(
            {"name": name, "label": labels.get(name, name.removeprefix("sc.")), "kind": kind}
        )
    order = np.array(sorted(range(cols.n), key=cols.titles.__getitem__), dtype=np.uint32)
    write("assets/index/ord-title.js", shard_js("ord-title", js_json({"ids:u32": b64(order)})))
    write(
        "assets/index/col-section.js",
        shard_js("col-section", js_json({"v:u16": b64(cols.section)})),
    )
    return fields, order


def sort_order(values: np.ndarray[Any, Any], descending: bool) -> np.ndarray[Any, Any]:
    """Trace ids in gallery.js's order of a numeric column: known values ascending (or
    descending), ties by id; unknown (NaN) values last, by id."""
    known = np.flatnonzero(~np.isnan(values))
    keys = -values[known] if descending else values[known]
    ranked = known[np.argsort(keys, kind="stable")]
    return np.concatenate([ranked, np.flatnonzero(np.isnan(values))])


def top_orders(
    cols: Columns, title_order: np.ndarray[Any, Any], k: int
) -> dict[str, np.ndarray[Any, Any]]:
    """The first ``k`` ids of every sort the gallery offers, by its ``#sort=`` spec."""
    out: dict[str, np.ndarray[Any, Any]] = {}
    for name, values in cols.num.items():
        key = "date" if name == "d" else name
        out[f"{key}-desc"] = sort_order(values, True)[:k]
        out[f"{key}-asc"] = sort_order(values, False)[:k]
    out["title-asc"] = title_order[:k]
    out["title-desc"] = title_order[::-1][:k]
    return out


def write_top_pages(
    placed: Placed,
    spool: CardSpool,
    page_urls: dict[tuple[int, int], str],
    orders: dict[str, np.ndarray[Any, Any]],
    page_size: int,
    write: Write,
) -> dict[str, int]:
    """``top-K-P``: the cards of page ``P`` (1-based) of sort ``K``, in order, for its first
    pages; returns the meta's ``top`` (sort spec -> K)."""
    bases = np.array([placed.base[t.task] for t in placed.order], dtype=np.int64)
    cards: dict[int, dict[str, Any]] = {}
    for i in sorted({int(i) for ids in orders.values() for i in ids}):
        at = int(np.searchsorted(bases, i, side="right")) - 1
        t = placed.order[at]
        j = i - int(bases[at])
        cards[i] = _shard_card(placed, page_urls, t, j, spool.record(t.task, j))
    top: dict[str, int] = {}
    for k, (spec, ids) in enumerate(orders.items()):
        for page, at in enumerate(range(0, len(ids), page_size), start=1):
            body = "[" + ",".join(js_json(cards[int(i)]) for i in ids[at : at + page_size]) + "]"
            write(f"assets/index/top-{k}-{page}.js", shard_js(f"top-{k}-{page}", body))
        top[spec] = k
    return top


def write_tags(tags: dict[str, list[int]], write: Write) -> list[list[object]]:
    """``tag-<k>``: each tag's sorted ids; returns the meta's ``tags``."""
    out: list[list[object]] = []
    for k, (tag, ids) in enumerate(tags.items()):
        arr = np.unique(np.array(ids, dtype=np.uint32))
        write(f"assets/index/tag-{k}.js", shard_js(f"tag-{k}", js_json({"ids:u32": b64(arr)})))
        out.append([tag, len(arr)])
    return out


def write_docs(docs: Sequence[Doc], n: int, write: Write) -> None:
    items = [{"i": n + d, "u": doc.url, "t": doc.title} for d, doc in enumerate(docs)]
    write("assets/index/docs.js", shard_js("docs", js_json(items)))


def section_rows(placed: Placed, titles: dict[int, tuple[str, str]]) -> list[dict[str, object]]:
    """The meta's sections: name, title, count and first id, in order."""
    rows: list[dict[str, object]] = []
    for t in placed.order:
        name, title = titles[t.rank]
        if not rows or rows[-1]["name"] != name:
            rows.append({"name": name, "title": title, "count": 0, "first": placed.base[t.task]})
        rows[-1]["count"] = int(str(rows[-1]["count"])) + placed.count[t.task]
    return rows


@dataclass(frozen=True)
class GalleryIndex:
    """What the build gathered for the shards: the tasks, the spooled cards, the pages."""

    tasks: list[IndexTask]
    spool: CardSpool
    spool_dir: Path
    cache_dir: Path
    section_titles: dict[int, tuple[str, str]]  # rank -> (name, title)
    page_urls: dict[tuple[int, int], str]  # (task, local) -> the trace's page, when it has one
    page_size: int
    dropped: frozenset[int] = frozenset()  # tasks of files that failed


def write_gallery_index(
    index: GalleryIndex,
    tags: dict[str, list[tuple[int, int]]],
    docs: Sequence[Doc],
    write: Write,
) -> tuple[Placed, list[str]]:
    """Every shard of docs/scale.md; returns where the traces went and the problems."""
    counts = {k: v for k, v in index.spool.counts().items() if k not in index.dropped}
    placed = place(index.tasks, counts)
    terms = BucketSpool(index.spool_dir, "terms")
    keys = BucketSpool(index.spool_dir, "keys")
    problems = write_traces_pass(placed, index.cache_dir, write, terms, keys)
    spool_docs(docs, placed.n, terms)
    search_buckets = write_postings(terms, write)
    token_buckets = write_token_index(keys, placed, write)
    cols = write_cards_pass(placed, index.spool, index.page_urls, write)
    fields, title_order = write_columns(cols, write)
    orders = top_orders(cols, title_order, TOP_PAGES * index.page_size) if placed.n else {}
    top = write_top_pages(placed, index.spool, index.page_urls, orders, index.page_size, write)
    tag_ids = {
        tag: [placed.base[t] + j for t, j in members if t in placed.base]
        for tag, members in tags.items()
    }
    write_docs(docs, placed.n, write)
    meta = {
        "version": 1,
        "n": placed.n,
        "n_docs": placed.n + len(docs),
        "page_size": index.page_size,
        "card_shard": CARD_SHARD,
        "top": top,
        "top_pages": TOP_PAGES,
        "sections": section_rows(placed, index.section_titles),
        "tags": write_tags(tag_ids, write),
        "fields": fields,
        "search_buckets": search_buckets,
        "token_buckets": token_buckets,
        "token_shards": [str(k) for k in range(placed.n_token_shards)],
        "docs": "docs",
    }
    write(META_JS, shard_js("meta", js_json(meta)))
    return placed, problems
