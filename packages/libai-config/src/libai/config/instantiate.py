"""Build objects from a config: every ``{"_target_": ..., **kwargs}`` node is called.

What comes back, node by node:

- a node with ``_target_``: ``target(**kwargs)``, its arguments built first
  (depth first) unless the node says ``_recursive_: False``, in which case the
  target receives its arguments as configs (``DictConfig``/``ListConfig``) and
  may instantiate them itself;
- a dict without ``_target_`` and no target anywhere below it: a ``DictConfig``
  of its (resolved) data, as LiBai does, so ``LazyCall(Model)(cfg=dict(...))``
  hands the model a ``DictConfig`` and ``@configurable`` recognises it;
- a dict without ``_target_`` that holds targets below it: a plain ``dict`` of
  the built values (an omegaconf container would turn built dataclass objects
  back into configs);
- lists and tuples: the same type, items built.

Speed: a config tree is converted to plain containers once, with
interpolations resolved (``OmegaConf.to_container``), and the walk runs over
those, instead of reading omegaconf nodes one attribute at a time.
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from .errors import InstantiationError, TargetError, TargetResolutionError
from .targets import dotted_path, resolve_target

TARGET_KEY = "_target_"
RECURSIVE_KEY = "_recursive_"
_FLAGS = {"allow_objects": True}
_SCALARS = frozenset({int, float, str, bool, type(None), bytes})


def instantiate(cfg: Any, **kwargs: Any) -> Any:
    """Build the object(s) that ``cfg`` describes.

    Args:
        cfg: a ``DictConfig``/``dict`` with ``_target_``, or any config
            container holding such nodes (walked recursively), or a plain value
            (returned unchanged).
        kwargs: arguments for the top-level target, used as given (not
            instantiated) and taking precedence over the config's own values;
            ``_recursive_=False`` is accepted here too.

    Raises:
        InstantiationError: naming the config path of the failing node (for
            example ``train.scheduler``), its target and the original error,
            which is chained. A failure inside a nested node is reported once,
            with the innermost path.
    """
    if cfg is None:
        return None
    if not isinstance(cfg, (DictConfig, ListConfig, dict, list, tuple)):
        return cfg
    root = _full_key(cfg)
    data = _plain(cfg, root)
    builder = _Builder()
    explicit = RECURSIVE_KEY in kwargs
    recursive = kwargs.pop(RECURSIVE_KEY, True)
    if explicit and isinstance(data, dict) and TARGET_KEY in data:
        # instantiate(node, _recursive_=...) wins over the node's own flag.
        data = {**data, RECURSIVE_KEY: recursive}
    if kwargs:
        if not isinstance(data, dict):
            raise TypeError(
                f"instantiate(): keyword overrides need a dict config, got a {type(cfg).__name__}"
            )
        return builder.build_dict(data, root, recursive, kwargs)[0]
    return builder.build(data, root, recursive)[0]


def _full_key(cfg: Any) -> str:
    """The path of a config node from its root (``train.scheduler``), or ""."""
    if isinstance(cfg, (DictConfig, ListConfig)):
        parent = cfg._get_parent()
        if parent is not None:
            # Asked of the parent: a list item's own full key drops its [index].
            return str(parent._get_full_key(cfg._key()))
    return ""


def _plain(cfg: Any, path: str) -> Any:
    if not isinstance(cfg, (DictConfig, ListConfig)):
        return cfg
    try:
        return OmegaConf.to_container(cfg, resolve=True)
    except Exception as err:
        where = path or "<root>"
        raise InstantiationError(
            f"failed to instantiate {where}: cannot resolve its values: {type(err).__name__}: {err}",
            path,
        ) from err


def _child(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


class _Builder:
    """One instantiate call: walks plain containers, caches resolved targets."""

    def __init__(self) -> None:
        self._targets: dict[str, Any] = {}

    def build(self, value: Any, path: str, recursive: bool) -> tuple[Any, bool]:
        """Return (built value, whether a target was found in it)."""
        kind = type(value)
        if kind is dict:
            return self.build_dict(value, path, recursive, None)
        if kind is list or kind is tuple:
            found = False
            items = []
            for i, item in enumerate(value):
                if type(item) in _SCALARS:  # the common case, without a call
                    items.append(item)
                    continue
                built, has = self.build(item, f"{path}[{i}]", recursive)
                items.append(built)
                found = found or has
            return (kind(items) if found else value), found
        if isinstance(value, (DictConfig, ListConfig)):  # a config inside a plain container
            return self.build(_plain(value, path), path, recursive)
        if isinstance(value, dict):  # dict subclasses
            return self.build_dict(dict(value), path, recursive, None)
        return value, False

    def build_dict(self, node: dict, path: str, recursive: bool, extra: Any) -> tuple[Any, bool]:
        if TARGET_KEY not in node:
            out = {}
            found = False
            for key, item in node.items():
                if type(item) in _SCALARS:
                    out[key] = item
                    continue
                out[key], has = self.build(item, _child(path, key), recursive)
                found = found or has
            if extra:
                out.update(extra)
                found = True
            if found:
                return out, True
            return DictConfig(node, flags=_FLAGS), False
        own = node.get(RECURSIVE_KEY, recursive)
        if not isinstance(own, bool):
            raise InstantiationError(
                f"failed to instantiate {path or '<root>'}: {RECURSIVE_KEY} must be "
                f"true or false, got {own!r}",
                path,
                node[TARGET_KEY],
            )
        spec = node[TARGET_KEY]
        kwargs = {}
        for key, item in node.items():
            if key == TARGET_KEY or key == RECURSIVE_KEY:
                continue
            if type(item) in _SCALARS:  # the common case, without a call
                kwargs[key] = item
            elif own:
                kwargs[key] = self.build(item, _child(path, key), True)[0]
            else:
                kwargs[key] = _as_config(item)
        if extra:
            kwargs.update(extra)
        return self._call(spec, kwargs, path), True

    def _resolve(self, spec: Any, path: str) -> Any:
        if isinstance(spec, dict) and TARGET_KEY in spec:
            # A LazyCall whose target is a LazyCall (detectron2, LiBai): build the
            # target first, then call what it returned.
            target = self.build_dict(spec, _child(path, TARGET_KEY), True, None)[0]
        elif not isinstance(spec, str):
            target = spec
        else:
            target = self._targets.get(spec)
            if target is None:
                try:
                    target = resolve_target(spec)
                except TargetError as err:
                    raise TargetResolutionError(
                        f"failed to instantiate {path or '<root>'}: cannot resolve target "
                        f"{spec!r}: {type(err).__name__}: {err}",
                        path,
                        spec,
                    ) from err
                self._targets[spec] = target
        if not callable(target):
            raise InstantiationError(
                f"failed to instantiate {path or '<root>'}: target {_describe(spec)} is a "
                f"{type(target).__name__}, not a callable",
                path,
                spec,
            )
        return target

    def _call(self, spec: Any, kwargs: dict, path: str) -> Any:
        target = self._resolve(spec, path)
        try:
            return target(**kwargs)
        except InstantiationError:
            raise  # already names the innermost failing node
        except Exception as err:
            name = _describe(spec)
            raise InstantiationError(
                f"failed to instantiate {path or '<root>'} (target {name}): "
                f"{type(err).__name__}: {err}",
                path,
                spec,
            ) from err


def _describe(spec: Any) -> str:
    """A target as written, for messages (a nested LazyCall shows its own target)."""
    if isinstance(spec, str):
        return spec
    if isinstance(spec, dict) and TARGET_KEY in spec:
        return f"the result of {_describe(spec[TARGET_KEY])}(...)"
    return dotted_path(spec) or repr(spec)


def _as_config(value: Any) -> Any:
    """Arguments of a ``_recursive_: False`` node are handed over as configs."""
    if isinstance(value, (dict, list)):
        return OmegaConf.create(value, flags=_FLAGS)
    return value
