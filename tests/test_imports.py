"""No import cycle among digitocr's modules: every import counts (module level, inside
functions, under ``TYPE_CHECKING``), relative ones resolved, since a deferred import only hides
a cycle from the interpreter, not from the reader. And no module over ``MAX_MODULE_LINES``
lines (issue #15): a module that grows past it is split by job, as pipeline.py was."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "digitocr"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE

#: the most lines a module in digitocr/ (any depth) or plugins/ may have
MAX_MODULE_LINES = 450

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


def long_modules(base: Path, folders: list[str], limit: int) -> list[str]:
    """``folder/module.py: N lines`` for every module under ``base``'s ``folders`` (any depth)
    longer than ``limit`` lines."""
    out = []
    for folder in folders:
        for path in sorted((base / folder).rglob("*.py")):
            n = len(path.read_text(encoding="utf-8").splitlines())
            if n > limit:
                out.append(f"{path.relative_to(base).as_posix()}: {n} lines")
    return out


def test_the_line_count_names_long_modules(tmp_path: Path) -> None:
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "pkg" / "sub" / "long.py").write_text("x = 1\n" * 4, encoding="utf-8")
    (tmp_path / "pkg" / "short.py").write_text("x = 1\n" * 3, encoding="utf-8")
    assert long_modules(tmp_path, ["pkg"], 3) == ["pkg/sub/long.py: 4 lines"]


def test_no_module_is_too_long() -> None:
    long = long_modules(ROOT.parent, [PACKAGE, "plugins"], MAX_MODULE_LINES)
    assert not long, f"over {MAX_MODULE_LINES} lines, split by job: " + "; ".join(long)
