"""A group page's pieces (SPEC §16): the siblings, where they split, and their forks.

The prefix tree is HTML (nested lists a screen reader walks as a tree): each node is a run of
tokens its traces share, with how many traces took it, their mean reward and a link into the
first of them at the position where the run starts (``#pos-N``).
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

from tracesite.model.groups import (
    Node,
    first_divergence,
    forks,
    mean_reward,
    n_unique,
    prefix_tree,
    token_codes,
)

#: Characters of a shared run shown in a tree node (its head and its tail).
RUN_HEAD, RUN_TAIL = 90, 30


def _fmt(v: float | None, digits: int = 3) -> str:
    return "–" if v is None or not math.isfinite(v) else f"{v:.{digits}g}"


def _run_text(trace: Any, start: int, end: int) -> str:
    text = "".join(trace.pieces[start:end])
    if len(text) > RUN_HEAD + RUN_TAIL + 3:
        text = text[:RUN_HEAD] + " … " + text[-RUN_TAIL:]
    return text


def _visible(text: str) -> str:
    """Escaped, with line breaks and tabs shown as symbols (the run is one line of a tree)."""
    return html.escape(text.replace("\n", "↵").replace("\t", "⇥"))


def _node_html(
    node: Node,
    traces: Sequence[Any],
    urls: Sequence[str],
    rewards: Sequence[float | None],
    depth: int,
) -> str:
    first = node.rows[0]
    run = _run_text(traces[first], node.start, node.end)
    n = len(node.rows)
    reward = mean_reward([rewards[r] for r in node.rows])
    href = f"{urls[first]}#pos-{node.start + 1}"
    label = f"{n} trace{'s' if n != 1 else ''}"
    ended = n - sum(len(c.rows) for c in node.children) if node.children else 0
    parts = [
        '<li role="treeitem" aria-expanded="true">' if node.children else '<li role="treeitem">',
        '<div class="gt-node">',
        f'<a class="gt-branch" href="{html.escape(href)}"'
        f' title="open the first of them at position {node.start + 1}">',
        f'<span class="gt-pos">{node.start + 1}–{node.end}</span> ',
        f'<span class="gt-count">{label}</span>',
        f' <span class="gt-reward">reward {_fmt(reward)}</span>' if reward is not None else "",
        "</a> ",
        f'<span class="gt-run">{_visible(run) or "(no shared start)"}</span>',
        f' <span class="gt-ended">({ended} end here)</span>' if ended > 0 else "",
        "</div>",
    ]
    if node.children:
        parts.append('<ul role="group">')
        parts.extend(_node_html(c, traces, urls, rewards, depth + 1) for c in node.children)
        parts.append("</ul>")
    parts.append("</li>")
    return "".join(parts)


def render_group(
    traces: Sequence[Any],
    urls: Sequence[str],
    titles: Sequence[str],
    rewards: Sequence[float | None],
) -> dict[str, Any]:
    """The HTML pieces and numbers of one group page."""
    codes = token_codes(traces)
    root, skipped = prefix_tree(codes)
    fd = first_divergence(codes)
    uniq = n_unique(codes)
    fork_list = forks(traces, root)
    tree = (
        '<ul class="group-tree" role="tree" aria-label="prefix tree of the continuations">'
        f"{_node_html(root, traces, urls, rewards, 0)}</ul>"
    )
    if skipped:
        tree += f'<p class="gt-more">{skipped} further branches are not drawn.</p>'
    rows = []
    for k, t in enumerate(traces):
        mean_p = t.stats.mean_prob
        rows.append(
            "<tr>"
            f'<th scope="row"><a href="{html.escape(urls[k])}">{html.escape(titles[k])}</a></th>'
            f"<td>{_fmt(rewards[k])}</td><td>{t.n_tokens:,}</td><td>{_fmt(mean_p)}</td>"
            + (
                f'<td><a href="{html.escape(urls[k])}#pos-{fd}">at {fd}</a></td>'
                if fd
                else "<td>–</td>"
            )
            + "</tr>"
        )
    siblings = (
        '<table class="siblings"><thead><tr><th scope="col">trace</th><th scope="col">reward</th>'
        '<th scope="col">tokens</th><th scope="col">mean p</th>'
        '<th scope="col">first divergence</th>'
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
    fork_rows = []
    for f in fork_list[:100]:
        branches = ", ".join(f"{_visible(tok)} ×{n}" for tok, n in f.branches)
        alts = ", ".join(f"{_visible(a)} {p:.2f}" for a, p in f.alternatives[:5]) or "–"
        fork_rows.append(
            f"<tr><td>{f.position}</td><td>{branches}</td><td>{_fmt(f.entropy)}</td><td>{alts}</td></tr>"
        )
    fork_table = (
        '<table class="forks"><thead><tr><th scope="col">position</th><th scope="col">branches</th>'
        '<th scope="col">entropy</th><th scope="col">alternatives (first trace)</th></tr></thead>'
        f"<tbody>{''.join(fork_rows)}</tbody></table>"
        if fork_rows
        else ""
    )
    return {
        "n_traces": len(traces),
        "n_unique": uniq,
        "first_divergence": fd,
        "tree_html": tree,
        "siblings_html": siblings,
        "forks_html": fork_table,
        "n_forks": len(fork_list),
    }
