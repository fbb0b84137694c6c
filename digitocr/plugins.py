"""The plugin manager: built-ins first, then third-party plugins, as OCRmyPDF loads them.

Load order, each step registered after the one before:

1. the built-in plugins (``BUILTIN_PLUGINS``), imported directly. In a source checkout where
   ``digitocr_plugins`` is not installed, that package is loaded from the ``plugins/`` folder
   next to the ``digitocr`` package, so ``python -m digitocr`` works without installing;
2. third-party entry points of group ``digitocr`` (the ``digitocr`` distribution's own skipped:
   the built-ins are already in);
3. modules named by ``DIGITOCR_PLUGINS`` (comma-separated), then by ``digitocr --plugins``
   (``add_plugin_modules``).

A third-party plugin that fails to import is skipped with a warning (logger
``digitocr.plugins``) and listed by ``digitocr plugins``; a built-in that fails is an error.
``DIGITOCR_LOAD_PLUGINS`` (after simonw/llm's ``LLM_LOAD_PLUGINS``) restricts steps 2 and 3
of the environment: empty, built-ins only; a comma list, only the third-party plugins named
(by entry-point name, distribution name or module). ``--plugins`` and ``register_plugin``
are explicit and always apply.

pluggy calls the most recently registered implementation first and a registry keeps the first
registration of a name, so a third-party plugin that registers a name a built-in also uses
overrides it.

Spawned worker processes start with a fresh plugin manager: ``worker_plugins`` lists what this
process has beyond what a new process loads by itself (``--plugins`` modules, in-process
registrations), and ``restore_plugins`` registers that list in the worker.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import logging
import os
import pickle
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from . import hookspecs
from .errors import DigitOCRError, PluginError

GROUP = "digitocr"
BUILTIN_DIST = "digitocr"
BUILTIN_PACKAGE = "digitocr_plugins"
#: the built-in plugins: registered name -> module, in registration order
BUILTIN_PLUGINS: dict[str, str] = {
    "cnn": "digitocr_plugins.cnn",
    "classical": "digitocr_plugins.classical",
    "ensemble": "digitocr_plugins.ensemble",
    "crnn": "digitocr_plugins.crnn",
    "onnx": "digitocr_plugins.onnxmodel",
    "layouts": "digitocr_plugins.layouts",
    "formats": "digitocr_plugins.formats",
}
#: extra plugin modules, comma-separated
PLUGINS_ENV = "DIGITOCR_PLUGINS"
#: unset: every plugin; empty: built-ins only; a comma list: only those third-party plugins
LOAD_ENV = "DIGITOCR_LOAD_PLUGINS"
KINDS = ("classifiers", "string_readers", "segmenters", "writers")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadError:
    """A third-party plugin that failed to import (and was skipped)."""

    name: str
    value: str
    error: str


@dataclass
class _State:
    pm: pluggy.PluginManager
    #: names a new process registers by itself (built-ins, entry points, ``DIGITOCR_PLUGINS``)
    auto: set[str] = field(default_factory=set)
    errors: list[LoadError] = field(default_factory=list)


_state: _State | None = None
#: ``--plugins`` modules given before the plugin manager exists
_pending_modules: list[str] = []
_registries: dict[str, Registry] = {}


@dataclass
class Entry:
    """One registered item and the plugin that registered it."""

    name: str
    obj: Any
    plugin: str


@dataclass
class Registry:
    """Name-keyed items of one kind; ``shadowed`` keeps the ones a later plugin overrode."""

    kind: str
    entries: dict[str, Entry] = field(default_factory=dict)
    shadowed: list[Entry] = field(default_factory=list)

    def items(self) -> dict[str, Any]:
        return {name: entry.obj for name, entry in self.entries.items()}

    def get(self, name: str, what: str, error: type[DigitOCRError]) -> Any:
        """The item registered as ``name``; else ``error`` saying which ``what`` are known."""
        if name not in self.entries:
            raise error(f"unknown {what} {name!r} (known: {', '.join(sorted(self.entries))})")
        return self.entries[name].obj


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, created (and every plugin loaded) on first use."""
    return _get_state().pm


def _get_state() -> _State:
    global _state
    if _state is None:
        pm = pluggy.PluginManager(GROUP)
        pm.add_hookspecs(hookspecs)
        state = _State(pm)
        _load_builtins(state)
        allowed = _allowed()
        _load_entry_points(state, allowed)
        env = [m for m in _split(os.environ.get(PLUGINS_ENV, ""))
               if allowed is None or m in allowed]
        state.auto.update(_load_modules(state, env))
        _state = state
        _load_modules(state, _pending_modules)
        _pending_modules.clear()
        _registries.clear()
    return _state


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _allowed() -> set[str] | None:
    """The third-party plugins ``DIGITOCR_LOAD_PLUGINS`` allows; None when it is unset."""
    value = os.environ.get(LOAD_ENV)
    return None if value is None else set(_split(value))


def builtin_package() -> ModuleType:
    """``digitocr_plugins``: the installed package, else the checkout's ``plugins/`` folder."""
    try:
        return importlib.import_module(BUILTIN_PACKAGE)
    except ModuleNotFoundError as exc:
        if exc.name != BUILTIN_PACKAGE:
            raise
    # a source checkout run without installing: pyproject maps plugins/ to digitocr_plugins
    folder = Path(__file__).resolve().parent.parent / "plugins"
    spec = importlib.util.spec_from_file_location(
        BUILTIN_PACKAGE, folder / "__init__.py", submodule_search_locations=[str(folder)])
    if spec is None or spec.loader is None or not (folder / "__init__.py").is_file():
        raise PluginError(f"the built-in plugins ({BUILTIN_PACKAGE}) are not installed and "
                          f"{folder} is not a checkout's plugins folder")
    module = importlib.util.module_from_spec(spec)
    sys.modules[BUILTIN_PACKAGE] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[BUILTIN_PACKAGE]
        raise
    return module


def _load_builtins(state: _State) -> None:
    builtin_package()
    for name, module in BUILTIN_PLUGINS.items():
        try:
            plugin = importlib.import_module(module)
        except Exception as exc:  # a broken install: nothing works without the built-ins
            raise PluginError(f"built-in plugin {name!r} ({module}) failed to load: "
                              f"{type(exc).__name__}: {exc}") from exc
        state.pm.register(plugin, name=name)
        state.auto.add(name)


def _entry_points() -> list[importlib.metadata.EntryPoint]:
    return list(importlib.metadata.entry_points(group=GROUP))


def _load_entry_points(state: _State, allowed: set[str] | None) -> None:
    for ep in _entry_points():
        dist = ep.dist.name if ep.dist is not None else None
        if dist == BUILTIN_DIST:  # the built-ins, already registered from BUILTIN_PLUGINS
            continue
        if allowed is not None and not allowed & {ep.name, ep.value, ep.module, dist}:
            continue
        try:
            plugin = ep.load()
        except Exception as exc:  # a broken third-party plugin must not take the CLI down
            _failed(state, ep.name, ep.value, exc)
            continue
        if state.pm.is_registered(plugin):
            continue
        name = ep.name if state.pm.get_plugin(ep.name) is None else f"{ep.name}:{ep.value}"
        state.pm.register(plugin, name=name)
        state.auto.add(name)


def _load_modules(state: _State, modules: list[str]) -> list[str]:
    """Import and register plugin modules by name; the names registered."""
    names = []
    for module in modules:
        try:
            plugin = importlib.import_module(module)
        except Exception as exc:
            _failed(state, module, module, exc)
            continue
        if state.pm.is_registered(plugin):
            continue
        name = module if state.pm.get_plugin(module) is None else f"module:{module}"
        state.pm.register(plugin, name=name)
        names.append(name)
    return names


def _failed(state: _State, name: str, value: str, exc: Exception) -> None:
    error = LoadError(name, value, f"{type(exc).__name__}: {exc}")
    state.errors.append(error)
    log.warning("warning: plugin %r (%s) failed to load and is skipped: %s",
                name, value, error.error)


def add_plugin_modules(modules: list[str]) -> None:
    """Load plugin modules by name (``digitocr --plugins``), now or when plugins first load."""
    if _state is None:
        _pending_modules.extend(modules)
        return
    _load_modules(_state, list(modules))
    _registries.clear()


def load_errors() -> list[LoadError]:
    """The third-party plugins that failed to load (and were skipped)."""
    return list(_get_state().errors)


def register_plugin(plugin: Any, name: str | None = None) -> None:
    """Register an extra plugin object (a module or an instance) and refresh the registries."""
    get_plugin_manager().register(plugin, name=name)
    _registries.clear()


def unregister_plugin(name: str) -> None:
    """Remove a plugin registered by name and refresh the registries."""
    get_plugin_manager().unregister(name=name)
    _registries.clear()


# ------------------------------------------------------------------ worker processes


def worker_plugins(picklable: bool = False) -> list[tuple[str, Any]]:
    """What a new process needs registered to have this process's plugins: ``(name, module
    name)`` for a module, ``(name, object)`` otherwise, in registration order (so overrides
    hold). With ``picklable``, an object that cannot be pickled (a class defined in a function,
    say) is a ``PluginError``: a spawned worker would not have it."""
    state = _get_state()
    out: list[tuple[str, Any]] = []
    for name, plugin in state.pm.list_name_plugin():
        if name in state.auto or plugin is None:
            continue
        ref = plugin.__name__ if isinstance(plugin, ModuleType) else plugin
        if picklable and not isinstance(ref, str):
            try:
                pickle.dumps(ref)
            except Exception as exc:
                raise PluginError(
                    f"plugin {name!r} ({_module_name(plugin)}) cannot be pickled for the worker "
                    f"processes ({type(exc).__name__}: {exc}); define its class at module level, "
                    "register a module, or read with one worker") from exc
        out.append((name, ref))
    return out


def restore_plugins(items: list[tuple[str, Any]]) -> None:
    """Register ``worker_plugins``'s list in this (worker) process; names it has are kept (a
    forked worker inherits the parent's plugins)."""
    pm = get_plugin_manager()
    for name, ref in items:
        if pm.get_plugin(name) is not None:
            continue
        pm.register(importlib.import_module(ref) if isinstance(ref, str) else ref, name=name)
    _registries.clear()


# ------------------------------------------------------------------ registries


def _collect(kind: str) -> Registry:
    if kind in _registries:
        return _registries[kind]
    pm = get_plugin_manager()
    registry = Registry(kind)
    hook = getattr(pm.hook, f"register_{kind}")
    for impl in reversed(hook.get_hookimpls()):  # most recently registered first
        plugin_name = impl.plugin_name

        def register(name: str, obj: Any, _plugin: str = plugin_name) -> None:
            if not isinstance(name, str) or not name:
                raise PluginError(f"plugin {_plugin!r} registered a {kind[:-1]} with no name")
            entry = Entry(name, obj, _plugin)
            if name in registry.entries:
                registry.shadowed.append(entry)
            else:
                registry.entries[name] = entry

        impl.function(register=register)
    _registries[kind] = registry
    return registry


def registry(kind: str) -> Registry:
    """The registry of ``kind`` (one of ``KINDS``)."""
    if kind not in KINDS:
        raise ValueError(f"unknown registry kind {kind!r}")
    return _collect(kind)


def get_classifiers() -> dict[str, Any]:
    """Registered classifier backends by name."""
    return registry("classifiers").items()


def get_string_readers() -> dict[str, Any]:
    """Registered whole-string reader backends by name."""
    return registry("string_readers").items()


def get_segmenters() -> dict[str, Any]:
    """Registered segmenters by name."""
    return registry("segmenters").items()


def get_writers() -> dict[str, Any]:
    """Registered writers by name."""
    return registry("writers").items()


def get_training_options() -> dict[str, Any]:
    """Registered ``train`` options (``trainopts.TrainingOptions``) by backend name. Not one of
    ``KINDS``, which ``digitocr plugins`` lists: they are part of a backend, not items."""
    return _collect("training_options").items()


def describe() -> list[dict[str, Any]]:
    """Each loaded plugin with what it registers, for ``digitocr plugins``; a plugin that
    failed to load has empty lists and an ``error``."""
    state = _get_state()
    regs = {kind: registry(kind) for kind in KINDS}
    out = []
    for name, plugin in state.pm.list_name_plugin():
        info: dict[str, Any] = {"name": name, "module": _module_name(plugin)}
        for kind, reg in regs.items():
            info[kind] = sorted(e.name for e in reg.entries.values() if e.plugin == name)
            overridden = sorted(e.name for e in reg.shadowed if e.plugin == name)
            if overridden:
                info.setdefault("overridden", []).extend(f"{kind}:{n}" for n in overridden)
        out.append(info)
    for err in state.errors:
        out.append({"name": err.name, "module": err.value, **{kind: [] for kind in KINDS},
                    "error": err.error})
    return sorted(out, key=lambda info: str(info["name"]))


def _module_name(plugin: Any) -> str:
    mod = getattr(plugin, "__name__", None)
    if isinstance(mod, str):
        return mod
    return f"{type(plugin).__module__}.{type(plugin).__qualname__}"
