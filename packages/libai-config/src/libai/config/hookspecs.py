"""Every pluggy hook of LiBai, in one module.

A plugin is a module (or object) listed in the ``libai.plugins`` entry-point
group whose functions are marked with :data:`hookimpl`::

    from libai.config import hookimpl

    @hookimpl
    def libai_config_dirs():
        return [Path(__file__).parent / "configs"]

The project name is ``libai``; hooks are called through
:func:`libai.config.plugins.get_plugin_manager`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # pragma: no cover - typing only
    from pathlib import Path

PROJECT_NAME = "libai"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


# --------------------------------------------------------------------------
# Registration
# --------------------------------------------------------------------------


@hookspec
def libai_add_groups() -> list[str]:
    """Return new kinds of components (registry groups) this plugin introduces.

    Called once, when the registry is built, before any entry point is read
    and before ``libai_register``. A group ``"callbacks"`` (or
    ``"libai.callbacks"``) makes the entry-point group ``libai.callbacks`` part
    of the registry and references ``"callbacks:<name>"`` resolvable.

    Results are collected as a list of lists, one per plugin.
    """


@hookspec
def libai_register(registry: Any) -> None:
    """Register components in code, beside (or instead of) entry points.

    Called once, the first time the registry is built, for each plugin in
    load order. Each registration is recorded with the plugin's distribution,
    so two plugins claiming one name conflict exactly as entry points do.
    Register ``"module:attr"`` strings to keep the import lazy.

    :param registry: the :class:`libai.config.registry.Registry`; call its
        ``register(group, name, target)`` (and ``add_group(group)`` for a new
        kind of component).
    """


@hookspec
def libai_config_dirs() -> list[Path | str]:
    """Return directories of default configs this plugin ships.

    ``get_config("common/models/bert.py")`` looks for the relative path in
    every directory returned by every plugin, in plugin load order.

    Results are collected as a list of lists, one per plugin.
    """


# --------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------


@hookspec
def libai_trainer_hooks(cfg: Any) -> list[Any]:
    """Return extra training hooks (``libai.engine.hooks.HookBase``) for a run.

    Called by ``DefaultTrainer`` after its own hooks are built, with the final
    config. Results are collected as a list of lists, one per plugin; each
    returned hook is appended after the default hooks, in plugin load order.

    :param cfg: the experiment config (``model``, ``train``, ...).
    """
