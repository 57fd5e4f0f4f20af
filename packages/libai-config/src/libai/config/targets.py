"""Turn ``_target_`` strings into objects and objects back into strings.

A string target is either a registry reference (``"models:bert"``, decided by
:func:`libai.config.registry.is_reference`) or an import path, written dotted
(``"oneflow.optim.AdamW"``) or with a colon (``"oneflow.optim:AdamW"``).
The registry module is imported inside the functions: ``import libai.config``
stays fast and the registry is only built when a reference is used.
"""

from __future__ import annotations

import builtins
import difflib
import importlib
import sys
from typing import Any


def resolve_target(spec: str) -> Any:
    """Return the object named by ``spec`` (a registry reference or import path).

    Raises:
        LookupError: nothing by that name; the message lists the nearest names.
        ImportError: a module on the path exists but fails to import (re-raised
            unchanged: it is a bug in that module, not a bad name).
    """
    from . import registry

    if registry.is_reference(spec):
        return registry.resolve_reference(spec)
    return locate(spec)


def locate(path: str) -> Any:
    """Import ``"pkg.mod.attr"`` or ``"pkg.mod:attr"`` and return the object.

    Builtins (``"dict"``, ``"builtins.dict"``) work too.
    """
    if not path or not isinstance(path, str):
        raise LookupError(f"cannot locate {path!r}: expected a non-empty import path string")
    if ":" in path:
        module_name, _, attr_path = path.partition(":")
        obj = _import_module(module_name, path)
        return _get_attrs(obj, module_name, attr_path.split("."), path)
    parts = path.split(".")
    if len(parts) == 1 and hasattr(builtins, path):
        return getattr(builtins, path)
    # Import the longest prefix that is a module, then walk attributes.
    obj = _import_module(parts[0], path)
    for i in range(1, len(parts)):
        name = parts[i]
        if hasattr(obj, name):
            obj = getattr(obj, name)
            continue
        submodule = ".".join(parts[: i + 1])
        try:
            obj = importlib.import_module(submodule)
        except ModuleNotFoundError as err:
            if err.name != submodule:
                raise
            raise LookupError(_missing_attr_message(obj, ".".join(parts[:i]), name, path)) from None
    return obj


def _import_module(name: str, full: str) -> Any:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as err:
        missing = err.name or ""
        if not (name == missing or name.startswith(missing + ".")):
            raise  # the module exists but one of its own imports is missing
        raise LookupError(f"cannot locate {full!r}: no module named {name!r}") from None


def _get_attrs(obj: Any, owner: str, names: list[str], full: str) -> Any:
    for name in names:
        if not hasattr(obj, name):
            raise LookupError(_missing_attr_message(obj, owner, name, full))
        obj = getattr(obj, name)
        owner = f"{owner}.{name}"
    return obj


def _missing_attr_message(obj: Any, owner: str, name: str, full: str) -> str:
    public = [n for n in dir(obj) if not n.startswith("_")]
    close = difflib.get_close_matches(name, public, n=3)
    hint = f"; did you mean {', '.join(repr(f'{owner}.{c}') for c in close)}?" if close else ""
    return f"cannot locate {full!r}: {owner!r} has no attribute {name!r}{hint}"


def dotted_path(obj: Any) -> str | None:
    """The shortest ``module.qualname`` that imports back to ``obj``, or None.

    ``oneflow.optim.adamw.AdamW`` becomes ``oneflow.optim.AdamW`` when the
    package re-exports it. Only modules already imported are consulted, so this
    never imports anything. None for lambdas, local functions and objects whose
    module cannot be found.
    """
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if not module or not qualname or "<" in qualname:
        return None
    if module == "builtins":
        return qualname
    if _lookup_loaded(module, qualname) is not obj:
        return None
    parts = module.split(".")
    for i in range(1, len(parts)):
        shorter = ".".join(parts[:i])
        if _lookup_loaded(shorter, qualname) is obj:
            return f"{shorter}.{qualname}"
    return f"{module}.{qualname}"


def _lookup_loaded(module: str, qualname: str) -> Any:
    obj = sys.modules.get(module)
    for name in qualname.split("."):
        if obj is None:
            return None
        obj = getattr(obj, name, None)
    return obj


def target_to_string(obj: Any) -> str | None:
    """How ``save`` writes a callable: its registry reference, else its dotted path."""
    from . import registry

    reference = registry.reference_for(obj)
    if reference is not None:
        return reference
    return dotted_path(obj)
