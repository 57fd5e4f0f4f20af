"""``@configurable`` and ``try_get_key``: LiBai's way to build objects from a config.

A class whose ``__init__`` is decorated with :func:`configurable` can be built
either from explicit keyword arguments or from a config (``cfg=`` or a first
positional ``DictConfig``) that its ``from_config`` classmethod maps to those
keyword arguments::

    class Model:
        @configurable
        def __init__(self, hidden_size, num_layers=2):
            ...

        @classmethod
        def from_config(cls, cfg):
            return {"hidden_size": cfg.hidden_size, "num_layers": cfg.num_layers}

    Model(hidden_size=8)                    # explicit arguments
    Model(cfg=DictConfig({...}))            # through from_config
    Model(cfg=DictConfig({...}), num_layers=4)  # from_config, then overridden

Functions use ``@configurable(from_config=fn)``. The behaviour matches LiBai's
``libai.config.configurable``; misuse raises ``TypeError`` instead of asserting.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable

from omegaconf import DictConfig, OmegaConf


def configurable(init_func: Callable | None = None, *, from_config: Callable | None = None):
    """Let a class ``__init__`` (or a function) accept a config as well as kwargs.

    Raises:
        TypeError: when applied to something other than an ``__init__`` without
            ``from_config=``, when ``from_config`` is not a function, or when the
            class has no ``from_config`` classmethod.
    """
    if init_func is not None:
        if not (
            inspect.isfunction(init_func)
            and from_config is None
            and init_func.__name__ == "__init__"
        ):
            raise TypeError(
                "@configurable without arguments decorates a class's __init__; for a "
                "function use @configurable(from_config=fn)"
            )

        @functools.wraps(init_func)
        def wrapped_init(self: Any, *args: Any, **kwargs: Any) -> None:
            cls = type(self)
            from_config_func = getattr(cls, "from_config", None)
            if from_config_func is None:
                raise AttributeError(
                    f"class {cls.__name__} uses @configurable and needs a 'from_config' "
                    "classmethod that maps cfg to __init__ arguments"
                )
            if not inspect.ismethod(from_config_func):
                raise TypeError(
                    f"{cls.__name__}.from_config must be a classmethod (decorate it with "
                    "@classmethod)"
                )
            if _called_with_cfg(*args, **kwargs):
                explicit = _get_args_from_config(from_config_func, *args, **kwargs)
                init_func(self, **explicit)
            else:
                init_func(self, *args, **kwargs)

        return wrapped_init

    if from_config is None:
        return configurable  # @configurable() is the same as @configurable
    if not inspect.isfunction(from_config):
        raise TypeError(
            f"configurable(from_config=...) needs a function, got {type(from_config).__name__}"
        )

    def wrapper(orig_func: Callable) -> Callable:
        @functools.wraps(orig_func)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if _called_with_cfg(*args, **kwargs):
                explicit = _get_args_from_config(from_config, *args, **kwargs)
                return orig_func(**explicit)
            return orig_func(*args, **kwargs)

        wrapped.from_config = from_config  # type: ignore[attr-defined]
        return wrapped

    return wrapper


def _get_args_from_config(from_config_func: Callable, *args: Any, **kwargs: Any) -> dict:
    """Call ``from_config`` with the arguments it accepts; the rest override its result."""
    signature = inspect.signature(from_config_func)
    names = list(signature.parameters)
    if not names or names[0] != "cfg":
        if inspect.isfunction(from_config_func):
            name = from_config_func.__name__
        else:
            name = f"{from_config_func.__self__}.from_config"  # type: ignore[attr-defined]
        raise TypeError(f"{name} must take 'cfg' as its first argument")
    takes_var = any(
        p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in signature.parameters.values()
    )
    if takes_var:
        return from_config_func(*args, **kwargs)
    supported = set(names)
    extra = {k: kwargs.pop(k) for k in list(kwargs) if k not in supported}
    result = from_config_func(*args, **kwargs)
    if not isinstance(result, dict):
        raise TypeError(
            f"from_config must return a dict of keyword arguments, got {type(result).__name__}"
        )
    result.update(extra)
    return result


def _called_with_cfg(*args: Any, **kwargs: Any) -> bool:
    """True when the call carries a config (first positional or ``cfg=``)."""
    if args and isinstance(args[0], DictConfig):
        return True
    return isinstance(kwargs.get("cfg"), DictConfig)


def try_get_key(cfg: Any, *keys: str, default: Any = None) -> Any:
    """Return the value of the first of ``keys`` (dotted paths) present in ``cfg``.

    ``default`` when none is present. As in LiBai: a key whose value is None
    counts as present.
    """
    missing = object()
    for key in keys:
        value = OmegaConf.select(cfg, key, default=missing)
        if value is not missing:
            return value
    return default
