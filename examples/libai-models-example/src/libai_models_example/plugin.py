"""The pluggy plugin of libai-models-example (entry point group ``libai.plugins``).

Imported when the registry or ``get_config`` first needs plugins, so it
imports nothing heavy: the model module stays unimported until a config
resolves ``models:tiny_mlp``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from libai.config.hookspecs import hookimpl

CONFIG_DIR = Path(__file__).resolve().parent / "configs"


@hookimpl
def libai_config_dirs() -> list[Path]:
    """Default configs: ``get_config("common/models/tiny_mlp.py")`` finds ours."""
    return [CONFIG_DIR]


@hookimpl
def libai_trainer_hooks(cfg: Any) -> list[Any]:
    """One :class:`~libai_models_example.hooks.StepCounterHook`, unless the config turns it off.

    ``cfg.train.example_step_counter`` (default True) switches it; its period
    is ``cfg.train.log_period`` when set. Only the engine calls this hook, so
    the hook class (a ``libai.engine.hooks.HookBase``) is imported here, not at
    module level: the plugin keeps working where only libai-config is installed.
    """
    train = _get(cfg, "train")
    if not _get(train, "example_step_counter", True):
        return []
    from libai_models_example.hooks import StepCounterHook

    return [StepCounterHook(period=int(_get(train, "log_period", 20) or 20))]


def _get(node: Any, key: str, default: Any = None) -> Any:
    # Configs are omegaconf DictConfigs or plain dicts; both support .get.
    if node is None:
        return default
    getter = getattr(node, "get", None)
    return getter(key, default) if getter is not None else getattr(node, key, default)
