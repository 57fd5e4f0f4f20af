"""Reading entry-point metadata and importing targets, for the registry.

Private to :mod:`libai.config.registry` (which re-exports what others use).
One scan of the installed distributions serves the registry and the plugin
manager, and reads only metadata.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from libai.config._state import LOCK

GROUP_PREFIX = "libai."


def normalize_dist_name(name: str) -> str:
    """PEP 503 normalisation, so ``Acme_Models`` and ``acme-models`` are one distribution."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class EntryPointRecord:
    """One ``libai.*`` entry point as read from metadata, with its distribution."""

    group: str
    name: str
    value: str
    dist: str | None
    version: str | None


_scan_cache: list[EntryPointRecord] | None = None


def _name_and_version(dist: Any) -> tuple[str | None, str | None]:
    """Name and version from the METADATA headers, without the email parser.

    ``Distribution.name``/``.version`` parse the whole file with :mod:`email`
    on every access, which made listing 100 distributions cost ~70 ms; the two
    headers come first, so a line scan is enough.
    """
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    name = version = None
    for line in text.splitlines():
        if not line.strip():
            break  # end of the headers
        key, _, value = line.partition(":")
        if key == "Name":
            name = value.strip()
        elif key == "Version":
            version = value.strip()
        if name and version:
            break
    if name is None:  # unusual metadata: let importlib-metadata parse it
        name, version = dist.name, dist.version
    return name, version


def scan_entry_points() -> list[EntryPointRecord]:
    """Every ``libai.*`` entry point of every installed distribution (cached until reset).

    Reads metadata only; one scan serves both the registry and the plugin manager.
    """
    global _scan_cache
    with LOCK:
        if _scan_cache is None:
            import importlib_metadata  # imported here: `--help` of the CLI must stay fast

            dists: dict[int, tuple[str | None, str | None]] = {}
            records = []
            for ep in importlib_metadata.entry_points():
                if not ep.group.startswith(GROUP_PREFIX):
                    continue
                dist = getattr(ep, "dist", None)
                if dist is None:
                    name, version = None, None
                else:
                    if id(dist) not in dists:
                        dists[id(dist)] = _name_and_version(dist)
                    name, version = dists[id(dist)]
                records.append(EntryPointRecord(ep.group, ep.name, ep.value, name, version))
            _scan_cache = records
        return _scan_cache


def clear_scan_cache() -> None:
    """Forget the scan (after installing or removing a distribution)."""
    global _scan_cache
    with LOCK:
        _scan_cache = None
