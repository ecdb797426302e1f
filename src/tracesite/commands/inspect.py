"""``tracesite inspect FILE... [--json]``: what tracesite understood of each trace file.

Human output is a table, one row per trace, each followed by the start of its text (escaped: the
text is untrusted model output and must not drive the terminal). ``--json`` prints a JSON array
with the keys of SPEC §4 plus ``model``, ``finish_reason``, ``channels`` (the names, SPEC §15),
``channel_stats`` (per channel mean/min/max/n), ``group``, ``scalars``, ``provenance`` and
``flags`` (the data checks of :mod:`tracesite.model.checks`; the table counts them). A file
that cannot be read is reported as ``path: address: message`` on stderr; the other files are
still reported; exit 1.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import unicodedata
from pathlib import Path
from typing import Any, TextIO

from tracesite.core.config import project_config
from tracesite.core.errors import TracesiteError
from tracesite.core.options import ReadOptions
from tracesite.formats import load
from tracesite.model.channels import channel_stats
from tracesite.model.checks import data_flags
from tracesite.model.groups import by_group, group_stats
from tracesite.model.summary import provenance_of
from tracesite.model.trace import Trace

#: Column headers and widths of the human table (text columns are left-aligned).
_COLUMNS = (
    ("FILE", 0),
    ("#", 3),
    ("FORMAT", 0),
    ("MODEL", 0),
    ("TOKENS", 7),
    ("TOP-K", 5),
    ("MEAN P", 7),
    ("PPL", 7),
    ("MIN P", 7),
    ("UNKNOWN", 7),
    ("OUTSIDE", 7),
    ("FLAGS", 5),
    ("FINISH", 0),
)
_TEXT_LINES = 2  # how many terminal lines of text to show under each row
#: Characters JSON leaves unescaped that a terminal may still act on (DEL, C1 controls such as
#: CSI U+009B) or that break lines in some viewers (U+2028/U+2029). Only found inside strings.
_UNSAFE_IN_JSON = re.compile("[\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def trace_summary(trace: Trace) -> dict[str, Any]:
    """The ``inspect --json`` object of one trace."""
    m = trace.meta
    out: dict[str, Any] = {
        "source": m.source,
        "index": m.index,
        "format": m.format,
        "model": m.model,
        "finish_reason": m.finish_reason,
    }
    out.update(trace.stats.as_dict())
    out["channels"] = list(trace.channel_names)
    out["channel_stats"] = channel_stats(trace)
    out["group"] = m.group
    out["scalars"] = dict(m.scalars)
    out["provenance"] = provenance_of(trace)
    out["flags"] = [f.as_dict() for f in data_flags(trace)]
    return out


def visible(text: str) -> str:
    """Text safe and readable on a terminal: newlines as ↵, tabs as ⇥, other control and
    format characters (ESC, NUL, ZWSP, BOM, U+2028...) as ``\\x1b``/``\\u200b`` escapes."""
    out = []
    for ch in text:
        if ch == "\n":
            out.append("↵")
        elif ch == "\t":
            out.append("⇥")
        elif ch == " " or ch.isprintable():
            out.append(ch)
        else:
            code = ord(ch)
            out.append(
                f"\\x{code:02x}"
                if code < 0x100
                else f"\\u{code:04x}"
                if code < 0x10000
                else f"\\U{code:08x}"
            )
    return "".join(out)


def _width(s: str) -> int:
    """Terminal cells taken by ``s`` (wide East Asian characters take two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


def _cut(s: str, cells: int) -> str:
    """``s`` cut to at most ``cells`` terminal cells, with … when shortened."""
    if _width(s) <= cells:
        return s
    out, used = [], 0
    for c in s:
        w = 2 if unicodedata.east_asian_width(c) in "WF" else 1
        if used + w > cells - 1:
            break
        out.append(c)
        used += w
    return "".join(out) + "…"


def _cut_left(s: str, cells: int) -> str:
    """``s`` cut from the left (a path keeps its file name), with … when shortened."""
    if _width(s) <= cells:
        return s
    return "…" + _cut(s[::-1], cells)[:-1][::-1]


def _num(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _row(s: dict[str, Any]) -> list[str]:
    return [
        s["source"],
        str(s["index"]),
        s["format"],
        s["model"] or "-",
        str(s["n_tokens"]),
        str(s["top_k"]),
        _num(s["mean_prob"]),
        _num(s["perplexity"], 2),
        _num(s["min_prob"], 4),
        str(s["n_unknown"]),
        str(s["n_outside_top_k"]),
        str(len(s["flags"])),
        s["finish_reason"] or "-",
    ]


def print_table(summaries: list[dict[str, Any]], out: TextIO, width: int) -> None:
    """The human table: a header, then per trace a row and an indented line of its text."""
    rows = [[visible(c) for c in _row(s)] for s in summaries]
    widths = [
        max([_width(h)] + [_width(r[i]) for r in rows]) if fixed == 0 else max(fixed, len(h))
        for i, (h, fixed) in enumerate(_COLUMNS)
    ]
    widths[0] = min(widths[0], 44)
    widths[3] = min(widths[3], 26)

    def line(cells: list[str]) -> str:
        parts = []
        for k, ((_, fixed), cell, w) in enumerate(zip(_COLUMNS, cells, widths, strict=True)):
            cell = _cut_left(cell, w) if k == 0 else _cut(cell, w)
            pad = " " * (w - _width(cell))
            parts.append(pad + cell if fixed else cell + pad)
        return "  ".join(parts).rstrip()

    out.write(line([h for h, _ in _COLUMNS]) + "\n")
    room = max(40, width - 4) * _TEXT_LINES
    for s, cells in zip(summaries, rows, strict=True):
        out.write(line(cells) + "\n")
        text = visible(s["text"])
        shown = _cut(text, room)
        more = f"  ({len(s['text']):,} characters)" if shown != text else ""
        out.write(f"    {shown}{more}\n")


def read_options(folder: Path, seen: dict[Path, ReadOptions]) -> ReadOptions:
    """``[rollouts]`` of the project holding ``folder``, read once per folder of one inspect
    (loading a config hashes its tokenizer, which may be tens of megabytes)."""
    key = folder.resolve()
    if key not in seen:
        seen[key] = project_config(key).read
    return seen[key]


def _write_json(rows: list[dict[str, Any]], out: TextIO) -> None:
    text = json.dumps(rows, ensure_ascii=False, indent=2)
    out.write(_UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text) + "\n")


def run_inspect(
    files: list[str],
    as_json: bool,
    out: TextIO | None = None,
    err: TextIO | None = None,
    groups: bool = False,
) -> int:
    """Read every file, print what was understood; 0 when all were read, else 1.

    With ``groups``, one row per group of sibling traces (``meta.group``) across the files."""
    out = out or sys.stdout
    err = err or sys.stderr
    summaries: list[dict[str, Any]] = []
    failed = False
    grouped: list[Trace] = []
    configs: dict[Path, ReadOptions] = {}
    for path in files:
        try:
            traces = load(path, read_options(Path(path).parent, configs))
        except TracesiteError as exc:
            err.write(visible(str(exc)) + "\n")
            failed = True
            continue
        if groups:
            grouped.extend(traces)  # by_group keeps those that have a group
        else:
            summaries.extend(trace_summary(t) for t in traces)
    if groups:
        rows = [group_stats(g, ts).as_dict() for g, ts in by_group(grouped).items()]
        if as_json:
            _write_json(rows, out)
        else:
            out.write("GROUP  TRACES  UNIQUE  FIRST DIVERGENCE\n")
            for r in rows:
                fd = "-" if r["first_divergence"] is None else str(r["first_divergence"])
                out.write(f"{visible(r['group'])}  {r['n_traces']}  {r['n_unique']}  {fd}\n")
        return 1 if failed else 0
    if as_json:
        _write_json(summaries, out)
    elif summaries:
        print_table(summaries, out, shutil.get_terminal_size((100, 24)).columns)
    return 1 if failed else 0
