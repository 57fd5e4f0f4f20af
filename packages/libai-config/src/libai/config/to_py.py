"""Render a config as readable Python that rebuilds it.

``to_py(cfg)`` returns a script in the style of a LiBai config file::

    from libai.config import LazyCall
    from omegaconf import OmegaConf

    import libai.models.bert

    cfg = OmegaConf.create(flags={"allow_objects": True})

    cfg.model = LazyCall(libai.models.bert.BertModel)(vocab_size=30522, hidden_size=768)

    cfg.train = dict(train_iter=1000, output_dir="./output")

Executing it gives a config equal to ``cfg``. ``LazyCall`` nodes whose target
is a callable are written ``LazyCall(module.Target)(...)`` with an ``import``
for the module; string targets (registry references such as ``"models:bert"``
or dotted paths) stay strings, ``LazyCall("models:bert")(...)``. With
``prefix=""`` the top-level keys become module-level names, which is a config
file that ``LazyConfig.load`` reads back.

The layout is a small pretty printer (no black): a call, list or dict that
fits in ``width`` columns stays on one line, otherwise it is broken with one
argument per line (lists of plain values are packed), recursively.
"""

from __future__ import annotations

import enum
import keyword
import math
import sys
from dataclasses import dataclass, field
from typing import Any, Mapping, Union

from omegaconf import DictConfig, ListConfig
from omegaconf.base import Container

from .errors import ConfigSaveError

__all__ = ["to_py"]

_INDENT = 4


# --------------------------------------------------------------------------
# Expression tree
# --------------------------------------------------------------------------


@dataclass
class _Atom:
    """Text that is never broken: a number, a string, a dotted name."""

    text: str


@dataclass
class _Group:
    """``open item, item close``; each item is (lead, node), lead like ``"lr="``."""

    open: str
    close: str
    items: list[tuple[str, _Expr]] = field(default_factory=list)


_Expr = Union[_Atom, _Group]


class _Builder:
    """Turns config nodes into expressions, collecting the imports they need."""

    def __init__(self) -> None:
        self.imports: set[str] = set()
        self.uses_lazycall = False

    def node(self, node: Any, path: str) -> _Expr:
        """Expression for a config node (or a plain value) at ``path``."""
        if isinstance(node, (DictConfig, ListConfig)) or _is_tuple_config(node):
            if node._is_none():
                return _Atom("None")
            if node._is_missing():
                return _Atom('"???"')
            if node._is_interpolation():
                return _Atom(_string(node._value()))
            if isinstance(node, ListConfig):
                return self.sequence([node._get_node(i) for i in range(len(node))], path)
            if _is_tuple_config(node):
                return self.node(tuple(node._get_node(i) for i in range(len(node))), path)
            return self.mapping([(k, node._get_node(k)) for k in node.keys()], path)
        if isinstance(node, Mapping):
            return self.mapping(list(node.items()), path)
        if isinstance(node, list):
            return self.sequence(node, path)
        if isinstance(node, tuple):  # kept as a tuple where objects are allowed
            items = self.sequence(list(node), path).items
            return _Group("(", ",)" if len(items) == 1 else ")", items)
        value = node._value() if hasattr(node, "_value") and hasattr(node, "_is_none") else node
        if isinstance(value, (DictConfig, ListConfig, Mapping, list, tuple)):
            return self.node(value, path)
        return self.leaf(value, path)

    def sequence(self, items: list[Any], path: str) -> _Expr:
        return _Group("[", "]", [("", self.node(v, _join(path, i))) for i, v in enumerate(items)])

    def mapping(self, items: list[tuple[Any, Any]], path: str) -> _Expr:
        keys = [k for k, _ in items]
        if "_target_" in keys:
            target = _raw(dict(items)["_target_"])
            if isinstance(target, str) or _is_named(target):
                return self.lazy_call(target, [kv for kv in items if kv[0] != "_target_"], path)
        if all(_is_identifier(k) for k in keys):
            return _Group("dict(", ")", [(f"{k}=", self.node(v, _join(path, k))) for k, v in items])
        return _Group(
            "{",
            "}",
            [(f"{self.leaf(k, path).text}: ", self.node(v, _join(path, k))) for k, v in items],
        )

    def lazy_call(self, target: Any, items: list[tuple[Any, Any]], path: str) -> _Expr:
        self.uses_lazycall = True
        if isinstance(target, str):
            head = _string(target)
        else:
            head = self.name(target, _join(path, "_target_"))
        args: list[tuple[str, _Expr]] = []
        extra: list[tuple[str, _Expr]] = []
        for k, v in items:
            expr = self.node(v, _join(path, k))
            if _is_identifier(k):
                args.append((f"{k}=", expr))
            else:  # not a valid keyword argument: pass it through **{...}
                extra.append((f"{self.leaf(k, path).text}: ", expr))
        if extra:
            args.append(("**", _Group("{", "}", extra)))
        return _Group(f"LazyCall({head})(", ")", args)

    def leaf(self, value: Any, path: str) -> _Atom:
        if isinstance(value, str):
            return _Atom(_string(value))
        if value is None or isinstance(value, (bool, int, bytes)):
            return _Atom(repr(value))
        if isinstance(value, float):
            if math.isnan(value):
                return _Atom('float("nan")')
            if math.isinf(value):
                return _Atom('float("inf")' if value > 0 else 'float("-inf")')
            return _Atom(repr(value))
        if isinstance(value, enum.Enum):
            return _Atom(f"{self.name(type(value), path)}.{value.name}")
        if _is_named(value):
            return _Atom(self.name(value, path))
        raise ConfigSaveError(
            f"cannot write {path or 'the config'} as Python: {type(value).__name__} {_short(value)} "
            "is not a number, string, list, dict, LazyCall or importable callable",
            path=path,
            value=value,
        )

    def name(self, obj: Any, path: str) -> str:
        """``module.Qualname`` for an importable object; records the import."""
        module = _import_path(obj)
        if module is None:
            raise ConfigSaveError(
                f"cannot write {path} as Python: {obj.__module__}.{obj.__qualname__} cannot be "
                "imported back (a lambda, a local function or an object renamed after creation); "
                "define it at the top level of a module",
                path=path,
                value=obj,
            )
        if module == "builtins":
            return obj.__qualname__
        self.imports.add(module)
        return f"{module}.{obj.__qualname__}"


def _lookup(module: str, qualname: str) -> Any:
    found: Any = sys.modules.get(module)
    for part in qualname.split("."):
        found = getattr(found, part, None)
    return found


def _import_path(obj: Any) -> str | None:
    """The shortest already-imported module through which ``obj`` is reachable.

    ``obj.__module__`` is often private (``_functools``) or deep
    (``torch.nn.modules.conv``); like detectron2, prefer a public parent that
    re-exports the same object (``functools``, ``torch.nn``). Only modules
    already in ``sys.modules`` are tried, so rendering never imports anything.
    """
    module, qualname = obj.__module__, obj.__qualname__
    parts = module.split(".")
    candidates = [".".join(parts[:i]) for i in range(1, len(parts))]
    if parts[-1].startswith("_"):
        candidates.append(".".join(parts[:-1] + [parts[-1].lstrip("_")]))
    candidates.append(module)
    for candidate in candidates:
        if candidate and not any(p.startswith("_") for p in candidate.split(".")):
            found = _lookup(candidate, qualname)
            if found is obj:
                return candidate
    found = _lookup(module, qualname)
    return module if found is obj or (found is not None and found == obj) else None


def _string(s: str) -> str:
    """A Python string literal, double-quoted unless the text has double quotes."""
    text = repr(s)
    if text.startswith("'") and '"' not in s:
        text = '"' + text[1:-1] + '"'
    return text


def _is_tuple_config(node: Any) -> bool:
    """omegaconf 2.4 keeps tuples as ``TupleConfig`` (not a ListConfig) where objects are allowed."""
    return type(node).__name__ == "TupleConfig" and isinstance(node, Container)


def _raw(node: Any) -> Any:
    if isinstance(node, (DictConfig, ListConfig)):
        return node
    return node._value() if hasattr(node, "_value") and hasattr(node, "_is_none") else node


def _is_named(value: Any) -> bool:
    """A function, class or other callable that has an import path."""
    return (
        callable(value)
        and isinstance(getattr(value, "__module__", None), str)
        and isinstance(getattr(value, "__qualname__", None), str)
    )


def _is_identifier(key: Any) -> bool:
    return isinstance(key, str) and key.isidentifier() and not keyword.iskeyword(key)


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --------------------------------------------------------------------------
# Layout
# --------------------------------------------------------------------------


def _flat(expr: _Expr) -> str:
    if isinstance(expr, _Atom):
        return expr.text
    return expr.open + ", ".join(lead + _flat(e) for lead, e in expr.items) + expr.close


def _layout(expr: _Expr, indent: int, used: int, trail: int, width: int) -> str:
    """Text of ``expr`` starting at column ``used``, with ``trail`` columns after it."""
    flat = _flat(expr)
    if isinstance(expr, _Atom) or not expr.items or used + len(flat) + trail <= width:
        return flat
    inner = indent + _INDENT
    pad = " " * inner
    lines = [expr.open]
    if expr.open in "[(" and all(isinstance(e, _Atom) for _, e in expr.items):
        # A list of plain values: pack as many per line as fit.
        line = ""
        for _, e in expr.items:
            piece = _flat(e) + ","
            if line and inner + len(line) + 1 + len(piece) > width:
                lines.append(pad + line)
                line = piece
            else:
                line = f"{line} {piece}" if line else piece
        lines.append(pad + line)
    else:
        for lead, e in expr.items:
            text = _layout(e, inner, inner + len(lead), 1, width)
            lines.append(f"{pad}{lead}{text},")
    lines.append(" " * indent + expr.close.lstrip(","))
    return "\n".join(lines)


def to_py(cfg: Any, prefix: str = "cfg.", *, width: int = 100) -> str:
    """Return Python source that rebuilds ``cfg`` (a DictConfig or a mapping).

    Top-level keys become ``{prefix}{key} = ...`` statements. When ``prefix``
    is ``"name."`` the script first creates ``name``; with ``prefix=""`` the
    keys become module-level names (a config file).

    Raises:
        ConfigSaveError: a value that cannot be written as Python (an object
            that is not a number, string, container or importable callable);
            its ``path`` is the config key path.
    """
    if not isinstance(cfg, (DictConfig, Mapping)):
        raise TypeError(f"to_py expects a DictConfig or a mapping, got {type(cfg).__name__}")
    root_name = prefix[:-1] if prefix.endswith(".") else ""
    if prefix and not (prefix.endswith(".") and root_name.isidentifier()):
        raise ValueError(
            f"prefix must be '' or a name followed by a dot, like 'cfg.', got {prefix!r}"
        )

    builder = _Builder()
    statements: list[str] = []
    if isinstance(cfg, DictConfig):
        items = [(k, cfg._get_node(k)) for k in cfg.keys()]
    else:
        items = list(cfg.items())
    keys = [k for k, _ in items]
    if "_target_" in keys:
        # The root itself is a call: one statement builds it.
        target_line = f"{root_name or 'cfg'} = "
        expr = builder.node(cfg, "")
        statements.append(target_line + _layout(expr, 0, len(target_line), 0, width))
    else:
        for key, node in items:
            if _is_identifier(key):
                lead = f"{prefix}{key} = "
            elif root_name:
                lead = f"{root_name}[{key!r}] = "
            else:
                raise ConfigSaveError(
                    f"cannot write the top-level key {key!r} as a module-level name; "
                    "use a prefix such as 'cfg.'",
                    path=str(key),
                )
            expr = builder.node(node, str(key))
            statements.append(lead + _layout(expr, 0, len(lead), 0, width))
        if root_name:
            statements.insert(0, f'{root_name} = OmegaConf.create(flags={{"allow_objects": True}})')

    header = []
    if builder.uses_lazycall:
        header.append("from libai.config import LazyCall")
    if root_name and "_target_" not in keys:
        header.append("from omegaconf import OmegaConf")
    imports = [f"import {m}" for m in sorted(builder.imports)]
    blocks = [b for b in ("\n".join(header), "\n".join(imports)) if b]
    blocks.extend(statements)
    return "\n\n".join(blocks) + "\n"
