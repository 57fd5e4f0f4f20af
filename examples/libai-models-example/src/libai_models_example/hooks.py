"""The example's training hook.

Imported only from ``libai_trainer_hooks``, which only the engine calls: so
``libai.engine`` is installed whenever this module is imported, while the
plugin itself stays importable where only libai-config is installed.
"""

from __future__ import annotations

import logging

from libai.engine.hooks import HookBase

# Under "libai": the engine's setup_logger sends that logger to the console and
# the run's log.txt; a logger outside it would print nothing during a run.
logger = logging.getLogger("libai.plugins.libai_models_example")


class StepCounterHook(HookBase):
    """Counts the steps of a run and logs every ``period`` steps.

    ``self.trainer`` (set by the trainer) gives the iteration; the hook keeps
    its own count so a resumed run reports the steps it actually ran.
    """

    def __init__(self, period: int = 20) -> None:
        if period < 1:
            raise ValueError(f"period must be at least 1, got {period}")
        self.period = period
        self.steps = 0

    def before_train(self) -> None:
        self.steps = 0

    def after_step(self) -> None:
        self.steps += 1
        if self.steps % self.period == 0:
            logger.info("[libai-models-example] %d steps", self.steps)

    def after_train(self) -> None:
        logger.info("[libai-models-example] ran %d steps", self.steps)
