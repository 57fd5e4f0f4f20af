"""Declare the keyword arguments that the engine fills in at build time.

The resolve-before-run check (:mod:`libai.config.check`) must not report
``optimizer`` as a missing argument of a scheduler, or ``model`` as missing
from ``get_default_optimizer_params``: the trainer passes them. The target
declares them itself, so the checker never guesses::

    @engine_supplied("optimizer", "max_iter", "warmup_iter")
    class WarmupCosineLR: ...
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

ENGINE_ARGS_ATTR = "__libai_engine_args__"

T = TypeVar("T", bound=Callable[..., Any])


def engine_supplied(*names: str) -> Callable[[T], T]:
    """Mark ``names`` as keyword arguments the engine supplies to the target."""

    def mark(target: T) -> T:
        declared = frozenset(getattr(target, ENGINE_ARGS_ATTR, ())) | frozenset(names)
        setattr(target, ENGINE_ARGS_ATTR, declared)
        return target

    return mark


def engine_supplied_args(target: Any) -> frozenset[str]:
    """Return the argument names ``target`` declared with :func:`engine_supplied`."""
    return frozenset(getattr(target, ENGINE_ARGS_ATTR, ()))
