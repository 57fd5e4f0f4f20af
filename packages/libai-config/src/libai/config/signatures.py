"""Reading a target's signature: which keyword arguments it names, which it requires.

Shared by ``check`` (arguments against the signature), ``overrides`` (an
argument the config does not spell out may still be overridden) and
``provenance`` (a target's defaults).
"""

from __future__ import annotations

import inspect
from typing import Any

__all__ = ["accepts_any_keyword", "keyword_parameters", "named_arguments", "signature_of"]


def signature_of(target: Any) -> inspect.Signature | None:
    """``inspect.signature(target)``, or None when it has none to read (some builtins)."""
    try:
        return inspect.signature(target)
    except (TypeError, ValueError):
        return None


def keyword_parameters(sig: inspect.Signature) -> dict[str, inspect.Parameter]:
    """The parameters that can be passed by name (``*args``/``**kwargs`` left out)."""
    return {
        name: p
        for name, p in sig.parameters.items()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY, p.POSITIONAL_ONLY)
    }


def accepts_any_keyword(sig: inspect.Signature) -> bool:
    """True when the signature has ``**kwargs``."""
    return any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())


def named_arguments(target: Any) -> dict[str, inspect.Parameter] | None:
    """Arguments ``target`` names in its signature (not ``self``/``cls``); None if unreadable.

    For LiBai's ``configurable`` classes the ``from_config`` arguments count too.
    """
    sig = signature_of(target)
    if sig is None:
        return None
    params = {
        n: p
        for n, p in keyword_parameters(sig).items()
        if n not in ("self", "cls") and p.kind is not p.POSITIONAL_ONLY
    }
    from_config = getattr(target, "from_config", None)
    if callable(from_config):
        fc_sig = signature_of(from_config)
        if fc_sig is not None:
            for n, p in keyword_parameters(fc_sig).items():
                if n not in ("self", "cls") and p.kind is not p.POSITIONAL_ONLY:
                    params.setdefault(n, p)
    return params
