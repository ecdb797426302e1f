"""Groups of sibling traces (SPEC §16, issue 14 point 1): the numbers are exact."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tracesite import Trace, TraceMeta
from tracesite.model.groups import (
    by_group,
    first_divergence,
    forks,
    group_stats,
    prefix_tree,
    token_codes,
)


def traces_of(*texts: list[str], group: str = "g") -> list[Trace]:
    return [Trace(tokens=t, logprobs=[-0.1] * len(t), meta=TraceMeta(group=group)) for t in texts]


def brute_first_divergence(seqs: list[list[str]]) -> int | None:
    longest = max(map(len, seqs))
    for i in range(longest):
        column = {tuple(s[i : i + 1]) for s in seqs}  # () where a sequence has ended
        if len(column) > 1:
            return i + 1
    return None


def test_stats_of_a_small_group() -> None:
    ts = traces_of(
        ["The", " answer", " is", " 4"],
        ["The", " answer", " is", " 4"],
        ["The", " answer", " was", " 4"],
        ["The", " answer"],
    )
    st_ = group_stats("g", ts)
    assert (st_.n_traces, st_.n_unique, st_.first_divergence) == (4, 3, 3)
    assert group_stats("g", ts[:2]).first_divergence is None
    root, skipped = prefix_tree(token_codes(ts))
    assert (root.start, root.end, skipped) == (0, 2, 0)  # "The answer" shared by all
    assert [c.rows for c in root.children] == [[0, 1], [2]]  # " is" (2 rows) before " was"
    (fork,) = forks(ts, root)
    assert fork.position == 3 and fork.branches == ((" is", 2), (" was", 1))


seqs = st.lists(st.lists(st.sampled_from(["a", "b", " c"]), max_size=6), min_size=2, max_size=8)


@settings(max_examples=200, deadline=None)
@given(seqs)
def test_numbers_match_a_brute_force_count(ss: list[list[str]]) -> None:
    ts = traces_of(*ss)
    st_ = group_stats("g", ts)
    assert st_.n_unique == len({tuple(s) for s in ss})
    assert st_.first_divergence == brute_first_divergence(ss)
    # every row's whole sequence is spelled by one path of the tree
    root, _ = prefix_tree(token_codes(ts))

    def leaves(node, path):  # type: ignore[no-untyped-def]
        yield node, path
        for c in node.children:
            yield from leaves(c, [*path, c])

    codes = token_codes(ts)
    for row, s in enumerate(ss):
        ends = [n.end for n, _ in leaves(root, [root]) if row in n.rows]
        assert max(ends) >= len(s)  # the deepest node holding the row reaches its end
    if first_divergence(codes) is not None:
        assert root.end == first_divergence(codes) - 1


def test_by_group_keeps_first_seen_order() -> None:
    a = traces_of(["x"], group="b") + traces_of(["y"], group="a") + traces_of(["z"], group="b")
    assert list(by_group(a)) == ["b", "a"] and len(by_group(a)["b"]) == 2


def test_a_thousand_long_siblings_are_exact() -> None:
    rng = np.random.default_rng(0)
    base = [f"t{i}" for i in rng.integers(0, 50, 2000)]
    ss = []
    for k in range(1000):
        s = list(base)
        cut = 100 + (k % 80)  # 80 distinct fork points after ~100 shared tokens
        s[cut] = "FORK"
        ss.append(s)
    st_ = group_stats("g", traces_of(*ss))
    assert (st_.n_traces, st_.n_unique, st_.first_divergence) == (1000, 80, 101)


def test_inspect_groups_json(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    import json

    import tracesite
    from tracesite.commands.inspect import run_inspect

    tracesite.save(
        traces_of(["a", "b"], ["a", "c"], ["a", "b"], group="g1"), tmp_path / "one.jsonl"
    )
    tracesite.save(
        traces_of(["z"], group="g2") + traces_of(["q"], group="g1"), tmp_path / "two.jsonl"
    )
    tracesite.save(traces_of(["solo"], group=None), tmp_path / "three.json")  # type: ignore[arg-type]
    files = [str(tmp_path / n) for n in ("one.jsonl", "two.jsonl", "three.json")]
    assert run_inspect(files, as_json=True, groups=True) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows == [
        {"group": "g1", "n_traces": 4, "n_unique": 3, "first_divergence": 1},
        {"group": "g2", "n_traces": 1, "n_unique": 1, "first_divergence": None},
    ]


def test_the_choices_of_one_response_are_a_group(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    import tracesite

    def choice(i: int, words: list[str]) -> dict[str, object]:
        content = [{"token": w, "logprob": -0.1, "top_logprobs": []} for w in words]
        return {
            "index": i,
            "message": {"role": "assistant", "content": "".join(words)},
            "finish_reason": "stop",
            "logprobs": {"content": content},
        }

    doc = {
        "id": "chatcmpl-9",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [choice(0, ["Hi", " there"]), choice(1, ["Hi", " you"])],
    }
    (tmp_path / "n2.json").write_text(json.dumps(doc))
    a, b = tracesite.load(tmp_path / "n2.json")
    assert a.meta.group == b.meta.group == "chatcmpl-9"
    doc["choices"] = doc["choices"][:1]
    (tmp_path / "n1.json").write_text(json.dumps(doc))
    (only,) = tracesite.load(tmp_path / "n1.json")
    assert only.meta.group is None  # one choice: no siblings
