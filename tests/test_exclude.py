"""Content that is not a trace (issue 15 point 3): ``[build] exclude`` globs, ``_`` paths left
out, and JSON with no trace anywhere skipped with a warning (an error for a broken trace)."""

from __future__ import annotations

import json
from pathlib import Path

from tracesite.build import BuildOptions, build_project
from tracesite.site.discover import excluded

GOOD = json.dumps({"tracesite": 2, "tokens": [{"text": "a", "logprob": -0.1}]})


def project(tmp_path: Path, files: dict[str, str], toml: str = "") -> Path:
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    if toml:
        (tmp_path / "tracesite.toml").write_text(toml)
    return tmp_path


def test_exclude_globs_and_underscore_paths() -> None:
    assert excluded("_drafts/a.json", ())
    assert excluded("notes/_wip.md", ())
    assert not excluded("notes/wip.md", ())
    assert excluded("data/config.json", ("data/**",))
    assert excluded("data/deep/config.json", ("data",))
    assert excluded("x/y/table.csv", ("*.csv",))
    assert not excluded("datasets/a.json", ("data/**",))


def test_a_json_file_without_a_trace_is_a_warning_and_a_broken_trace_an_error(
    tmp_path: Path,
) -> None:
    proj = project(
        tmp_path,
        {
            "content/good.json": GOOD,
            "content/package.json": '{"name": "x", "version": "1"}',
            "content/_drafts/old.json": "{not json",
            "content/data/settings.json": '{"a": 1}',
        },
        toml='[build]\nexclude = ["data/**"]\n',
    )
    result = build_project(proj, BuildOptions(quiet=True, jobs=1))
    assert result.ok, [str(e) for e in result.errors]
    (warning,) = [str(w) for w in result.warnings]
    assert warning.startswith(
        "content/package.json: not a trace; skipped; add it to [build] exclude"
    )
    assert result.n_traces == 1
    strict = build_project(proj, BuildOptions(quiet=True, jobs=1, strict=True))
    assert not strict.ok
    (proj / "content/broken.json").write_text('{"tracesite": 2, "tokens": [{"text": 3}]}')
    broken = build_project(proj, BuildOptions(quiet=True, jobs=1))
    assert [str(e) for e in broken.errors] == [
        "content/broken.json: $.tokens[0].text: expected a string, got 3"
    ]


def test_exclude_must_be_a_list_of_strings(tmp_path: Path) -> None:
    import pytest

    from tracesite.core.config import load_config
    from tracesite.core.errors import ConfigError

    project(tmp_path, {"content/good.json": GOOD}, toml="[build]\nexclude = [1]\n")
    with pytest.raises(ConfigError, match=r"build\.exclude"):
        load_config(tmp_path)
