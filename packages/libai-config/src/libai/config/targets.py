"""Turn ``_target_`` strings into objects and objects back into strings.

A string target is either a registry reference (``"models:bert"``, decided by
:func:`libai.config.registry.is_reference`) or an import path, written dotted
(``"oneflow.optim.AdamW"``) or with a colon (``"oneflow.optim:AdamW"``).
The registry module is imported inside the functions: ``import libai.config``
stays fast and the registry is only built when a reference is used.
"""

from __future__ import annotations

import builtins
import importlib
import sys
from typing import Any

from ._nearest import nearest
from .errors import TargetError

__all__ = ["TargetError", "dotted_path", "locate", "resolve_target", "target_to_string"]


def is_missing_module(exc: ModuleNotFoundError, module: str) -> bool:
    """True when ``exc`` says ``module`` itself (or a parent package) does not exist.

    False when ``module`` exists but fails on an import of its own, an error
    that must reach the user unchanged.
    """
    return exc.name is not None and (module == exc.name or module.startswith(exc.name + "."))


def resolve_target(spec: Any) -> Any:
    """Return the object named by ``spec``: the one way a string becomes a target.

    ``instantiate``, ``check``, the engine, the registry's entry points and the
    CLI all come here. A non-string ``spec`` (an object already) is returned as is.

    Raises:
        TargetError: nothing by that name (the message lists the nearest names),
            or a module on the path failed to import (chained as ``__cause__``).
            Registry failures raise its subclass ``RegistryError``.
    """
    if not isinstance(spec, str):
        return spec
    from . import registry

    if registry.is_reference(spec):
        return registry.resolve_reference(spec)
    return locate(spec)


def locate(path: str) -> Any:
    """Import ``"pkg.mod.attr"`` or ``"pkg.mod:attr"`` and return the object.

    Builtins (``"dict"``, ``"builtins.dict"``) work too. The longest prefix
    that is a module is imported, then attributes are walked (a submodule not
    imported by its package is imported on the way).

    Raises:
        TargetError: see :func:`resolve_target`.
    """
    if not path or not isinstance(path, str):
        raise TargetError(f"cannot locate {path!r}: expected a non-empty import path string", path)
    if ":" in path:
        module_name, _, attr_path = path.partition(":")
        obj = _import_module(module_name, path)
        return _walk(obj, module_name, attr_path.split("."), path, import_submodules=False)
    parts = path.split(".")
    if len(parts) == 1 and hasattr(builtins, path):
        return getattr(builtins, path)
    obj = _import_module(parts[0], path)
    return _walk(obj, parts[0], parts[1:], path, import_submodules=True)


def _import_module(name: str, full: str) -> Any:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as err:
        if not is_missing_module(err, name):
            raise TargetError(
                f"cannot locate {full!r}: importing {name} failed: {err}", full
            ) from err
        raise TargetError(f"cannot locate {full!r}: no module named {name!r}", full) from None
    except Exception as err:  # the module exists but fails on its own import: chained, not hidden
        raise TargetError(
            f"cannot locate {full!r}: importing {name} raised {type(err).__name__}: {err}", full
        ) from err


def _walk(obj: Any, owner: str, names: list[str], full: str, import_submodules: bool) -> Any:
    for name in names:
        if hasattr(obj, name):
            obj = getattr(obj, name)
        elif import_submodules and isinstance(obj, type(sys)):
            submodule = f"{owner}.{name}"
            try:
                obj = importlib.import_module(submodule)
            except ModuleNotFoundError as err:
                if not is_missing_module(err, submodule):
                    raise TargetError(
                        f"cannot locate {full!r}: importing {submodule} failed: {err}", full
                    ) from err
                raise TargetError(_missing_attr_message(obj, owner, name, full), full) from None
            except Exception as err:
                raise TargetError(
                    f"cannot locate {full!r}: importing {submodule} raised "
                    f"{type(err).__name__}: {err}",
                    full,
                ) from err
        else:
            raise TargetError(_missing_attr_message(obj, owner, name, full), full)
        owner = f"{owner}.{name}"
    return obj


def _missing_attr_message(obj: Any, owner: str, name: str, full: str) -> str:
    public = [n for n in dir(obj) if not n.startswith("_")]
    close = nearest(name, public)
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
