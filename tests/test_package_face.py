"""The package face (``import tracesite``): what ``dir()`` shows is what ``__all__`` promises, and
every name there resolves (the public names load lazily, PEP 562)."""

from __future__ import annotations

import subprocess
import sys

import tracesite


def test_dir_lists_what_all_lists_and_each_name_resolves() -> None:
    assert sorted(__all__ := tracesite.__all__) == sorted(set(__all__))
    assert set(tracesite.__all__) <= set(dir(tracesite))
    for name in tracesite.__all__:
        assert getattr(tracesite, name) is not None, name
    assert callable(tracesite.load) and tracesite.Trace.__name__ == "Trace"


def test_a_fresh_interpreter_sees_the_same_names() -> None:
    code = "import tracesite; print(' '.join(sorted(set(tracesite.__all__) - set(dir(tracesite)))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
