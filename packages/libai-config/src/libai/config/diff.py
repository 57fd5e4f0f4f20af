"""Compare two configs key by key: what was added, removed and changed.

``diff(a, b)`` walks both configs in parallel over dotted key paths
(``train.dist.data_parallel_size``; list items by index, ``optim.betas.1``)
and returns a :class:`ConfigDiff`::

    >>> d = diff(old_cfg, new_cfg)
    >>> print(d.format())
    + train.new: 1
    - model.x: 3
    ~ train.train_iter: 100 -> 200

Values are compared as written, without resolving interpolations
(``"${train.lr}"`` is compared as that string). Types matter: ``1``,
``1.0``, ``True`` and ``"1"`` all differ. A callable is compared by its
dotted path (``module.qualname``), so a config loaded from Python (holding
the class) equals the same config saved to YAML (holding its path). When a
subtree changes kind (a dict becomes a list or a number), that path is one
change, with both whole values.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

from omegaconf import DictConfig, ListConfig

__all__ = ["ConfigDiff", "DottedPath", "diff", "jsonable", "path_sort_key"]


class DottedPath(str):
    """A callable, written as its dotted path; shown without quotes."""

    def __repr__(self) -> str:
        return str(self)


@dataclass(frozen=True)
class ConfigDiff:
    """Differences from config ``a`` to config ``b``, keyed by dotted path.

    ``added`` holds values only in ``b``, ``removed`` values only in ``a``,
    ``changed`` ``(old, new)`` pairs. Values are plain Python (dicts, lists,
    scalars; callables as :class:`DottedPath`). False when the configs are equal.
    """

    added: dict[str, Any] = field(default_factory=dict)
    removed: dict[str, Any] = field(default_factory=dict)
    changed: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    def __len__(self) -> int:
        return len(self.added) + len(self.removed) + len(self.changed)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict: ``{"added": {...}, "removed": {...},
        "changed": {path: {"old": ..., "new": ...}}}``, each sorted by path."""
        return {
            "added": {p: jsonable(self.added[p]) for p in _sorted(self.added)},
            "removed": {p: jsonable(self.removed[p]) for p in _sorted(self.removed)},
            "changed": {
                p: {"old": jsonable(self.changed[p][0]), "new": jsonable(self.changed[p][1])}
                for p in _sorted(self.changed)
            },
        }

    def format(self) -> str:
        """One line per difference, sorted by path; an empty string when equal.

        ``+ path: new`` for added keys, ``- path: old`` for removed ones and
        ``~ path: old -> new`` for changed ones.
        """
        lines = []
        entries = [(p, "+") for p in self.added] + [(p, "-") for p in self.removed]
        entries += [(p, "~") for p in self.changed]
        for path, mark in sorted(entries, key=lambda e: path_sort_key(e[0])):
            shown = path or "<root>"
            if mark == "+":
                lines.append(f"+ {shown}: {_show(self.added[path])}")
            elif mark == "-":
                lines.append(f"- {shown}: {_show(self.removed[path])}")
            else:
                old, new = self.changed[path]
                lines.append(f"~ {shown}: {_show(old)} -> {_show(new)}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()


def diff(a: Any, b: Any) -> ConfigDiff:
    """Compare configs ``a`` and ``b`` (DictConfig, ListConfig, dicts or lists).

    Returns a :class:`ConfigDiff` (false when the configs are equal).
    """
    result = ConfigDiff()
    _compare(_plain(a), _plain(b), "", result)
    return result


# --------------------------------------------------------------------------
# Walking
# --------------------------------------------------------------------------


def _plain(node: Any) -> Any:
    """A config node as plain dicts/lists/scalars, without resolving anything."""
    if isinstance(node, (DictConfig, ListConfig)):
        if node._is_none():
            return None
        if node._is_missing() or node._is_interpolation():
            return node._value()
        if isinstance(node, ListConfig):
            return [_plain(node._get_node(i)) for i in range(len(node))]
        return {k: _plain(node._get_node(k)) for k in node.keys()}
    if hasattr(node, "_value") and hasattr(node, "_is_none"):  # a leaf ValueNode
        return _plain(node._value())
    if isinstance(node, Mapping):
        return {k: _plain(v) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [_plain(v) for v in node]
    if isinstance(node, enum.Enum):
        return node
    if callable(node) and isinstance(getattr(node, "__qualname__", None), str):
        return DottedPath(f"{node.__module__}.{node.__qualname__}")
    return node


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _compare(a: Any, b: Any, path: str, out: ConfigDiff) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in a:
            if key not in b:
                out.removed[_join(path, key)] = a[key]
        for key in b:
            if key not in a:
                out.added[_join(path, key)] = b[key]
            else:
                _compare(a[key], b[key], _join(path, key), out)
    elif isinstance(a, list) and isinstance(b, list):
        for i in range(max(len(a), len(b))):
            if i >= len(b):
                out.removed[_join(path, i)] = a[i]
            elif i >= len(a):
                out.added[_join(path, i)] = b[i]
            else:
                _compare(a[i], b[i], _join(path, i), out)
    elif not _same_leaf(a, b):
        out.changed[path] = (a, b)


def _same_leaf(a: Any, b: Any) -> bool:
    if isinstance(a, (dict, list)) or isinstance(b, (dict, list)):
        return False  # a subtree against something of another kind
    if isinstance(a, str) and isinstance(b, str):
        if str(a) == str(b):
            return True  # a DottedPath equals the same path as a string
        # save() writes a callable as its registry reference or shortest public
        # path, so a saved config names the callable differently from its dotted path.
        if isinstance(a, DottedPath) != isinstance(b, DottedPath):
            dotted, text = (a, b) if isinstance(a, DottedPath) else (b, a)
            return _names_callable(text, str(dotted))
        return False
    if type(a) is not type(b):
        return False  # 1, 1.0, True and "1" differ in a config
    if isinstance(a, float) and math.isnan(a) and math.isnan(b):
        return True
    try:
        return bool(a == b)
    except Exception as err:  # an object whose == is not a bool (an array)
        raise TypeError(f"cannot compare the values of {type(a).__name__} objects: {err}") from err


def _names_callable(text: str, dotted: str) -> bool:
    """Whether ``text`` (a registry reference or import path) names the callable at ``dotted``.

    Never imports: a reference is matched against its entry point's metadata, an
    import path only through modules already imported (the callable's own module is).
    """
    import sys

    from .registry import get_registry, parse_reference

    parsed = parse_reference(text)
    if parsed is not None:
        group, dist, name = parsed
        try:
            entry = get_registry().get(group, name, dist)
        except LookupError:
            return False
        text = str(entry.value)
        if text.replace(":", ".") == dotted:
            return True
    module_name, _, attrs = text.replace(":", ".").rpartition(".")
    while module_name and module_name not in sys.modules:
        module_name, _, head = module_name.rpartition(".")
        attrs = f"{head}.{attrs}"
    obj: Any = sys.modules.get(module_name)
    for attr in attrs.split(".") if obj is not None else ():
        obj = getattr(obj, attr, None)
    qualname = getattr(obj, "__qualname__", None)
    return obj is not None and f"{getattr(obj, '__module__', '')}.{qualname}" == dotted


# --------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------


def path_sort_key(path: str) -> list[tuple[int, Any]]:
    """Sort ``a.2`` before ``a.10``, and numbers before names."""
    return [(0, int(p)) if p.isdigit() else (1, p) for p in path.split(".")] if path else []


def _sorted(paths: Mapping[str, Any]) -> Iterator[str]:
    return iter(sorted(paths, key=path_sort_key))


def _show(value: Any) -> str:
    return repr(value)


def jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return str(value) if isinstance(value, DottedPath) else value
    if isinstance(value, enum.Enum):
        return f"{type(value).__name__}.{value.name}"
    return repr(value)
