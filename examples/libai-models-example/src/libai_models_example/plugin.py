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


class StepCounterHook:
    """A training hook that counts steps and reports every ``period`` steps.

    It follows the trainer-hook protocol (``before_train``, ``before_step``,
    ``after_step``, ``after_train``; the trainer sets ``self.trainer``). A plugin
    that depends on libai-engine would subclass ``libai.engine.hooks.HookBase``;
    this one stays engine-free and only duck-types it.
    """

    def __init__(self, period: int = 20) -> None:
        self.period = period
        self.steps = 0
        self.trainer: Any = None

    def before_train(self) -> None:
        self.steps = 0

    def before_step(self) -> None:
        pass

    def after_step(self) -> None:
        self.steps += 1
        if self.steps % self.period == 0:
            print(f"[libai-models-example] {self.steps} steps")

    def after_train(self) -> None:
        print(f"[libai-models-example] trained {self.steps} steps")


@hookimpl
def libai_trainer_hooks(cfg: Any) -> list[Any]:
    """One :class:`StepCounterHook`, unless the config turns it off.

    ``cfg.train.example_step_counter`` (default True) switches it; its period
    is ``cfg.train.log_period`` when set.
    """
    train = _get(cfg, "train")
    if not _get(train, "example_step_counter", True):
        return []
    return [StepCounterHook(period=int(_get(train, "log_period", 20) or 20))]


def _get(node: Any, key: str, default: Any = None) -> Any:
    # Configs are omegaconf DictConfigs or plain dicts; both support .get.
    if node is None:
        return default
    getter = getattr(node, "get", None)
    return getter(key, default) if getter is not None else getattr(node, key, default)
