"""Conservative value checks against a parameter's annotation or default.

``optim.lr=abc`` should be reported by ``check`` as ``optim.lr: expected float,
got 'abc'``, not as a TypeError from deep inside the optimizer. Only clear
mistakes are reported: text where a number or a flag is expected, and a
fractional number where an ``int`` is annotated. An int where a float is
expected, ``None`` anywhere (many targets fill ``None`` in themselves),
interpolations (``${...}``), containers and LazyCall nodes are never reported.
"""

from __future__ import annotations

import inspect
import typing
from typing import Any

__all__ = ["expected_kinds", "type_hints", "value_mismatch"]

_SCALARS = (bool, int, float, str)


def _kinds_of(annotation: Any) -> frozenset[type] | None:
    """The scalar types an annotation allows; None when it allows anything else too."""
    if annotation in _SCALARS:
        return frozenset({annotation})
    if annotation is type(None):
        return frozenset()
    origin = typing.get_origin(annotation)
    if origin is typing.Union or type(annotation).__name__ == "UnionType":
        kinds: set[type] = set()
        for member in typing.get_args(annotation):
            member_kinds = _kinds_of(member)
            if member_kinds is None:
                return None
            kinds |= member_kinds
        return frozenset(kinds)
    return None


def type_hints(target: Any) -> dict[str, Any]:
    """Resolved annotations of ``target``'s signature; {} when they cannot be evaluated.

    Annotations written as strings may name types only their module imports
    under TYPE_CHECKING; then the default's type is used instead (see
    :func:`expected_kinds`), which is the conservative choice.
    """
    function = target.__init__ if inspect.isclass(target) else target
    try:
        return typing.get_type_hints(inspect.unwrap(function))
    except Exception:  # unresolvable string annotations: fall back to defaults
        return {}


def expected_kinds(target: Any, param: inspect.Parameter, hints: dict | None = None) -> frozenset:
    """Scalar types ``param`` takes, from its annotation, else its default; empty if unknown."""
    hints = type_hints(target) if hints is None else hints
    if param.name in hints:
        kinds = _kinds_of(hints[param.name])
        if kinds is not None:
            return kinds
        return frozenset()
    default = param.default
    if default is param.empty or default is None or type(default) not in _SCALARS:
        return frozenset()
    if type(default) in (int, float):
        return frozenset({int, float})  # from a default, any number will do
    return frozenset({type(default)})


def value_mismatch(value: Any, kinds: frozenset) -> str | None:
    """``"expected float, got 'abc'"`` when ``value`` clearly does not fit, else None."""
    if not kinds or value is None:
        return None
    wants_number = bool(kinds & {int, float, bool})
    if isinstance(value, str):
        if str in kinds or not wants_number or value.startswith("${") or value == "???":
            return None
    elif isinstance(value, float) and not isinstance(value, bool):
        if float in kinds or not kinds & {int} or value.is_integer():
            return None
    else:
        return None
    names = " or ".join(t.__name__ for t in _SCALARS if t in kinds)
    return f"expected {names}, got {value!r}"
