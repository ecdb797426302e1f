"""Coverage-guided fuzzing of the trace readers with atheris (libFuzzer for Python).

The readers' contract (SPEC §13): on any bytes, either sound traces come back or
:class:`tracesite.core.errors.TraceReadError` is raised; nothing else may escape. This harness checks
that on inputs libFuzzer evolves from the seed corpus (the real API files in tests/fixtures/real
plus small hand-made seeds), in two modes:

- ``bytes``: the input is the file (libFuzzer flips, inserts, splices and truncates bytes);
- ``json``:  the input picks a seed document, a place in it and a JSON value to put there, so the
  fuzzer reaches the type checks deep inside each reader instead of stopping at the JSON parser.

Run (bounded; crashes are written as ``crash-*`` files under the artifact prefix)::

    python bench/fuzz_readers.py --write-seeds /tmp/fuzz/corpus
    python bench/fuzz_readers.py --mode bytes -max_total_time=60 -artifact_prefix=/tmp/fuzz/ \\
        /tmp/fuzz/corpus

With ``--findings DIR`` the harness does not stop at the first crash: it writes one input file
(the bytes given to the reader) and its traceback per distinct crash (exception type and the
innermost tracesite frame) into DIR and keeps fuzzing, to collect several bugs in one run.

tests/test_bad_input.py runs both modes for a bounded time (marked slow). atheris is the
``fuzz`` extra (``pip install -e ".[fuzz]"``, Linux only): it is not needed to use tracesite.
"""

from __future__ import annotations

import json
import math
import sys
import traceback
from pathlib import Path
from typing import Any

import atheris

with atheris.instrument_imports(include=["tracesite"]):
    from tracesite.core.errors import TraceReadError
    from tracesite.formats import read_bytes
    from tracesite.model.trace import Trace

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "real"
MAX_SEED_BYTES = 60_000  # larger seeds slow every execution down for little new coverage

#: Small seeds for the formats the fixture folder has no small file of.
EXTRA_SEEDS: dict[str, bytes] = {
    "native.json": b'{"tracesite": 1, "model": "m", "tokens": [{"text": "a", "logprob": -0.1, '
    b'"top": [{"text": "a", "logprob": -0.1}, {"text": "b", "logprob": -2.5}]}, '
    b'{"text": "\\n", "prob": 0.5, "bytes": [10], "id": 7}]}',
    "native.jsonl": b'{"tracesite": 1, "tokens": [{"text": "a", "logprob": null}]}\n'
    b'{"tracesite": 1, "tokens": []}\n',
    "completions.json": b'{"object": "text_completion", "choices": [{"index": 0, "text": "ab", '
    b'"logprobs": {"tokens": ["a", "bytes:\\\\xe2"], "token_logprobs": [-0.1, -9999], '
    b'"top_logprobs": [{"a": -0.1}, null], "text_offset": [0, 1]}, "finish_reason": "stop"}]}',
    "llamacpp-old.json": b'{"content": "a", "completion_probabilities": [{"content": "a", '
    b'"probs": [{"tok_str": "a", "prob": 1.0}, {"tok_str": "byte: \\\\x89", "prob": 0}]}]}',
    "ollama.jsonl": b'{"model": "m", "response": "a", "done": false, "logprobs": [{"token": "a",'
    b' "logprob": -0.2, "top_logprobs": []}]}\n{"model": "m", "response": "", "done": true}\n',
    "chat-stream.sse": b'data: {"object": "chat.completion.chunk", "choices": [{"index": 0, '
    b'"delta": {"content": "a"}, "logprobs": {"content": [{"token": "a", "logprob": -0.1, '
    b'"bytes": [97], "top_logprobs": []}]}}]}\n\ndata: [DONE]\n\n',
}


def seeds() -> dict[str, bytes]:
    """The seed corpus: small real files plus :data:`EXTRA_SEEDS`."""
    out = {
        p.name: p.read_bytes()
        for p in sorted(FIXTURES.rglob("*"))
        if p.is_file() and p.stat().st_size <= MAX_SEED_BYTES
    }
    out.update(EXTRA_SEEDS)
    return out


def check(data: bytes) -> None:
    """The contract: sound traces, or TraceReadError with the file named. Anything else raises."""
    try:
        traces = read_bytes(data, "fuzz.json")
    except TraceReadError as exc:
        if exc.path != "fuzz.json":
            raise AssertionError(f"error without the file's name: {exc!r}") from None
        return
    if not traces:
        raise AssertionError("no traces and no error")
    for t in traces:
        if not isinstance(t, Trace):
            raise AssertionError(f"not a Trace: {type(t).__name__}")
        s = t.stats  # statistics and the rebuilt text never crash on an accepted trace
        if not isinstance(s.text, str) or s.n_tokens != len(t):
            raise AssertionError("inconsistent stats")
        if s.mean_prob is not None and not 0.0 <= s.mean_prob <= 1.0:
            raise AssertionError(f"mean p outside [0, 1]: {s.mean_prob}")
        json.dumps(dict(t.meta.extra), allow_nan=False)


class Findings:
    """Distinct crashes of one ``--findings`` run: one input and traceback each."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.seen: set[str] = set()
        folder.mkdir(parents=True, exist_ok=True)

    def record(self, data: bytes, exc: BaseException) -> None:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if "tracesite" in f.filename]
        where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"
        signature = f"{type(exc).__name__}@{where}"
        if signature in self.seen:
            return
        self.seen.add(signature)
        stem = f"{len(self.seen):02d}-{signature.replace(':', '-').replace('@', '-')}"
        (self.folder / f"{stem}.input").write_bytes(data)
        (self.folder / f"{stem}.txt").write_text(
            "".join(traceback.format_exception(exc)), encoding="utf-8"
        )
        print(f"finding {signature}: {self.folder / stem}.input", file=sys.stderr, flush=True)


FINDINGS: list[Findings] = []  # empty: crash as libFuzzer expects; else record and go on


def guarded_check(data: bytes) -> None:
    """:func:`check`, recording crashes instead of raising when ``--findings`` was given."""
    if not FINDINGS:
        check(data)
        return
    try:
        check(data)
    except Exception as exc:  # every escape is a finding, recorded with its input
        FINDINGS[0].record(data, exc)


# -- json mode ---------------------------------------------------------------------------------------


def _value(fdp: Any, depth: int = 0) -> Any:
    """An arbitrary JSON value (NaN and huge numbers included), drawn from the input."""
    kind = fdp.ConsumeIntInRange(0, 9 if depth < 3 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return fdp.ConsumeBool()
    if kind == 2:
        return fdp.ConsumeIntInRange(-(2**64), 2**64)
    if kind == 3:
        return fdp.PickValueInList([math.nan, math.inf, -math.inf, -9999.0, -1.27e30, 1e-7, 0.0])
    if kind == 4:
        return fdp.ConsumeRegularFloat()
    if kind in (5, 6):
        return fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 12))
    if kind == 7:
        return [_value(fdp, depth + 1) for _ in range(fdp.ConsumeIntInRange(0, 4))]
    return {
        fdp.ConsumeUnicodeNoSurrogates(6): _value(fdp, depth + 1)
        for _ in range(fdp.ConsumeIntInRange(0, 4))
    }


def _places(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out.extend(_places(v, (*prefix, k)))
    elif isinstance(value, list):
        for i, v in enumerate(value[:20]):
            out.extend(_places(v, (*prefix, i)))
    return out


def _json_seeds() -> list[tuple[Any, list[tuple[Any, ...]]]]:
    docs = []
    for data in seeds().values():
        try:
            doc = json.loads(data)
        except ValueError:
            continue  # JSON lines and SSE: covered by the bytes mode
        docs.append((doc, _places(doc)[:3000]))
    return docs


JSON_SEEDS: list[tuple[Any, list[tuple[Any, ...]]]] = []


def one_json_input(data: bytes) -> None:
    """Replace (or delete) one value of a seed document, then read the result."""
    fdp = atheris.FuzzedDataProvider(data)
    doc, places = JSON_SEEDS[fdp.ConsumeIntInRange(0, len(JSON_SEEDS) - 1)]
    doc = json.loads(json.dumps(doc))
    for _ in range(fdp.ConsumeIntInRange(1, 3)):
        place = places[fdp.ConsumeIntInRange(0, len(places) - 1)]
        new = _value(fdp)
        if not place:
            doc = new
            break
        target = doc
        try:
            for key in place[:-1]:
                target = target[key]
            if fdp.ConsumeBool() and isinstance(target, dict):
                target.pop(place[-1], None)  # a missing key
            else:
                target[place[-1]] = new
        except (KeyError, IndexError, TypeError):
            continue  # an earlier replacement changed the shape
    guarded_check(json.dumps(doc, allow_nan=True).encode("utf-8"))


def main(argv: list[str]) -> None:
    mode = "bytes"
    if "--mode" in argv:
        at = argv.index("--mode")
        mode = argv[at + 1]
        del argv[at : at + 2]
    if "--findings" in argv:
        at = argv.index("--findings")
        FINDINGS.append(Findings(Path(argv[at + 1])))
        del argv[at : at + 2]
    if mode == "json":
        JSON_SEEDS.extend(_json_seeds())
        atheris.Setup(argv, one_json_input)
    elif mode == "bytes":
        atheris.Setup(argv, guarded_check)
    else:
        raise SystemExit(f"unknown --mode {mode!r}: bytes or json")
    atheris.Fuzz()


if __name__ == "__main__":
    if "--write-seeds" in sys.argv:  # python bench/fuzz_readers.py --write-seeds DIR
        folder = Path(sys.argv[sys.argv.index("--write-seeds") + 1])
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in seeds().items():
            (folder / name).write_bytes(data)
        raise SystemExit(0)
    main(sys.argv)
