"""Optional dependencies: which extra brings which module, and a one-line message when it is
missing. Reading needs none of them (``pip install digitocr``); the classical backends,
evaluation (its metrics and figures), training and record validation each name the extra
they need (pyproject.toml lists them)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .errors import MissingDependency

#: import name → (distribution, the extra of digitocr that installs it)
PROVIDERS: dict[str, tuple[str, str]] = {
    "sklearn": ("scikit-learn", "classical"),
    "skops": ("skops", "classical"),
    "scipy": ("scipy", "classical"),
    "imblearn": ("imbalanced-learn", "classical"),
    "matplotlib": ("matplotlib", "evaluate"),
    "jsonschema": ("jsonschema", "validate"),
}


@contextmanager
def requires(what: str, extra: str | None = None) -> Iterator[None]:
    """Turn a missing optional module imported inside the block into ``MissingDependency``
    (``what`` says what needs it; ``extra`` overrides the module's own extra, for a command
    that needs several). A missing module that no extra provides is left as it is."""
    try:
        yield
    except ModuleNotFoundError as exc:
        top = (exc.name or "").partition(".")[0]
        if top not in PROVIDERS:
            raise
        dist, own = PROVIDERS[top]
        raise MissingDependency(f"{what} needs {dist}, which this install lacks: "
                                f"pip install 'digitocr[{extra or own}]'") from exc


def check(what: str, extra: str, *modules: str) -> None:
    """Raise ``MissingDependency`` up front when any of ``modules`` (import names) is not
    installed, so that a long command fails before its work, not after (nothing is imported)."""
    from importlib.util import find_spec

    missing = [PROVIDERS[m][0] for m in modules if _absent(m, find_spec)]
    if missing:
        raise MissingDependency(f"{what} needs {' and '.join(missing)}, which this install "
                                f"lacks: pip install 'digitocr[{extra}]'")


def _absent(module: str, find_spec: Any) -> bool:
    try:
        return find_spec(module) is None
    except (ImportError, ValueError):  # a broken install, or a module stubbed out
        return True
