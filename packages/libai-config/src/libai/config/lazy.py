"""``LazyCall`` and ``LazyConfig``: describe objects now, build them later.

::

    from libai.config import LazyCall, LazyConfig, instantiate

    optim = LazyCall("oneflow.optim.AdamW")(lr=1e-4, weight_decay=0.01)
    optim.lr = 3e-4                        # still just data: edit, override, save
    cfg = LazyConfig.load("configs/bert_large_pretrain.py")
    LazyConfig.save(cfg, "output/config.yaml")

``LazyConfig`` gathers the config operations as static methods; each one
delegates to the module that implements it.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import sys
from typing import Any, Callable, Union

from omegaconf import DictConfig

from .targets import dotted_path


class LazyCall:
    """Wrap a target so that calling it with keywords records a config node.

    ``LazyCall(target)(**kwargs)`` returns
    ``DictConfig({"_target_": target, **kwargs})`` (objects allowed; tuples
    among the arguments are stored as lists);
    :func:`libai.config.instantiate` later calls ``target(**kwargs)``.

    Args:
        target: a callable (class or function) or a string: a registry
            reference (``"models:bert"``) or an import path
            (``"oneflow.optim.AdamW"``, ``"oneflow.optim:AdamW"``).
    """

    def __init__(self, target: Union[Callable[..., Any], str, DictConfig]) -> None:
        if not (callable(target) or isinstance(target, str) or _is_lazy_node(target)):
            raise TypeError(
                f"LazyCall target must be a callable or a string (or a LazyCall node), got "
                f"{type(target).__name__} {target!r}"
            )
        self._target = target

    def __call__(self, *args: Any, **kwargs: Any) -> DictConfig:
        if args:
            raise TypeError(
                f"LazyCall({self._describe()}) got {len(args)} positional argument(s); "
                "configs name every argument so it can be read and overridden: "
                "use keyword arguments, e.g. LazyCall(f)(x=1)"
            )
        target: Any = self._target
        if _omegaconf_would_convert(target):
            # omegaconf turns a dataclass or attrs *type* into a config of its
            # fields and refuses container types (``dict``) as values; keep the
            # target a target by naming it instead.
            target = dotted_path(target) or functools.partial(target)
        content = {"_target_": target}
        content.update((k, tuples_to_lists(v)) for k, v in kwargs.items())
        return DictConfig(content=keep_objects(content), flags={"allow_objects": True})

    def _describe(self) -> str:
        if isinstance(self._target, str):
            return repr(self._target)
        if _is_lazy_node(self._target):
            return f"LazyCall({self._target['_target_']!r})(...)"
        return dotted_path(self._target) or repr(self._target)

    def __repr__(self) -> str:
        return f"LazyCall({self._describe()})"


def tuples_to_lists(value: Any) -> Any:
    """``value`` with every plain tuple inside plain dicts and lists made a list.

    A config stores sequences as lists (``ListConfig``), as LiBai's did:
    omegaconf >= 2.4 would keep tuples as ``TupleConfig``, which YAML cannot
    write, which compares unequal to the list a saved config reloads as, and
    whose overrides with a list are deprecated. A namedtuple is not a plain
    tuple: it is an object with its own type and stays one (see :func:`keep_objects`).
    """
    kind = type(value)
    if kind is tuple or kind is list:
        return [tuples_to_lists(v) for v in value]
    if kind is dict:
        return {k: tuples_to_lists(v) for k, v in value.items()}
    return value


def _is_lazy_node(value: Any) -> bool:
    """A ``LazyCall`` node (a dict config with ``_target_``), usable as another's target."""
    return isinstance(value, (dict, DictConfig)) and "_target_" in value


def keep_objects(value: Any) -> Any:
    """``value`` with every tuple subclass (a namedtuple) held as an object node.

    omegaconf turns any tuple into a ``ListConfig``, so a namedtuple argument
    would reach its target as a list. Held in an ``AnyNode`` (objects allowed),
    it stays that object, as in LiBai and detectron2. Plain dicts and lists are
    walked; config nodes are left as they are.
    """
    kind = type(value)
    if kind is dict:
        return {k: keep_objects(v) for k, v in value.items()}
    if kind is list:
        return [keep_objects(v) for v in value]
    if isinstance(value, tuple) and kind is not tuple:
        from omegaconf.nodes import AnyNode

        return AnyNode(value, flags={"allow_objects": True})
    return value


def _omegaconf_would_convert(target: Any) -> bool:
    return isinstance(target, type) and (
        dataclasses.is_dataclass(target)
        or hasattr(target, "__attrs_attrs__")
        or issubclass(target, (dict, list, tuple))
    )


def _caller_file(depth: int) -> str:
    """``__file__`` of the code ``depth`` frames above the caller."""
    frame = sys._getframe(depth + 1)
    filename = frame.f_globals.get("__file__")
    if not filename:
        raise RuntimeError(
            "LazyConfig.load_rel() must be called from a file (its path is relative "
            "to that file), not from an interactive session"
        )
    return filename


class LazyConfig:
    """Load, save, override, render and compare configs (all static methods)."""

    @staticmethod
    def load(filename: Union[str, os.PathLike], keys: Any = None) -> Any:
        """Load a ``.py`` or ``.yaml``/``.yml`` config file.

        Each call executes the Python file (and the files it imports
        relatively) again, so configs never share state between loads.

        Args:
            filename: the config file.
            keys: None for a ``DictConfig`` of every public config object of
                the file; a name for just that object; a tuple of names for a
                tuple of objects.

        Raises:
            ConfigLoadError: a subclass matching the original error
                (``ConfigSyntaxError`` is also a ``SyntaxError``, ...), naming
                ``file:line``.
            FileNotFoundError: no such file. ``ConfigKeyError``: unknown key.
        """
        from .loader import load

        return load(filename, keys)

    @staticmethod
    def load_rel(filename: Union[str, os.PathLike], keys: Any = None) -> Any:
        """Like :meth:`load`, with ``filename`` relative to the calling file."""
        from .loader import load

        base = os.path.dirname(_caller_file(1))
        return load(os.path.join(base, os.fspath(filename)), keys)

    @staticmethod
    def save(cfg: Any, filename: Union[str, os.PathLike]) -> None:
        """Write ``cfg`` as YAML that :meth:`load` reads back to an equal config.

        Callables become their registry reference or dotted path. Raises
        ``ConfigSaveError`` naming the key path of a value YAML cannot hold.
        """
        from .yaml_io import save

        save(cfg, filename)

    @staticmethod
    def apply_overrides(cfg: Any, overrides: list) -> Any:
        """Apply command-line overrides (``"a.b=1"``, ``"+c=2"``, ``"~d"``) to ``cfg``."""
        from .overrides import apply_overrides

        return apply_overrides(cfg, overrides)

    @staticmethod
    def to_py(cfg: Any, prefix: str = "cfg.") -> str:
        """Render ``cfg`` as readable Python."""
        from .to_py import to_py

        return to_py(cfg, prefix=prefix)

    @staticmethod
    def diff(a: Any, b: Any) -> Any:
        """The keys whose values differ between configs ``a`` and ``b``."""
        from .diff import diff

        return diff(a, b)
