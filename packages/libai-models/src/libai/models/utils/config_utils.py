"""Build a model's keyword arguments from LiBai's ``cfg`` dicts.

LiBai's model configs are one flat dict shared by a base model and its heads
(``cfg.add_binary_head`` is read by ``BertForPreTraining``, ignored by ``BertModel``),
so keys a constructor does not take are skipped; missing required keys are an
error that names them and the closest keys present.
"""

from __future__ import annotations

import difflib
import functools
import inspect
from collections.abc import Mapping
from typing import Any, Callable

from omegaconf import DictConfig, OmegaConf


class ModelConfigError(KeyError):
    """A model's ``cfg`` lacks a required key."""

    def __str__(self) -> str:  # KeyError quotes its message; show it plainly
        return str(self.args[0])


def as_dictconfig(cfg: Any) -> DictConfig:
    """Return ``cfg`` (a dict or DictConfig) as a DictConfig."""
    if isinstance(cfg, DictConfig):
        return cfg
    if isinstance(cfg, Mapping):
        return OmegaConf.create(dict(cfg))
    raise TypeError(f"cfg must be a dict or DictConfig, got {type(cfg).__name__}")


def kwargs_from_cfg(cls: type, cfg: Any) -> dict:
    """Map ``cfg`` onto ``cls.__init__``'s parameters (defaults fill what cfg lacks).

    Raises :class:`ModelConfigError` listing every required key missing from ``cfg``.
    """
    signature = inspect.signature(cls.__init__)
    kwargs: dict[str, Any] = {}
    missing = []
    for name, param in signature.parameters.items():
        if name == "self" or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if name in cfg:
            kwargs[name] = cfg[name]
        elif param.default is param.empty:
            missing.append(name)
    if missing:
        present = list(cfg.keys())
        hints = []
        for name in missing:
            close = difflib.get_close_matches(name, present, n=1)
            hints.append(f"{name} (cfg has {close[0]!r})" if close else name)
        raise ModelConfigError(
            f"{cls.__name__}: cfg is missing required key(s): {', '.join(hints)}"
        )
    return kwargs


def accepts_dict_cfg(init: Callable) -> Callable:
    """Let ``Model(cfg=dict(...))`` work like ``Model(cfg=DictConfig(...))``.

    ``@configurable`` recognises a DictConfig only; LiBai users also pass plain dicts.
    """

    @functools.wraps(init)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> None:
        if "cfg" in kwargs and isinstance(kwargs["cfg"], Mapping):
            kwargs["cfg"] = as_dictconfig(kwargs["cfg"])
        elif args and isinstance(args[0], Mapping) and not isinstance(args[0], DictConfig):
            args = (as_dictconfig(args[0]),) + args[1:]
        init(self, *args, **kwargs)

    return wrapper
