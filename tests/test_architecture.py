"""The package's layers, checked from the source: every import statement of every module, at
module level, inside functions and under ``TYPE_CHECKING`` alike (README's module map).

A stage may import the stages below it and its own modules, never one above it or beside it, and
no two modules may import each other, directly or through others. Bokeh is imported by ``render``
only, so a build whose traces all come from the cache never loads it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "tracesite"

#: The stages from the bottom up; a stage imports only stages of a lower rank (and itself).
RANKS: dict[str, int] = {
    "core": 0,
    "model": 1,
    "formats": 2,
    "site": 2,
    "render": 3,
    "build": 4,
    "serve": 5,
    "deploy": 5,
    "commands": 5,
    "cli": 6,
    "__main__": 7,
    "": 7,  # the package face, tracesite/__init__.py
}
#: Third-party packages that only one stage may import.
OWNED = {"bokeh": "render", "watchdog": "serve"}


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not _is_package(module):
        base.pop()
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module: str) -> list[tuple[str, int]]:
    """Every name this module imports (a tracesite module where it is one), with its line."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, node)
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.append((sub if sub in MODULES else target, node.lineno))
    return found


def _internal(name: str) -> str | None:
    """The tracesite module an imported name belongs to (``a.b.c`` -> longest known prefix)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in MODULES:
            return candidate
        parts.pop()
    return None


def _stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


GRAPH: dict[str, set[str]] = {
    m: {t for name, _ in _imports(m) if (t := _internal(name)) and t != m} for m in MODULES
}


def test_every_module_belongs_to_a_known_stage() -> None:
    unknown = sorted(m for m in MODULES if _stage(m) not in RANKS)
    assert unknown == [], f"add these to RANKS and README's module map: {unknown}"


def test_the_top_level_holds_only_the_package_face_and_the_cli() -> None:
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert top == ["__init__.py", "__main__.py", "cli.py"]


def test_stages_import_only_the_stages_below_them() -> None:
    wrong = []
    for module in MODULES:
        for name, line in _imports(module):
            target = _internal(name)
            if target is None or target == module:
                continue
            src, dst = _stage(module), _stage(target)
            if src != dst and RANKS[dst] >= RANKS[src]:
                wrong.append(f"{MODULES[module].relative_to(PACKAGE)}:{line} imports {target}")
    assert wrong == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles_between_modules() -> None:
    assert _cycles(GRAPH) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("package", sorted(OWNED))
def test_third_party_packages_are_imported_by_their_stage_only(package: str) -> None:
    owner = OWNED[package]
    users = sorted(
        f"{MODULES[m].relative_to(PACKAGE)}:{line}"
        for m in MODULES
        for name, line in _imports(m)
        if name.split(".")[0] == package and _stage(m) != owner
    )
    assert users == []


def test_no_lower_module_imports_the_package_face() -> None:
    """``import tracesite`` from inside would run the face (and its lazy names) in a cycle."""
    assert sorted(m for m, deps in GRAPH.items() if "tracesite" in deps) == []


def test_modules_stay_small() -> None:
    long = sorted(
        f"{p.relative_to(PACKAGE)}: {n} lines"
        for p in MODULES.values()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 500
    )
    assert long == []


def test_one_atomic_write() -> None:
    """Site files, the render cache and the stat index all go through ``atomic_write``: a
    temporary file renamed into place exists in one module only."""
    places = sorted(
        f"{p.relative_to(PACKAGE)}:{i}"
        for p in MODULES.values()
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if any(call in line for call in ("os.replace(", "os.rename(", "mkstemp(", ".rename("))
    )
    assert places and all(p.startswith("build/writer.py:") for p in places), places
