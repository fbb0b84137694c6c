"""No import cycle among digitocr's modules: every import counts (module level, inside
functions, under ``TYPE_CHECKING``), relative ones resolved, since a deferred import only hides
a cycle from the interpreter, not from the reader."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "digitocr"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE

#: cycles known and not yet broken, each as its sorted module names, with why (none today)
KNOWN_CYCLES: set[tuple[str, ...]] = set()


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The digitocr modules that the module ``name`` imports, anywhere in its source."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # ``from . import x`` imports the module x when there is one, else a name of target
            targets = [f"{target}.{a.name}" if f"{target}.{a.name}" in known else target
                       for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in known:  # ``import digitocr.x.y`` names digitocr.x.y's module
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imports(name, path, set(mods)) for name, path in mods.items()}


def cycles(g: dict[str, set[str]]) -> list[tuple[str, ...]]:
    """The strongly connected components of more than one module (Tarjan), sorted names."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[tuple[str, ...]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(g.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(tuple(sorted(comp)))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return sorted(out)


def test_the_walk_sees_deferred_and_relative_imports() -> None:
    g = graph()
    assert "digitocr.plugins" in g["digitocr.backends"]  # imported inside a function
    assert "digitocr.hookspecs" in g["digitocr.plugins"]  # ``from . import hookspecs``
    assert "digitocr.fields" in g["digitocr.combined"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [("a", "b", "c")]


def test_no_import_cycle() -> None:
    found = set(cycles(graph()))
    new = sorted(found - KNOWN_CYCLES)
    assert not new, "import cycles among digitocr's modules: " + "; ".join(
        " <-> ".join(c) for c in new)
    assert not KNOWN_CYCLES - found, "a known cycle is gone: drop it from KNOWN_CYCLES"
