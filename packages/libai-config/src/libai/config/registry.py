"""The component registry: entry points and in-code registrations, resolved lazily.

Every kind of component has an entry-point group (``libai.models``,
``libai.optimizers``, ...). A distribution publishes a model with::

    [project.entry-points."libai.models"]
    bert = "acme_models.bert:BertModel"

and a config names it with the *registry reference* ``"models:bert"`` (short
group name, colon, entry name), or ``"models:acme-models/bert"`` to pick one
distribution when two claim the name. Any other string target is a dotted
import path (``"oneflow.optim.AdamW"``).

Building the registry reads entry-point metadata only: no module behind a
``libai.models`` (etc.) entry is imported until that entry is resolved, and a
module that fails to import breaks only its own entries. Plugins
(``libai.plugins``) can add entries in code through the ``libai_register``
hook and new groups through ``libai_add_groups``.

Public functions used by the rest of :mod:`libai.config`:

- :func:`is_reference` -- is a string a registry reference?
- :func:`resolve_reference` -- the object a reference names.
- :func:`reference_for` -- the reference that names an object, for ``LazyConfig.save``.
- :func:`get_registry` -- the process-wide :class:`Registry`.
"""

from __future__ import annotations

import fnmatch
import re
import sys
import traceback
from dataclasses import dataclass, field
from typing import Any

from libai.config import _state
from libai.config._nearest import nearest
from libai.config._registry_scan import (
    GROUP_PREFIX,
    EntryPointRecord,
    normalize_dist_name,
    scan_entry_points,
)
from libai.config.errors import TargetError

PLUGIN_GROUP = "libai.plugins"
DEFAULT_GROUPS: tuple[str, ...] = (
    "models",
    "optimizers",
    "schedulers",
    "evaluators",
    "tokenizers",
    "datasets",
)

# "<group>:<name>" or "<group>:<dist>/<name>"; the group is a bare identifier or
# "libai.<identifier>", so "pkg.module:attr" is never mistaken for a reference.
_REFERENCE = re.compile(
    r"^(?:libai\.)?(?P<group>[A-Za-z_][A-Za-z0-9_]*)"
    r":(?:(?P<dist>[A-Za-z0-9][A-Za-z0-9._-]*)/)?(?P<name>[A-Za-z0-9_][A-Za-z0-9._-]*)$"
)

_UNSET: Any = object()


class RegistryError(TargetError):
    """A registry reference that cannot be resolved (unknown, ambiguous or broken).

    A :class:`libai.config.errors.TargetError`, so one ``except`` catches every
    target that does not resolve.
    """


class UnknownEntryError(RegistryError):
    """No entry (or no group) of that name; the message lists the nearest names."""


class AmbiguousEntryError(RegistryError):
    """Two or more distributions claim one name; the message says how to qualify it."""

    def __init__(self, message: str, entries: list[Entry]) -> None:
        super().__init__(message)
        self.entries = entries


class PluginLoadError(RegistryError):
    """The module behind an entry failed to import.

    The message names the distribution, the entry point and carries the
    original traceback; ``__cause__`` is the original exception.
    """

    def __init__(self, message: str, entry: Entry) -> None:
        super().__init__(message)
        self.entry = entry


def short_group(group: str) -> str:
    """``"libai.models"`` -> ``"models"``; a short name is returned unchanged."""
    return group[len(GROUP_PREFIX) :] if group.startswith(GROUP_PREFIX) else group


def _natural_key(text: str) -> list[Any]:
    # "bert2" sorts before "bert10", as timm lists models.
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]


@dataclass
class Entry:
    """One named component: where it comes from and how to load it.

    ``value`` is the import location (``"acme.bert:BertModel"``) for entry
    points and string registrations; objects registered in code keep the object.
    """

    group: str
    name: str
    value: str
    dist: str | None = None
    version: str | None = None
    source: str = "entry-point"
    _obj: Any = field(default=_UNSET, repr=False, compare=False)
    _error: RegistryError | None = field(default=None, repr=False, compare=False)

    @property
    def reference(self) -> str:
        """The short reference, ``"models:bert"``."""
        return f"{self.group}:{self.name}"

    @property
    def qualified_reference(self) -> str:
        """The distribution-qualified reference, ``"models:acme-models/bert"``."""
        if self.dist is None:
            return self.reference
        return f"{self.group}:{self.dist}/{self.name}"

    @property
    def loaded(self) -> bool:
        """True once the target was imported (or was registered as an object)."""
        return self._obj is not _UNSET

    @property
    def failed(self) -> RegistryError | None:
        """The error of a previous failed load, if any."""
        return self._error

    def _cached_if_imported(self) -> Any:
        """The target if its module is already imported, else ``_UNSET`` (never imports)."""
        if self._obj is not _UNSET or self._error is not None:
            return self._obj
        module_name = self.value.partition(":")[0] if ":" in self.value else None
        if module_name is None or module_name not in sys.modules:
            return _UNSET
        obj: Any = sys.modules[module_name]
        for attr in self.value.partition(":")[2].split("."):
            obj = getattr(obj, attr, _UNSET)
            if obj is _UNSET:
                return _UNSET
        return obj

    def try_load(self) -> RegistryError | None:
        """Load the target; return the error (also kept in :attr:`failed`) instead of raising.

        For diagnostics (``plugins --import``) that report every broken entry.
        """
        try:
            self.load()
        except RegistryError as error:
            return error
        return None

    def load(self) -> Any:
        """Import and return the target.

        :raises PluginLoadError: the module failed to import, with the
            distribution, the entry point and the original traceback.
        """
        if self._obj is not _UNSET:
            return self._obj
        if self._error is not None:
            raise self._error
        try:
            from libai.config.targets import locate

            obj = locate(self.value)
        except TargetError as resolve_error:
            # The resolver chains what the module raised: report that, not the wrapper.
            exc = resolve_error.__cause__ or resolve_error
            origin = f"distribution {self.dist} {self.version or ''}".rstrip()
            if self.dist is None:
                origin = "a plugin registration"
            where = (
                f'entry point {self.name} = "{self.value}" in group {GROUP_PREFIX}{self.group}'
                if self.source == "entry-point"
                else f'{self.name} = "{self.value}" registered through libai_register'
            )
            tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            error = PluginLoadError(
                f"{self.reference}: cannot load it from {origin} ({where}): "
                f"{type(exc).__name__}: {exc}\n"
                f"Other entries keep working; fix or uninstall {self.dist or 'the plugin'}.\n"
                f"Original traceback:\n{tb}",
                self,
            )
            error.__cause__ = exc
            self._error = error
            raise error from exc
        self._obj = obj
        return obj


class Registry:
    """Named components by group.

    Built by :func:`get_registry` from entry points and the ``libai_register``
    hook; can also be filled by hand (tests, notebooks) with :meth:`register`.
    """

    def __init__(self, groups: tuple[str, ...] = DEFAULT_GROUPS) -> None:
        self._groups: dict[str, None] = dict.fromkeys(groups)
        # Entries of every "libai.*" group seen, including groups not (yet) added:
        # a plugin's libai_add_groups hook may add them after the scan.
        self._entries: dict[tuple[str, str], list[Entry]] = {}

    # ------------------------------------------------------------------ filling

    @property
    def groups(self) -> tuple[str, ...]:
        """Short names of the known groups, default groups first."""
        return tuple(self._groups)

    def add_group(self, group: str) -> None:
        """Add a kind of component (``"callbacks"`` or ``"libai.callbacks"``)."""
        short = short_group(group)
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", short):
            raise ValueError(
                f"group name {group!r} must be an identifier (letters, digits, underscore)"
            )
        self._groups.setdefault(short, None)

    def _add(self, entry: Entry) -> None:
        same = self._entries.setdefault((entry.group, entry.name), [])
        for other in same:
            if other.dist == entry.dist and other.value == entry.value:
                return  # one distribution seen twice on sys.path
        same.append(entry)
        # Claims in a stable order, whatever order sys.path listed the distributions in.
        same.sort(key=lambda e: normalize_dist_name(e.dist or ""))

    def register(
        self,
        group: str,
        name: str,
        target: Any,
        *,
        dist: str | None = None,
        version: str | None = None,
    ) -> Entry:
        """Register ``target`` (an object, or an ``"module:attr"`` string kept lazy).

        :param dist: the distribution (or plugin) it comes from; the plugin
            manager fills it in for ``libai_register`` hooks.
        :raises UnknownEntryError: ``group`` is not a known group.
        """
        short = self._check_group(short_group(group))
        if isinstance(target, str):
            entry = Entry(short, name, target, dist, version, source="register")
        else:
            value = f"{getattr(target, '__module__', '?')}:{getattr(target, '__qualname__', repr(target))}"
            entry = Entry(short, name, value, dist, version, source="register", _obj=target)
        self._add(entry)
        return entry

    def add_entry_points(
        self, records: list[EntryPointRecord], skip_dists: frozenset[str] = frozenset()
    ) -> None:
        """Add every ``libai.<group>`` entry point except ``libai.plugins`` (metadata only).

        :param records: from :func:`scan_entry_points`.
        :param skip_dists: normalized names of distributions to leave out (disabled plugins).
        """
        for ep in records:
            if not ep.group.startswith(GROUP_PREFIX) or ep.group == PLUGIN_GROUP:
                continue
            if ep.dist is not None and normalize_dist_name(ep.dist) in skip_dists:
                continue
            self._add(Entry(short_group(ep.group), ep.name, ep.value, ep.dist, ep.version))

    # ------------------------------------------------------------------ reading

    def _check_group(self, group: str) -> str:
        short = short_group(group)
        if short not in self._groups:
            near = nearest(short, self._groups)
            hint = f"; did you mean {', '.join(near)}?" if near else ""
            raise UnknownEntryError(
                f"unknown registry group {group!r}{hint} Known groups: "
                f"{', '.join(self._groups)} (a plugin adds one with the libai_add_groups hook)"
            )
        return short

    def list(self, group: str | None = None, pattern: str | None = None) -> list[Entry]:
        """Entries of one group (or all groups), sorted by group then natural name order.

        :param pattern: a shell wildcard on the name, e.g. ``"bert*"``.
        :raises UnknownEntryError: ``group`` is not a known group.
        """
        groups = [self._check_group(group)] if group is not None else list(self._groups)
        order = {g: i for i, g in enumerate(groups)}
        found = [
            entry
            for (g, name), entries in self._entries.items()
            if g in order and (pattern is None or fnmatch.fnmatchcase(name, pattern))
            for entry in entries
        ]
        found.sort(key=lambda e: (order[e.group], _natural_key(e.name), e.dist or ""))
        return found

    def names(self, group: str) -> list[str]:
        """Names in ``group`` (each once, even when claimed twice)."""
        return sorted({e.name for e in self.list(group)}, key=_natural_key)

    def conflicts(self) -> list[list[Entry]]:
        """Every name claimed by more than one distribution, in a known group."""
        return [
            entries
            for (g, _), entries in sorted(self._entries.items())
            if g in self._groups and len({e.dist for e in entries}) > 1
        ]

    def get(self, group: str, name: str, dist: str | None = None) -> Entry:
        """The entry ``group:name`` (from distribution ``dist`` when given).

        :raises UnknownEntryError: no such name; the message has the nearest names.
        :raises AmbiguousEntryError: two distributions claim the name and none was chosen.
        """
        short = self._check_group(group)
        entries = self._entries.get((short, name), [])
        if dist is not None:
            wanted = normalize_dist_name(dist)
            chosen = [e for e in entries if e.dist and normalize_dist_name(e.dist) == wanted]
            if not chosen:
                if not entries:
                    raise self._unknown(short, name)
                raise UnknownEntryError(
                    f"{short}:{dist}/{name}: distribution {dist!r} provides no {name!r} in "
                    f"{GROUP_PREFIX}{short}; it is provided by "
                    + ", ".join(repr(e.dist) for e in entries)
                )
            entries = chosen
        if not entries:
            raise self._unknown(short, name)
        if len(entries) > 1:
            claims = "\n".join(
                f"  - {e.dist or '<unknown distribution>'} {e.version or ''}: {e.value}"
                for e in entries
            )
            options = " or ".join(repr(e.qualified_reference) for e in entries)
            raise AmbiguousEntryError(
                f"{short}:{name} is claimed by {len(entries)} distributions:\n{claims}\n"
                f"Name the one you mean: {options}.",
                entries,
            )
        return entries[0]

    def _unknown(self, group: str, name: str) -> UnknownEntryError:
        names = self.names(group)
        near = nearest(name, names, cutoff=0.5)
        hint = f"; did you mean {', '.join(f'{group}:{n}' for n in near)}?" if near else "."
        known = (
            f" {len(names)} names in {group}; `python -m libai.config list {group}` shows them."
            if names
            else f" No installed distribution provides {GROUP_PREFIX}{group} entries."
        )
        return UnknownEntryError(f"unknown name {name!r} in registry group {group!r}{hint}{known}")

    def resolve(self, reference: str) -> Any:
        """The object named by ``reference`` (``"models:bert"``, ``"models:acme/bert"``).

        :raises RegistryError: malformed, unknown, ambiguous or failing to import.
        """
        match = _REFERENCE.match(reference)
        if match is None:
            raise RegistryError(
                f"{reference!r} is not a registry reference; write '<group>:<name>' "
                f"or '<group>:<distribution>/<name>'"
            )
        try:
            entry = self.get(match["group"], match["name"], match["dist"])
        except UnknownEntryError as exc:
            if short_group(match["group"]) in self._groups or match["dist"]:
                raise
            dotted = f"{match['group']}.{match['name']}"
            raise UnknownEntryError(f"{exc}. For an import path, write {dotted!r}") from None
        return entry.load()

    def reference_for(self, obj: Any) -> str | None:
        """The reference naming ``obj``, or None; never imports a module.

        A name claimed by two distributions gets the distribution-qualified form,
        so the saved config resolves to the same object again.
        """
        for entry in self.list():
            if entry._cached_if_imported() is obj:
                claims = self._entries[(entry.group, entry.name)]
                return entry.qualified_reference if len(claims) > 1 else entry.reference
        return None


# ---------------------------------------------------------------------- process-wide


def build_registry(load_plugins: bool = True) -> Registry:
    """A new registry from installed entry points, then the plugins' hooks.

    :param load_plugins: also call ``libai_add_groups`` and ``libai_register``
        of the ``libai.plugins`` modules (importing those modules, not the
        component modules).
    """
    registry = Registry()
    if load_plugins:
        manager = _state.get_plugin_manager()
        for group in manager.added_groups():
            registry.add_group(group)
        # A distribution disabled by name (-p no:acme-models) loses its entries
        # too, which is also how a user silences one side of a name conflict.
        registry.add_entry_points(scan_entry_points(), manager.disabled_distributions())
        manager.register_components(registry)
    else:
        registry.add_entry_points(scan_entry_points())
    return registry


def get_registry() -> Registry:
    """The process-wide registry, built on first use (see :func:`build_registry`)."""
    return _state.get_registry()


def reset_registry() -> None:
    """Forget the process-wide registry *and* plugin manager (after an install, in tests).

    One reset for both (:func:`libai.config._state.reset`): a registry rebuilt
    from a stale manager would never call a newly installed plugin's ``libai_register``.
    """
    _state.reset()


def parse_reference(s: str) -> tuple[str, str | None, str] | None:
    """``(group, dist, name)`` of a reference, or None if ``s`` is not one."""
    match = _REFERENCE.match(s)
    return None if match is None else (match["group"], match["dist"], match["name"])


def is_reference(s: str) -> bool:
    """True when ``s`` is a registry reference ``"<group>:<name>"`` or ``"<group>:<dist>/<name>"``.

    A dotted import path (``"oneflow.optim.AdamW"``) or ``"package.module:attr"`` is not.
    """
    return isinstance(s, str) and _REFERENCE.match(s) is not None


def resolve_reference(s: str) -> Any:
    """The object the reference ``s`` names (imports its module on first use).

    :raises RegistryError: unknown group or name (with the nearest names), a name
        claimed by two distributions (naming both), or a module that fails to import
        (:class:`PluginLoadError`, with the original traceback).
    """
    return get_registry().resolve(s)


def reference_for(obj: Any) -> str | None:
    """The registry reference that names ``obj``, or None when it is not registered."""
    return get_registry().reference_for(obj)


__all__ = [
    "DEFAULT_GROUPS",
    "GROUP_PREFIX",
    "PLUGIN_GROUP",
    "EntryPointRecord",
    "normalize_dist_name",
    "scan_entry_points",
    "AmbiguousEntryError",
    "Entry",
    "PluginLoadError",
    "Registry",
    "RegistryError",
    "UnknownEntryError",
    "build_registry",
    "get_registry",
    "is_reference",
    "parse_reference",
    "reference_for",
    "reset_registry",
    "resolve_reference",
]
