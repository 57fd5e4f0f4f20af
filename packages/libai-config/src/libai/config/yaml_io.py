"""Write a config as YAML that :func:`libai.config.loader.load` reads back.

Callables (``_target_`` classes and functions, or any callable value) are
written as their registry reference when they have one, else as their dotted
import path; ``instantiate`` turns those strings back into the same objects.
A value YAML cannot hold (an arbitrary object, a lambda) is an error naming
its key path: a config is never written half-way or pickled.
"""

from __future__ import annotations

import inspect
import os
import tempfile
from enum import Enum
from pathlib import PurePath
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from .errors import ConfigSaveError
from .targets import target_to_string

_SCALARS = (str, int, float, bool, bytes, type(None))


def to_yaml_data(cfg: Any) -> Any:
    """``cfg`` as plain dicts, lists and scalars that a safe YAML dumper writes.

    Interpolations (``${train.seed}``) are kept as written, not resolved.

    Raises:
        ConfigSaveError: naming the key path and type of the first value that
            cannot be written.
    """
    if isinstance(cfg, (DictConfig, ListConfig)):
        cfg = OmegaConf.to_container(cfg, resolve=False, enum_to_str=True)
    return _convert(cfg, "")


def _key_path(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _convert(value: Any, path: str) -> Any:
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if isinstance(key, Enum):
                key = key.name
            elif not isinstance(key, _SCALARS):
                raise ConfigSaveError(
                    f"cannot save config: key {key!r} under {path or '<root>'} is a "
                    f"{type(key).__name__}; YAML keys must be strings or numbers",
                    path,
                    key,
                )
            out[key] = _convert(item, _key_path(path, key))
        return out
    if isinstance(value, (list, tuple)):
        # Plain YAML has no tuples; LazyCall and load already store lists.
        return [_convert(item, f"{path}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, (DictConfig, ListConfig)):  # nested inside an object container
        return _convert(OmegaConf.to_container(value, resolve=False, enum_to_str=True), path)
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, PurePath):
        return str(value)
    if callable(value):
        name = target_to_string(value)
        if name is None and not (isinstance(value, type) or inspect.isroutine(value)):
            # An instance of a callable class (a loss module, say): not a name, an object.
            raise ConfigSaveError(
                f"cannot save config: {path or '<root>'} holds a {type(value).__module__}."
                f"{type(value).__qualname__} object ({_short_repr(value)}), which YAML "
                f"cannot represent; build it at run time with "
                f"LazyCall({type(value).__qualname__})(...) instead",
                path,
                value,
            )
        if name is None:
            raise ConfigSaveError(
                f"cannot save config: {path or '<root>'} is {value!r}, which has no "
                "importable name (a lambda, a function defined inside another function "
                "or in a config file); define it at module level of an importable module "
                "and write its import path as a string",
                path,
                value,
            )
        return name
    raise ConfigSaveError(
        f"cannot save config: {path or '<root>'} holds a {type(value).__module__}."
        f"{type(value).__qualname__} ({_short_repr(value)}), which YAML cannot represent; "
        "keep the config to plain values and LazyCall nodes that build such objects",
        path,
        value,
    )


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def dump_yaml(cfg: Any) -> str:
    """Render ``cfg`` as YAML text (see :func:`to_yaml_data`)."""
    import yaml

    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # the C dumper when built
    return yaml.dump(
        to_yaml_data(cfg),
        Dumper=dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
    )


def save(cfg: Any, path: Any) -> None:
    """Write ``cfg`` as YAML to ``path`` atomically (temp file + ``os.replace``).

    A crash while writing never leaves a truncated config behind, and nothing
    is written when a value cannot be saved.
    """
    text = dump_yaml(cfg)
    filename = os.path.abspath(os.fspath(path))
    directory = os.path.dirname(filename)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".yaml", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, filename)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
