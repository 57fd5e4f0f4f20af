"""The process-wide plugin manager and registry: one place, one lock, one reset.

The registry is built from the plugin manager (its ``libai_add_groups`` and
``libai_register`` hooks, its disabled distributions), so the two are one
piece of state: they are built under one re-entrant lock, always manager
first, and :func:`reset` forgets both (and the entry-point scan), so a
distribution installed afterwards is seen and its ``libai_register`` runs.
"""

from __future__ import annotations

import importlib
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - typing only
    from libai.config.plugins import LibaiPluginManager
    from libai.config.registry import Registry

__all__ = ["LOCK", "get_plugin_manager", "get_registry", "reset"]

LOCK = threading.RLock()
_manager: LibaiPluginManager | None = None
_registry: Registry | None = None


def get_plugin_manager() -> LibaiPluginManager:
    """The process-wide plugin manager, with entry-point plugins loaded on first use."""
    global _manager
    with LOCK:
        if _manager is None:
            from libai.config.plugins import new_plugin_manager

            _manager = new_plugin_manager()
        return _manager


def get_registry() -> Registry:
    """The process-wide registry, built from the process-wide manager on first use."""
    global _registry
    with LOCK:
        if _registry is None:
            from libai.config.registry import build_registry

            _registry = build_registry()
        return _registry


def reset() -> None:
    """Forget the manager, the registry and the entry-point scan, all at once."""
    global _manager, _registry
    from libai.config._registry_scan import clear_scan_cache

    with LOCK:
        _manager = None
        _registry = None
        clear_scan_cache()
        # A distribution installed since: let the import system see its new files.
        importlib.invalidate_caches()
