"""LiBai's training engine.

Attributes are imported lazily (PEP 562) so that ``libai.engine.cli`` -- and
with it ``libai-engine --help``, ``list``, ``check`` -- never imports OneFlow::

    from libai.engine import DefaultTrainer, default_setup, hooks
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> module that defines it (relative to libai.engine)
_ATTRS = {
    "DefaultTrainer": "default",
    "default_setup": "default",
    "set_seed": "default",
    "TrainerBase": "trainer",
    "HookBase": "trainer",
    "EagerTrainer": "trainer",
    "GraphTrainer": "trainer",
    "GraphBase": "graph_base",
    "EventStorage": "events",
    "get_event_storage": "events",
    "get_batch": "data",
    "run_from_args": "launch",
}
_SUBMODULES = {
    "batching",
    "data",
    "default",
    "events",
    "graph_base",
    "hooks",
    "launch",
    "supervisor",
    "testing",
    "trainer",
    "writers",
}

__all__ = sorted([*_ATTRS, *_SUBMODULES])


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _ATTRS:
        module = importlib.import_module(f"{__name__}.{_ATTRS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
