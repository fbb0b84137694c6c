"""The plugin manager: built-ins and third-party plugins load from the ``digitocr`` entry points.

Built-in plugins (those of the ``digitocr`` distribution) are registered first. pluggy calls the
most recently registered implementation first and a registry keeps the first registration of a
name, so a third-party plugin that registers a name a built-in also uses overrides it.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from dataclasses import dataclass, field
from typing import Any

import pluggy

from . import hookspecs
from .errors import DigitOCRError, PluginError

GROUP = "digitocr"
BUILTIN_DIST = "digitocr"
KINDS = ("classifiers", "string_readers", "segmenters", "writers")

_pm: pluggy.PluginManager | None = None
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
    """The process-wide plugin manager, created on first use."""
    global _pm
    if _pm is None:
        pm = pluggy.PluginManager(GROUP)
        pm.add_hookspecs(hookspecs)
        _load_entry_points(pm)
        _pm = pm
    return _pm


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    eps = list(importlib.metadata.entry_points(group=GROUP))
    eps.sort(key=lambda ep: 0 if ep.dist is not None and ep.dist.name == BUILTIN_DIST else 1)
    seen: set[str] = set()
    for ep in eps:
        if ep.name in seen and ep.dist is not None and ep.dist.name == BUILTIN_DIST:
            continue
        seen.add(ep.name)
        try:
            plugin = ep.load()
        except Exception as exc:  # a broken third-party plugin must not take the CLI down
            raise PluginError(f"plugin {ep.name!r} ({ep.value}) failed to load: {exc}") from exc
        name = ep.name if pm.get_plugin(ep.name) is None else f"{ep.name}:{ep.value}"
        pm.register(plugin, name=name)


def register_plugin(plugin: Any, name: str | None = None) -> None:
    """Register an extra plugin object (a module or an instance) and refresh the registries."""
    get_plugin_manager().register(plugin, name=name)
    _registries.clear()


def unregister_plugin(name: str) -> None:
    """Remove a plugin registered by name and refresh the registries."""
    get_plugin_manager().unregister(name=name)
    _registries.clear()


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


def describe() -> list[dict[str, Any]]:
    """Each loaded plugin with what it registers, for ``digitocr plugins``."""
    pm = get_plugin_manager()
    regs = {kind: registry(kind) for kind in KINDS}
    out = []
    for name, plugin in sorted(pm.list_name_plugin(), key=lambda item: item[0]):
        info: dict[str, Any] = {"name": name, "module": _module_name(plugin)}
        for kind, reg in regs.items():
            info[kind] = sorted(e.name for e in reg.entries.values() if e.plugin == name)
            overridden = sorted(e.name for e in reg.shadowed if e.plugin == name)
            if overridden:
                info.setdefault("overridden", []).extend(f"{kind}:{n}" for n in overridden)
        out.append(info)
    return out


def _module_name(plugin: Any) -> str:
    mod = getattr(plugin, "__name__", None)
    if isinstance(mod, str):
        return mod
    return f"{type(plugin).__module__}.{type(plugin).__qualname__}"
