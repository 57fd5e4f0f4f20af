"""Load config files: Python (executed) and YAML (parsed with a safe loader).

Python config files are code and are trusted as such. Each load executes the
file again, and every file it imports relatively, so no state is shared
between two loads: there is no module cache and nothing enters ``sys.modules``.

Relative imports (``from .common.train import train``, ``from ..x import y``)
are resolved against the importing file's own directory, at any depth and
without ``__init__.py``. Instead of patching ``builtins.__import__`` for the
whole process (which other threads would see), each config file runs with its
own ``__builtins__`` whose ``__import__`` knows about config files: nothing
global is changed, so nothing needs restoring.

YAML is read with PyYAML's safe loader: loading a YAML config never runs code.
"""

from __future__ import annotations

import builtins
import copy
import difflib
import os
import sys
import types
from enum import Enum
from pathlib import Path
from typing import Any, Union

from omegaconf import DictConfig, ListConfig, OmegaConf

from .errors import (
    ConfigImportError,
    ConfigKeyError,
    ConfigLoadError,
    ConfigValueError,
    load_error_for,
)
from .lazy import keep_objects

# Marks the namespaces of executed config files, so that only their relative
# imports are handled here; anything else goes to the real ``__import__``.
_CFG_PACKAGE = "libai.config._cfg"

# Compiled code per file, keyed by (path, mtime_ns, size): executing is redone
# on every load (that is the contract), compiling need not be.
_CODE_CACHE: dict[str, tuple[tuple[int, int], types.CodeType]] = {}

PathLike = Union[str, "os.PathLike[str]"]

# Values that are config data (returned by ``load``), as opposed to the tools
# such as imported modules, classes and functions.
_CONFIG_VALUE_TYPES = (
    DictConfig,
    ListConfig,
    dict,
    list,
    tuple,
    str,
    int,
    float,
    bool,
    bytes,
    type(None),
    Path,
    Enum,
)


def cast_to_config(obj: Any) -> Any:
    """Return ``obj`` as a ``DictConfig`` (objects allowed) when it is a dict."""
    if isinstance(obj, dict):
        return make_config(obj)
    return obj


def make_config(content: dict) -> DictConfig:
    """``DictConfig(content)`` without copying the config nodes that only it holds.

    omegaconf deep-copies every node put into a container. A config tree built
    from many files would be copied once per level of nesting (each import,
    each enclosing dict), which dominated load time. A node with no parent that
    appears once here has no other owner once the file has run, so it is
    attached as is; a node that already belongs to another container, or that
    appears twice, is still copied, so no two keys ever share a node.
    """
    seen: set[int] = set()
    content = _copy_shared(content, seen)
    cfg = DictConfig(content, flags={"allow_objects": True, "no_deepcopy_set_nodes": True})
    cfg._set_flag("no_deepcopy_set_nodes", None)
    return cfg


def _copy_shared(value: Any, seen: set[int]) -> Any:
    if isinstance(value, (DictConfig, ListConfig)):
        if value._get_parent() is not None or id(value) in seen:
            return copy.deepcopy(value)
        seen.add(id(value))
        return value
    if isinstance(value, dict):
        return {k: _copy_shared(v, seen) for k, v in value.items()}
    if type(value) in (list, tuple):  # plain tuples become lists, as in LazyCall
        return [_copy_shared(v, seen) for v in value]
    return keep_objects(value)  # a namedtuple stays that object


def load_python(path: str) -> dict[str, Any]:
    """Execute the config file at ``path``; return its public config objects.

    Raises:
        ConfigLoadError: (a subclass matching the original error type) naming
            ``file:line`` when the file, or a file it imports, fails.
    """
    namespace = _ConfigImporter().execute(path)
    return {
        name: value
        for name, value in namespace.items()
        if not name.startswith("_") and isinstance(value, _CONFIG_VALUE_TYPES)
    }


def load_yaml(path: str) -> DictConfig:
    """Parse the YAML config at ``path`` safely into a ``DictConfig``.

    Raises:
        ConfigValueError: malformed YAML, a tag that would construct a Python
            object (``!!python/...``), or a top level that is not a mapping.
    """
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader when built
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.load(f, Loader=loader)  # a safe loader: builds no Python objects
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        lineno = mark.line + 1 if mark is not None else None
        where = f"{path}:{lineno}" if lineno else path
        raise ConfigValueError(
            f"{where}: cannot read YAML config (only plain YAML is accepted; "
            f"Python tags are refused): {err}",
            path,
            lineno,
        ) from err
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigValueError(
            f"{path}: a YAML config must be a mapping of keys to values, "
            f"found a {type(data).__name__}",
            path,
            1,
        )
    return DictConfig(data, flags={"allow_objects": True})


def _compile(path: str) -> types.CodeType:
    stat = os.stat(path)
    stamp = (stat.st_mtime_ns, stat.st_size)
    cached = _CODE_CACHE.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    with open(path, "rb") as f:
        source = f.read()
    try:
        # The real filename makes tracebacks point at the user's config line.
        code = compile(source, path, "exec", dont_inherit=True)
    except SyntaxError as err:
        lineno = err.lineno
        where = f"{path}:{lineno}" if lineno else path
        new = load_error_for(err, f"{where}: syntax error in config: {err.msg}", path, lineno)
        # Keep SyntaxError's fields so tracebacks still show the caret.
        new.text, new.offset = err.text, err.offset  # type: ignore[attr-defined]
        raise new from err
    _CODE_CACHE[path] = (stamp, code)
    return code


def _failing_line(err: BaseException, path: str) -> int | None:
    """The line of ``path`` that was executing when ``err`` was raised."""
    lineno = None
    tb = err.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == path:
            lineno = tb.tb_lineno
        tb = tb.tb_next
    return lineno


class _ConfigImporter:
    """Executes config files and resolves their relative imports to files."""

    def __init__(self) -> None:
        self.builtins = dict(vars(builtins))
        self.builtins["__import__"] = self._import

    # -- executing -----------------------------------------------------------

    def execute(self, path: str) -> dict[str, Any]:
        """Run the file at ``path`` in a fresh namespace and return it."""
        code = _compile(path)
        namespace: dict[str, Any] = {
            "__file__": path,
            "__name__": f"{_CFG_PACKAGE}.{_safe_name(path)}",
            "__package__": f"{_CFG_PACKAGE}.{_safe_name(os.path.dirname(path))}",
            "__builtins__": self.builtins,
        }
        try:
            exec(code, namespace)
        except ConfigLoadError as err:
            # Raised by a file this one imports: it already names that file.
            if err.filename != path:
                lineno = _failing_line(err, path)
                err.import_chain.append(f"{path}:{lineno}" if lineno else path)
            raise
        except Exception as err:
            lineno = _failing_line(err, path)
            where = f"{path}:{lineno}" if lineno else path
            message = f"{where}: {type(err).__name__}: {err}"
            raise load_error_for(err, message, path, lineno) from err
        for name, value in namespace.items():
            if isinstance(value, dict) and name != "__builtins__":
                try:
                    namespace[name] = cast_to_config(value)
                except Exception as err:
                    raise ConfigValueError(
                        f"{path}: {name!r} cannot become a config (DictConfig): {err}", path
                    ) from err
        return namespace

    def _module(self, path: str) -> types.ModuleType:
        module = types.ModuleType(f"{_CFG_PACKAGE}.{_safe_name(path)}")
        module.__dict__.update(self.execute(path))
        return module

    def _package(self, directory: str) -> types.ModuleType:
        """A directory imported as a package (``from . import common``)."""
        module = types.ModuleType(f"{_CFG_PACKAGE}.{_safe_name(directory)}")
        module.__file__ = os.path.join(directory, "__init__.py")
        module.__path__ = [directory]  # type: ignore[attr-defined]
        return module

    # -- importing -----------------------------------------------------------

    def _import(
        self,
        name: str,
        globals: dict[str, Any] | None = None,
        locals: dict[str, Any] | None = None,
        fromlist: Any = (),
        level: int = 0,
    ) -> Any:
        package = (globals or {}).get("__package__") or ""
        if level == 0 or not package.startswith(_CFG_PACKAGE):
            return builtins.__import__(name, globals, locals, fromlist, level)
        importer = globals["__file__"]  # type: ignore[index]
        lineno = sys._getframe(1).f_lineno
        base = os.path.dirname(importer)
        for _ in range(level - 1):
            base = os.path.dirname(base)
        written = "." * level + name
        if name:
            stem = os.path.join(base, *name.split("."))
            if os.path.isfile(stem + ".py"):
                module = self._module(stem + ".py")
            elif os.path.isdir(stem):
                module = self._package(stem)
            else:
                raise self._missing(importer, lineno, written, stem + ".py")
        else:
            module = self._package(base)
        for item in fromlist or ():
            if item == "*" or hasattr(module, item):
                continue
            directory = getattr(module, "__path__", [None])[0]
            candidate = os.path.join(directory, item + ".py") if directory else None
            if candidate and os.path.isfile(candidate):
                setattr(module, item, self._module(candidate))
            else:
                raise self._missing_name(importer, lineno, written, item, module)
        return module

    @staticmethod
    def _missing(importer: str, lineno: int, written: str, looked_for: str) -> ConfigImportError:
        folder = os.path.dirname(looked_for)
        hint = ""
        if os.path.isdir(folder):
            stems = [os.path.splitext(n)[0] for n in os.listdir(folder) if n.endswith(".py")]
            want = os.path.splitext(os.path.basename(looked_for))[0]
            close = difflib.get_close_matches(want, stems, n=3)
            if close:
                hint = f"; files nearby: {', '.join(c + '.py' for c in close)}"
        else:
            hint = f"; directory {folder} does not exist"
        return ConfigImportError(
            f"{importer}:{lineno}: relative import {written!r} failed: "
            f"no config file {looked_for}{hint}",
            importer,
            lineno,
        )

    @staticmethod
    def _missing_name(
        importer: str, lineno: int, written: str, item: str, module: types.ModuleType
    ) -> ConfigImportError:
        public = [n for n in vars(module) if not n.startswith("_")]
        close = difflib.get_close_matches(item, public, n=3)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        source = getattr(module, "__file__", written)
        return ConfigImportError(
            f"{importer}:{lineno}: cannot import name {item!r} from {written!r} ({source}){hint}",
            importer,
            lineno,
        )


def _safe_name(path: str) -> str:
    """A module-name-like label for ``path`` (shown in reprs, never imported)."""
    stem = os.path.splitext(os.path.basename(path))[0] or "root"
    return "".join(c if c.isalnum() else "_" for c in stem)


def load(path: PathLike, keys: Any = None) -> Any:
    """Load a ``.py`` or ``.yaml``/``.yml`` config; see :meth:`LazyConfig.load`."""
    filename = os.path.abspath(os.fspath(path))
    ext = os.path.splitext(filename)[1].lower()
    if ext not in (".py", ".yaml", ".yml"):
        raise ValueError(
            f"cannot load config {filename}: expected a .py, .yaml or .yml file, got {ext!r}"
        )
    if not os.path.isfile(filename):
        raise FileNotFoundError(f"config file not found: {filename}")
    if ext == ".py":
        objects = load_python(filename)
    else:
        objects = load_yaml(filename)
    if keys is None:
        if isinstance(objects, DictConfig):
            return objects
        return make_config(objects)
    if isinstance(keys, str):
        return cast_to_config(_select(objects, keys, filename))
    return tuple(cast_to_config(_select(objects, k, filename)) for k in keys)


def _select(objects: Any, key: str, filename: str) -> Any:
    if key in objects:
        return objects[key]
    names = [str(k) for k in objects.keys()]
    close = difflib.get_close_matches(str(key), names, n=3)
    hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
    raise ConfigKeyError(
        f"{filename} defines no config object {key!r}{hint} (it has: {sorted(names)})", filename
    )


def to_plain(cfg: Any) -> Any:
    """``cfg`` as plain containers without resolving interpolations."""
    if isinstance(cfg, (DictConfig, ListConfig)):
        return OmegaConf.to_container(cfg, resolve=False)
    return cfg
