"""LiBai's lazy config system: describe an experiment as data, build it later.

This module only re-exports; each name lives in a module with one job.
``hookimpl`` is re-exported lazily (PEP 562) so that ``import libai.config``
does not import pluggy until a plugin asks for the marker.
"""

from __future__ import annotations

from typing import Any

from .arguments import default_argument_parser
from .cfg_keys import reads_cfg
from .configurable import configurable, try_get_key
from .engine_args import engine_supplied
from .errors import (
    ConfigError,
    ConfigImportError,
    ConfigLoadError,
    ConfigNameError,
    ConfigNotFoundError,
    ConfigSaveError,
    ConfigSyntaxError,
    InstantiationError,
    TargetError,
    TargetResolutionError,
)
from .get_config import get_config
from .instantiate import instantiate
from .lazy import LazyCall, LazyConfig

__all__ = [
    "ConfigError",
    "ConfigImportError",
    "ConfigLoadError",
    "ConfigNameError",
    "ConfigNotFoundError",
    "ConfigSaveError",
    "ConfigSyntaxError",
    "InstantiationError",
    "LazyCall",
    "LazyConfig",
    "TargetError",
    "TargetResolutionError",
    "configurable",
    "default_argument_parser",
    "engine_supplied",
    "get_config",
    "hookimpl",
    "instantiate",
    "reads_cfg",
    "try_get_key",
]


def __getattr__(name: str) -> Any:
    if name == "hookimpl":
        from .hookspecs import hookimpl

        return hookimpl
    raise AttributeError(f"module 'libai.config' has no attribute {name!r}")
