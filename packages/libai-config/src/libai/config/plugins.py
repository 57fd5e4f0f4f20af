"""LiBai's pluggy plugin manager: load order, blocking, and isolated failures.

Plugins are modules listed in the ``libai.plugins`` entry-point group whose
functions carry :data:`libai.config.hookspecs.hookimpl`. They are loaded in
this order, and every hook is called in it:

1. ``libai-config``'s own plugin (its default configs), as any third party's;
2. every other ``libai.plugins`` entry point, sorted by distribution, then name;
3. objects registered in code with ``get_plugin_manager().register(obj)``.

A plugin is blocked by its entry-point name or its distribution name, as
pytest's ``-p no:name``: ``LIBAI_DISABLE_PLUGINS=name1,name2`` in the
environment, or ``-p no:name`` on the command line (which calls
:func:`disable_plugins`). ``LIBAI_DISABLE_PLUGIN_AUTOLOAD=1`` loads no entry
point plugin except ``libai-config``'s own.

A plugin module that fails to import, or declares a hook that does not exist,
is recorded as failed (see :attr:`LibaiPluginManager.infos`, shown by
``python -m libai.config plugins``) and everything else keeps working.
"""

from __future__ import annotations

import os
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pluggy
from libai.config import _state, hookspecs
from libai.config._nearest import nearest
from libai.config.errors import TargetError
from libai.config.registry import (
    PLUGIN_GROUP,
    EntryPointRecord,
    Registry,
    normalize_dist_name,
    scan_entry_points,
)
from libai.config.targets import locate

ENV_DISABLE = "LIBAI_DISABLE_PLUGINS"
ENV_NO_AUTOLOAD = "LIBAI_DISABLE_PLUGIN_AUTOLOAD"
BUILTIN_DIST = "libai-config"

_HOOK_NAMES = frozenset(
    name
    for name in dir(hookspecs)
    if name.startswith("libai_") and callable(getattr(hookspecs, name))
)


class PluginError(RuntimeError):
    """A plugin's hook raised; the message names the plugin and its distribution."""


@dataclass
class PluginInfo:
    """What the manager knows about one plugin, for ``plugins`` listings.

    ``status`` is ``"loaded"``, ``"failed"`` (``error`` says why) or ``"disabled"``.
    """

    name: str
    value: str
    dist: str | None
    version: str | None
    status: str
    error: str | None = None

    @property
    def label(self) -> str:
        """The distribution name, or the plugin name for plugins registered in code."""
        return self.dist or self.name


def _blocked_from_env() -> set[str]:
    raw = os.environ.get(ENV_DISABLE, "")
    return {name.strip() for name in raw.split(",") if name.strip()}


_cli_blocked: set[str] = set()


def disable_plugins(names: list[str] | tuple[str, ...] | set[str]) -> None:
    """Block plugins by entry-point or distribution name for this process.

    Takes effect for managers built afterwards; call it before the registry
    or the plugin manager is first used (the CLI's ``-p no:name`` does).
    """
    _cli_blocked.update(names)
    reset_plugin_manager()


def _is_blocked(blocked: set[str], ep_name: str, dist: str | None) -> bool:
    wanted = {normalize_dist_name(b) for b in blocked}
    return normalize_dist_name(ep_name) in wanted or (
        dist is not None and normalize_dist_name(dist) in wanted
    )


class LibaiPluginManager(pluggy.PluginManager):
    """pluggy's manager for project ``libai``, with one typed method per hook.

    Hooks are called plugin by plugin, so one plugin's failure is attributed
    to it (its distribution is in the message) instead of to the whole call.
    """

    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT_NAME)
        self.add_hookspecs(hookspecs)
        self.infos: list[PluginInfo] = []
        self._labels: dict[str, str] = {}
        self._blocked_names: set[str] = set()
        self._blocked_by_name: set[str] = set()

    # ---------------------------------------------------------------- loading

    def load_entry_point_plugins(self, blocked: set[str], autoload: bool = True) -> None:
        """Import and register every ``libai.plugins`` entry point, builtin first."""
        eps = [ep for ep in scan_entry_points() if ep.group == PLUGIN_GROUP]
        self._blocked_names = set(blocked)

        def order(ep: EntryPointRecord) -> tuple[int, str, str]:
            dist = ep.dist or ""
            return (0 if dist == BUILTIN_DIST else 1, normalize_dist_name(dist), ep.name)

        seen: set[tuple[str, str]] = set()
        for ep in sorted(eps, key=order):
            if (ep.name, ep.value) in seen:
                continue  # one distribution found twice on sys.path
            seen.add((ep.name, ep.value))
            info = PluginInfo(ep.name, ep.value, ep.dist, ep.version, "loaded")
            self.infos.append(info)
            by_name = _is_blocked(blocked, ep.name, ep.dist)
            if by_name or (not autoload and ep.dist != BUILTIN_DIST):
                info.status = "disabled"
                if by_name:
                    self._blocked_by_name.add(ep.name)
                self.set_blocked(ep.name)
                continue
            try:
                module = locate(ep.value)
            except TargetError as exc:
                info.status = "failed"
                # The resolver chains what the module raised: report that, not the wrapper.
                info.error = self._describe(exc.__cause__ or exc, f"importing {ep.value}")
                continue
            self._register_checked(module, info)

    @staticmethod
    def _describe(exc: BaseException, doing: str) -> str:
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return f"{type(exc).__name__} while {doing}: {exc}\n{tb}"

    def _register_checked(self, plugin: Any, info: PluginInfo) -> None:
        """Register ``plugin`` unless it declares a hook that does not exist."""
        unknown = [
            attr
            for attr in dir(plugin)
            if attr.startswith("libai_")
            and attr not in _HOOK_NAMES
            and self.parse_hookimpl_opts(plugin, attr) is not None
        ]
        if unknown:
            hints = []
            for attr in unknown:
                near = nearest(attr, _HOOK_NAMES, n=1)
                hints.append(f"{attr}" + (f" (did you mean {near[0]}?)" if near else ""))
            info.status = "failed"
            info.error = (
                f"{info.value} implements unknown hook(s): {', '.join(hints)}. "
                f"Known hooks: {', '.join(sorted(_HOOK_NAMES))}"
            )
            return
        try:
            self.register(plugin, name=info.name)
        except (pluggy.PluginValidationError, ValueError) as exc:
            info.status = "failed"
            info.error = self._describe(exc, f"registering {info.value}")
            return
        self._labels[info.name] = info.label

    def register(self, plugin: Any, name: str | None = None) -> str | None:
        """Register a plugin object (pluggy's method), remembering it for ``infos``."""
        registered = super().register(plugin, name=name)
        if registered is not None and registered not in self._labels:
            self._labels[registered] = registered
            if not any(i.name == registered for i in self.infos):
                self.infos.append(PluginInfo(registered, repr(plugin), None, None, "loaded"))
        return registered

    def disabled_distributions(self) -> frozenset[str]:
        """Normalized names of distributions whose plugin or name was disabled.

        Their registry entries are left out too. With autoload off, only
        plugins are blocked: component entries stay, as they are metadata.
        """
        names = {normalize_dist_name(name) for name in self._blocked_names}
        names.update(
            normalize_dist_name(info.dist)
            for info in self.infos
            if info.status == "disabled" and info.dist and info.name in self._blocked_by_name
        )
        names.discard(BUILTIN_DIST)
        return frozenset(names)

    # ---------------------------------------------------------------- calling

    def _implementers(self, hook_name: str) -> list[tuple[str, str]]:
        """``(plugin name, label)`` of the plugins implementing ``hook_name``, in load order."""
        names: list[str] = []
        for impl in getattr(self.hook, hook_name).get_hookimpls():
            if impl.plugin_name not in names:
                names.append(impl.plugin_name)
        return [(name, self._labels.get(name, name)) for name in names]

    def _call_plugin(self, name: str, label: str, hook_name: str, **kwargs: Any) -> list[Any]:
        """One plugin's implementations of ``hook_name``, called through pluggy's hook caller.

        pluggy's contract holds (an implementation may take fewer arguments
        than the spec; ``wrapper``/``hookwrapper`` implementations wrap that
        plugin's own). One call per plugin keeps a failure attributed to it.
        """
        others = [plugin for other, plugin in self.list_name_plugin() if other != name and plugin]
        caller = self.subset_hook_caller(hook_name, remove_plugins=others)
        try:
            return list(caller(**kwargs))
        except Exception as exc:
            raise PluginError(
                f"plugin {label}: hook {hook_name} raised {type(exc).__name__}: {exc}"
            ) from exc

    def _raiser(self, hook_name: str, exc: BaseException) -> str:
        """The label of the plugin whose implementation raised ``exc`` (innermost frame)."""
        codes = {
            impl.function.__code__: impl.plugin_name
            for impl in getattr(self.hook, hook_name).get_hookimpls()
            if hasattr(impl.function, "__code__")
        }
        found = None
        tb = exc.__traceback__
        while tb is not None:
            found = codes.get(tb.tb_frame.f_code, found)
            tb = tb.tb_next
        return self._labels.get(found, found) if found else "<unknown plugin>"

    def _isolate(self, label: str, error: PluginError) -> None:
        """Record a plugin hook's failure on the plugin, warn, and let the others go on.

        Used while the registry is built: one broken plugin must not take the
        whole registry (and every other plugin's entries) down with it.
        """
        for info in self.infos:
            if info.label == label and info.status == "loaded":
                info.status = "failed"
                cause = error.__cause__ or error
                info.error = self._describe(cause, str(error))
        warnings.warn(f"{error}; its contributions are skipped", stacklevel=3)

    def added_groups(self) -> list[str]:
        """Groups from every plugin's ``libai_add_groups``, in load order.

        A plugin whose hook raises or returns a non-string is marked failed.
        """
        groups: list[str] = []
        for name, label in self._implementers("libai_add_groups"):
            try:
                result = [
                    group
                    for returned in self._call_plugin(name, label, "libai_add_groups")
                    for group in (returned or ())
                ]
                for group in result:
                    if not isinstance(group, str):
                        raise PluginError(
                            f"plugin {label}: libai_add_groups must return strings, got {group!r}"
                        )
            except PluginError as error:
                self._isolate(label, error)
                continue
            groups.extend(result)
        return groups

    def register_components(self, registry: Registry) -> None:
        """Call every plugin's ``libai_register`` with a registry that records the plugin.

        A plugin whose hook raises is marked failed; what it registered before stays.
        """
        for name, label in self._implementers("libai_register"):
            view = _AttributedRegistry(registry, label)
            try:
                self._call_plugin(name, label, "libai_register", registry=view)
            except PluginError as error:
                self._isolate(label, error)

    def config_dirs(self) -> list[tuple[str, Path]]:
        """``(plugin label, directory)`` from every ``libai_config_dirs``, in load order.

        A directory that does not exist is skipped with a warning naming the plugin.
        """
        found: list[tuple[str, Path]] = []
        for name, label in self._implementers("libai_config_dirs"):
            for returned in self._call_plugin(name, label, "libai_config_dirs"):
                for directory in returned or ():
                    path = Path(directory)
                    if not path.is_dir():
                        warnings.warn(
                            f"plugin {label}: config dir {path} does not exist; skipped",
                            stacklevel=2,
                        )
                        continue
                    found.append((label, path))
        return found

    def trainer_hooks(self, cfg: Any) -> list[Any]:
        """Extra training hooks from every ``libai_trainer_hooks(cfg)``, flattened, in load order.

        One call of the hook through pluggy, so a ``wrapper``/``hookwrapper``
        implementation wraps every plugin's and sees (and may change) the result.
        """
        try:
            results = self.hook.libai_trainer_hooks(cfg=cfg)
        except Exception as exc:
            label = self._raiser("libai_trainer_hooks", exc)
            raise PluginError(
                f"plugin {label}: hook libai_trainer_hooks raised {type(exc).__name__}: {exc}"
            ) from exc
        # pluggy calls the last registered first; LiBai documents load order.
        return [hook for returned in reversed(results) for hook in (returned or ())]


class _AttributedRegistry:
    """The registry as a plugin sees it: registrations carry the plugin's label."""

    def __init__(self, registry: Registry, label: str) -> None:
        self._registry = registry
        self._label = label

    def register(self, group: str, name: str, target: Any) -> Any:
        return self._registry.register(group, name, target, dist=self._label)

    def add_group(self, group: str) -> None:
        self._registry.add_group(group)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._registry, attr)


def new_plugin_manager() -> LibaiPluginManager:
    """A new manager with the entry-point plugins loaded (the environment's blocks applied)."""
    manager = LibaiPluginManager()
    autoload = os.environ.get(ENV_NO_AUTOLOAD, "").strip() not in ("1", "true", "yes")
    manager.load_entry_point_plugins(_blocked_from_env() | _cli_blocked, autoload)
    return manager


def get_plugin_manager() -> LibaiPluginManager:
    """The process-wide plugin manager, with entry-point plugins loaded on first use."""
    return _state.get_plugin_manager()


def reset_plugin_manager(*, clear_disabled: bool = False) -> None:
    """Forget the manager and the registry built from it (tests, after installs).

    The same reset as :func:`libai.config.registry.reset_registry`: both go at once.

    :param clear_disabled: also forget plugins blocked with :func:`disable_plugins`.
    """
    with _state.LOCK:
        if clear_disabled:
            _cli_blocked.clear()
        _state.reset()


def config_dirs() -> list[tuple[str, Path]]:
    """``(plugin label, Path)`` of every default-config directory, in plugin load order.

    The label is the contributing distribution (``"libai-config"``, ``"libai-models"``).
    """
    return get_plugin_manager().config_dirs()


def trainer_hooks(cfg: Any) -> list[Any]:
    """Extra training hooks contributed by plugins for ``cfg`` (see ``libai_trainer_hooks``)."""
    return get_plugin_manager().trainer_hooks(cfg)


__all__ = [
    "ENV_DISABLE",
    "ENV_NO_AUTOLOAD",
    "LibaiPluginManager",
    "PluginError",
    "PluginInfo",
    "config_dirs",
    "disable_plugins",
    "get_plugin_manager",
    "reset_plugin_manager",
    "trainer_hooks",
]
