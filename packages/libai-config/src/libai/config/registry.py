"""The component registry (STUB: the registry issue replaces the bodies).

Contract used by the rest of libai.config -- keep these three functions:

- ``is_reference(s)``: True when ``s`` is a registry reference ``"<group>:<name>"``
  (optionally ``"<group>:<dist>/<name>"``), False for a dotted import path.
- ``resolve_reference(s)``: the object the reference names; raises
  :class:`RegistryError` (a ``LookupError``) with the nearest names when unknown.
- ``reference_for(obj)``: the reference that names ``obj`` if it is registered,
  else None (``LazyConfig.save`` writes it instead of a dotted path).
"""

from __future__ import annotations

from typing import Any


class RegistryError(LookupError):
    """A registry reference that cannot be resolved."""


def is_reference(s: str) -> bool:
    return ":" in s


def resolve_reference(s: str) -> Any:
    raise RegistryError(f"registry reference {s!r}: the registry is not implemented yet")


def reference_for(obj: Any) -> str | None:
    return None
