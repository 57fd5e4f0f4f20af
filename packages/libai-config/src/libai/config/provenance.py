"""Where each key of a config was last set: ``file:line``, an override, or a target's default.

``libai-engine show CFG.py --provenance`` answers "why is ``train.train_iter``
1000?" with ``configs/gpt2_pretrain.py:41``, even when the value came through a
relative import or ``get_config("common/train.py")``, or with the command-line
override that set it last.

How: the config files are *read*, not traced. Their syntax trees are walked
statement by statement, in order, following relative imports and
``get_config``/``LazyConfig.load`` calls, and every assignment that the walk can
name (``x = dict(a=1)``, ``LazyCall(f)(a=1)``, ``{"a": 1}``, ``[...]``,
``x.a.b = 1``, ``x["a"] = 1``, ``x.update(a=1)``, ``del x.a``, aliases
``y = x.a``) records the line for the key path it sets. A key whose own line the
walk cannot name (set in a loop, computed by a function) gets the line of the
nearest enclosing key that it can. Then the overrides are applied in order.

Why not trace execution: ``LazyConfig.load`` must not get slower (a line tracer
costs a Python call for every function omegaconf runs), and provenance is asked
for rarely. Reading the syntax trees costs a few percent of a load and only when
asked (``benchmarks/config_bench.py`` measures it); ``load`` itself is unchanged.
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass
from typing import Any, Sequence

__all__ = ["Origin", "Provenance", "config_provenance", "file_stamps"]

#: Relative dotted key path ("" for the value itself) -> where it was set.
Stamps = dict


@dataclass(frozen=True)
class Origin:
    """Where a value was set: ``kind`` is ``"file"``, ``"override"`` or ``"default"``.

    ``where`` is ``path:line`` for a file, the override text (``train.train_iter=3``)
    for an override, the target's dotted name for a default.
    """

    kind: str
    where: str

    def __str__(self) -> str:
        if self.kind == "override":
            return f"command line: {self.where}"
        if self.kind == "default":
            return f"default of {self.where}"
        return self.where

    def to_dict(self) -> dict[str, str]:
        """A JSON-ready form: ``{"kind": ..., "where": ...}``."""
        return {"kind": self.kind, "where": self.where}


@dataclass(frozen=True)
class Provenance:
    """One key of the final config, its value and its :class:`Origin`."""

    key: str
    value: Any
    origin: Origin

    def to_dict(self) -> dict[str, Any]:
        """``{"key", "value", "kind", "where"}``, JSON-ready (values as the YAML would hold them)."""
        return {"key": self.key, "value": _jsonable(self.value), **self.origin.to_dict()}


# ----------------------------------------------------------------------------- stamps


def _join(prefix: str, key: Any) -> str:
    return f"{prefix}.{key}" if prefix else str(key)


def _sub(stamps: Stamps, prefix: str) -> Stamps:
    """The stamps under ``prefix``, re-rooted at it."""
    if not prefix:
        return dict(stamps)
    out = {}
    for key, origin in stamps.items():
        if key == prefix:
            out[""] = origin
        elif key.startswith(prefix + "."):
            out[key[len(prefix) + 1 :]] = origin
    return out


def _put(stamps: Stamps, prefix: str, new: Stamps) -> None:
    """Replace everything at and under ``prefix`` with ``new`` (re-rooted at ``prefix``)."""
    _drop(stamps, prefix)
    for key, origin in new.items():
        stamps[_join(prefix, key) if key else prefix] = origin


def _drop(stamps: Stamps, prefix: str) -> None:
    if not prefix:
        stamps.clear()
        return
    if prefix not in stamps:
        return  # every stamped subtree has a stamp of its own root: nothing below either
    for key in [k for k in stamps if k == prefix or k.startswith(prefix + ".")]:
        del stamps[key]


# ----------------------------------------------------------------------------- files


class _FileWalker:
    """Walks one config file's statements, keeping stamps per top-level name."""

    def __init__(self, path: str, files: dict[str, dict[str, Stamps]], shown: str) -> None:
        self.path = path
        self.shown = shown
        self.files = files
        self.names: dict[str, Stamps] = {}

    def here(self, node: ast.AST) -> Origin:
        return Origin("file", f"{self.shown}:{getattr(node, 'lineno', 0)}")

    # -- expressions -------------------------------------------------------

    def path_of(self, node: ast.AST) -> tuple[str, str] | None:
        """``(root name, dotted path)`` of ``x``, ``x.a.b``, ``x["a"][0]``; None otherwise."""
        if isinstance(node, ast.Name):
            return node.id, ""
        if isinstance(node, ast.Attribute):
            parent = self.path_of(node.value)
            return None if parent is None else (parent[0], _join(parent[1], node.attr))
        if isinstance(node, ast.Subscript):
            index = self._index(node)
            if index is not None:
                parent = self.path_of(node.value)
                return None if parent is None else (parent[0], _join(parent[1], index))
        return None

    @staticmethod
    def _index(node: ast.Subscript) -> str | int | None:
        """The constant key of ``x["a"]`` or ``x[0]``; None for anything computed."""
        index = node.slice
        if isinstance(index, ast.Constant) and isinstance(index.value, (str, int)):
            return index.value
        return None

    def value(self, node: ast.AST) -> Stamps | None:
        """Stamps of the value ``node`` builds, or None when the walk cannot tell."""
        here = self.here(node)
        if isinstance(node, ast.Dict):
            out: Stamps = {"": here}
            for key, item in zip(node.keys, node.values):
                if key is None:  # {**other}
                    out.update({k: o for k, o in (self.value(item) or {}).items() if k})
                elif isinstance(key, ast.Constant):
                    self._keyword(out, str(key.value), self.here(key), item)
            return out
        if isinstance(node, (ast.List, ast.Tuple)):
            out = {"": here}
            for index, item in enumerate(node.elts):
                self._keyword(out, str(index), self.here(item), item)
            return out
        if isinstance(node, ast.Name):
            found = self.names.get(node.id)
            return None if found is None else dict(found)
        if isinstance(node, (ast.Attribute, ast.Subscript)):
            key = node.attr if isinstance(node, ast.Attribute) else self._index(node)
            base = None if key is None else self.value(node.value)  # x.a, get_config(...).a
            return (_sub(base, str(key)) or None) if base else None
        if isinstance(node, ast.Call):
            return self._call(node, here)
        return None

    def _keyword(self, out: Stamps, key: str, origin: Origin, item: ast.AST) -> None:
        sub = dict(self.value(item) or {})
        sub[""] = origin
        _put(out, key, sub)

    def _call(self, node: ast.Call, here: Origin) -> Stamps | None:
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if isinstance(func, ast.Call):  # LazyCall(target)(**kwargs)
            inner = func.func
            inner_name = inner.id if isinstance(inner, ast.Name) else getattr(inner, "attr", None)
            if inner_name != "LazyCall":
                return None
            out: Stamps = {"": here}
            if func.args:
                self._keyword(out, "_target_", self.here(func.args[0]), func.args[0])
            return self._kwargs(out, node)
        if name in ("dict", "DictConfig", "create"):  # dict(...), OmegaConf.create(...)
            out = {"": here}
            if node.args:
                out.update({k: o for k, o in (self.value(node.args[0]) or {}).items() if k})
            return self._kwargs(out, node)
        if name in ("deepcopy", "copy") and node.args:
            return self.value(node.args[0])
        if name in ("get_config", "load", "load_rel") and node.args:
            loaded = self._loaded_file(name, node.args[0])
            if loaded is None:
                return None
            out = {"": here}
            for top, stamps in loaded.items():
                _put(out, top, stamps)
            return out
        return None

    def _kwargs(self, out: Stamps, node: ast.Call) -> Stamps:
        for keyword in node.keywords:
            if keyword.arg is None:  # **other
                out.update({k: o for k, o in (self.value(keyword.value) or {}).items() if k})
            else:
                self._keyword(out, keyword.arg, self.here(keyword), keyword.value)
        return out

    def _loaded_file(self, how: str, arg: ast.AST) -> dict[str, Stamps] | None:
        if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
            return None
        if how == "get_config":
            from .get_config import find_config

            try:
                target = str(find_config(arg.value))
            except FileNotFoundError:
                return None  # the load itself reported it already
        elif how == "load_rel":
            target = os.path.join(os.path.dirname(self.path), arg.value)
        else:
            target = arg.value
        if not target.endswith(".py") or not os.path.isfile(target):
            return None
        return file_stamps(target, self.files)

    # -- statements --------------------------------------------------------

    def run(self, body: Sequence[ast.stmt]) -> None:
        for statement in body:
            self.statement(statement)

    def statement(self, node: ast.stmt) -> None:
        if isinstance(node, ast.Assign):
            found = self.value(node.value)
            for target in node.targets:
                self._assign(target, found, node)
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and node.value is not None:
            found = None if isinstance(node, ast.AugAssign) else self.value(node.value)
            self._assign(node.target, found, node)
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            self._method_call(node.value)
        elif isinstance(node, ast.Delete):
            for target in node.targets:
                where = self.path_of(target)
                if where is not None and where[0] in self.names:
                    if where[1]:
                        _drop(self.names[where[0]], where[1])
                    else:
                        del self.names[where[0]]
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            self._import(node)
        elif isinstance(node, ast.For):
            self._for(node)
        elif isinstance(node, (ast.If, ast.With, ast.Try)):
            for block in ("body", "orelse", "finalbody"):
                self.run(getattr(node, block, []) or [])

    def _for(self, node: ast.For) -> None:
        """``for ds in dataloader.train.dataset: ds.x = 1`` stamps every item's ``x``."""
        where = self.path_of(node.iter)
        if not isinstance(node.target, ast.Name) or where is None or where[0] not in self.names:
            return
        root, key = where
        items = _sub(self.names[root], key)
        children = sorted({k.split(".")[0] for k in items if k}, key=lambda c: (len(c), c))
        variable = node.target.id
        for child in children:
            self.names[variable] = _sub(items, child)
            self.run(node.body)
            _put(self.names[root], _join(key, child), self.names.pop(variable, {}))
        if children:  # as in Python, the variable stays bound to the last item
            self.names[variable] = _sub(self.names[root], _join(key, children[-1]))

    def _assign(self, target: ast.AST, found: Stamps | None, node: ast.stmt) -> None:
        where = self.path_of(target)
        if where is None:
            return
        root, key = where
        stamps = dict(found or {})
        if key or "" not in stamps:
            stamps[""] = self.here(node)  # the key itself is set here
        if not key:
            self.names[root] = stamps
        elif root in self.names:
            _put(self.names[root], key, stamps)

    def _method_call(self, call: ast.Call) -> None:
        func = call.func
        if not isinstance(func, ast.Attribute) or func.attr not in ("update", "merge_with"):
            return
        where = self.path_of(func.value)
        if where is None or where[0] not in self.names:
            return
        root, key = where
        stamps = self.names[root]
        for arg in call.args:
            for sub, origin in (self.value(arg) or {}).items():
                if sub:
                    stamps[_join(key, sub)] = origin
        for keyword in call.keywords:
            if keyword.arg is not None:
                found = dict(self.value(keyword.value) or {})
                found[""] = self.here(keyword)
                _put(stamps, _join(key, keyword.arg), found)

    def _import(self, node: ast.ImportFrom) -> None:
        base = os.path.dirname(self.path)
        for _ in range(node.level - 1):
            base = os.path.dirname(base)
        stem = os.path.join(base, *(node.module or "").split(".")) if node.module else base
        for alias in node.names:
            local = alias.asname or alias.name
            if os.path.isfile(stem + ".py"):
                found = file_stamps(stem + ".py", self.files).get(alias.name)
            elif os.path.isfile(os.path.join(stem, alias.name + ".py")):
                module = file_stamps(os.path.join(stem, alias.name + ".py"), self.files)
                found = {}
                for top, stamps in module.items():
                    _put(found, top, stamps)
            else:
                found = None
            if found is not None:
                self.names[local] = dict(found)


def _shown_path(path: str) -> str:
    """``path`` relative to the working directory when it is under it."""
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


_TREES: dict[str, tuple[tuple[int, int], ast.Module]] = {}


def _parse(path: str) -> ast.Module:
    """The syntax tree of ``path``, parsed again only when the file changed (as the loader's code)."""
    stat = os.stat(path)
    stamp = (stat.st_mtime_ns, stat.st_size)
    cached = _TREES.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    with open(path, "rb") as f:
        tree = ast.parse(f.read(), path)
    _TREES[path] = (stamp, tree)
    return tree


def file_stamps(path: str, files: dict[str, dict[str, Stamps]] | None = None) -> dict[str, Stamps]:
    """Stamps of every top-level name a config file defines (a fresh copy).

    :param files: a cache for one provenance run (a file imported twice is read once).
    """
    files = {} if files is None else files
    path = os.path.abspath(path)
    if path not in files:
        tree = _parse(path)
        files[path] = {}  # an import cycle reads as "nothing known"
        walker = _FileWalker(path, files, _shown_path(path))
        walker.run(tree.body)
        files[path] = walker.names
    return {name: dict(stamps) for name, stamps in files[path].items()}


# ----------------------------------------------------------------------------- the final config


def _leaves(cfg: Any) -> list[tuple[str, Any]]:
    """``(dotted key, value)`` of every leaf (and empty container) of a config, unresolved.

    Reads omegaconf's node contents directly (``_content`` of containers,
    ``_val`` of values): its public accessors, and ``isinstance`` against its
    abstract base classes, cost more than the rest of provenance together.
    """
    out: list[tuple[str, Any]] = []
    stack: list[tuple[str, Any]] = [("", cfg)]
    while stack:
        prefix, node = stack.pop()
        fields = getattr(node, "__dict__", None) or {}
        content = fields.get("_content", _NO_CONTENT)
        if type(content) is dict or type(content) is list:
            items = content.items() if type(content) is dict else enumerate(content)
            children = [(_join(prefix, key), child) for key, child in items]
            if not children:
                out.append((prefix, {} if type(content) is dict else []))
            stack.extend(reversed(children))
        elif content is not _NO_CONTENT:  # None, "???" or an interpolation string
            out.append((prefix, content))
        elif "_val" in fields:
            out.append((prefix, fields["_val"]))
        else:
            out.append((prefix, node))
    return out


_NO_CONTENT = object()


def _nearest(stamps: Stamps, key: str) -> Origin | None:
    while True:
        if key in stamps:
            return stamps[key]
        if "." not in key:
            return stamps.get("")
        key = key.rsplit(".", 1)[0]


def config_provenance(
    cfg: Any,
    path: str | os.PathLike,
    overrides: Sequence[str] = (),
    *,
    defaults: bool = False,
) -> list[Provenance]:
    """For every leaf key of ``cfg`` (loaded from ``path``, then ``overrides``), its origin.

    :param defaults: also list the arguments each ``LazyCall`` leaves to its
        target, with the target's default (this resolves the targets, which may
        import their modules, OneFlow's included).
    :raises TargetError: with ``defaults``, a target that does not resolve.
    """
    from .overrides import parse_override

    filename = os.path.abspath(os.fspath(path))
    stamps: Stamps = {}
    if filename.endswith(".py"):
        for name, found in file_stamps(filename).items():
            _put(stamps, name, found)
    else:  # a YAML file: every key comes from the file (no line numbers kept by omegaconf)
        stamps[""] = Origin("file", _shown_path(filename))
    for text in overrides:
        override = parse_override(text)
        _put(stamps, override.key, {"": Origin("override", override.raw)})
    rows = [
        Provenance(key, value, _nearest(stamps, key) or Origin("file", _shown_path(filename)))
        for key, value in _leaves(cfg)
    ]
    if defaults:
        rows += _target_defaults(cfg)
        rows.sort(key=lambda row: _sort_key(row.key))
    return rows


def _sort_key(key: str) -> list[tuple[int, Any]]:
    return [(0, int(p)) if p.isdigit() else (1, p) for p in key.split(".")]


def _target_defaults(cfg: Any) -> list[Provenance]:
    from .check import describe_target, iter_calls
    from .signatures import named_arguments
    from .targets import resolve_target

    rows = []
    for node_path, node in iter_calls(cfg):
        spec = node._get_node("_target_")._value()
        if not isinstance(spec, str) and not callable(spec):
            continue  # a LazyCall whose target is a LazyCall: its result has no signature here
        target = resolve_target(spec)
        for name, param in (named_arguments(target) or {}).items():
            if name in node or param.default is param.empty:
                continue
            key = _join(node_path.replace("[", ".").replace("]", ""), name)
            rows.append(Provenance(key, param.default, Origin("default", describe_target(target))))
    return rows


def _jsonable(value: Any) -> Any:
    from .diff import jsonable

    if callable(value) and not isinstance(value, type(None)):
        from .targets import target_to_string

        return target_to_string(value) or repr(value)
    return jsonable(value)
