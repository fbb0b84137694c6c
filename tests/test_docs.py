"""Every hook is documented and tested (after datasette's ``test_docs.py``): a hookspec in
``digitocr/hookspecs.py`` needs a ``## name(args)`` section in ``docs/plugins.md`` with its
arguments as specified, and a ``test_hook_<name>`` test function somewhere in ``tests/``."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

from digitocr import hookspecs

REPO = Path(__file__).resolve().parent.parent
HOOKS = sorted(name for name, fn in vars(hookspecs).items()
               if callable(fn) and hasattr(fn, "digitocr_spec"))


def doc_sections() -> dict[str, list[str]]:
    """``docs/plugins.md``'s ``## name(a, b)`` headings: name -> argument names."""
    text = (REPO / "docs" / "plugins.md").read_text(encoding="utf-8")
    return {m[1]: [a.strip() for a in m[2].split(",") if a.strip()]
            for m in re.finditer(r"^## (\w+)\(([^)]*)\)\s*$", text, flags=re.MULTILINE)}


def defined_functions() -> set[str]:
    """Names of the functions defined in tests/*.py."""
    names = set()
    for path in (REPO / "tests").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                names.add(node.name)
    return names


def test_hooks_are_found() -> None:
    assert "register_classifiers" in HOOKS and len(HOOKS) >= 4


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_documented(hook: str) -> None:
    sections = doc_sections()
    assert hook in sections, f"docs/plugins.md has no '## {hook}(...)' section"
    args = list(inspect.signature(getattr(hookspecs, hook)).parameters)
    assert sections[hook] == args, f"docs/plugins.md: {hook}'s arguments are {args}"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_tested(hook: str) -> None:
    assert f"test_hook_{hook}" in defined_functions(), f"no test_hook_{hook} in tests/"


def test_no_section_for_a_hook_that_does_not_exist() -> None:
    assert sorted(doc_sections()) == HOOKS
