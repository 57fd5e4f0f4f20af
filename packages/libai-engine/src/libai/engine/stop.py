"""Stopping a training run cleanly on SIGTERM or SIGINT.

A cluster scheduler sends SIGTERM before it preempts a job; a user presses Ctrl-C.
Either way the run should lose nothing: :class:`StopSignals` records the signal
instead of dying, the trainer finishes the iteration it is in, all ranks agree on
stopping at the same iteration (:func:`agreed_signal`), a checkpoint is written, and
the process exits with ``128 + signal`` (:class:`TrainingInterrupted`). More signals
while that checkpoint is written are noted and ignored: the save is atomic anyway,
and the ranks stay in step.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import Any, Optional

__all__ = ["STOP_SIGNALS", "StopSignals", "TrainingInterrupted", "agreed_signal"]

logger = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class TrainingInterrupted(Exception):
    """Training stopped after a stop signal, with its state saved; exit with ``exit_code``."""

    def __init__(self, signum: int, iteration: int, checkpoint: str) -> None:
        self.signum = int(signum)
        self.iteration = iteration
        self.checkpoint = checkpoint
        name = signal.Signals(self.signum).name
        super().__init__(
            f"stopped by {name} after iteration {iteration}; checkpoint {checkpoint} written, "
            "continue with --resume"
        )

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class StopSignals:
    """A context manager that turns SIGTERM/SIGINT into a request read by :attr:`received`.

    The previous handlers come back on exit. Outside the main thread (signals cannot be
    caught there) it does nothing.
    """

    def __init__(self) -> None:
        self.received: Optional[int] = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Optional[FrameType]) -> None:
        name = signal.Signals(signum).name
        if self.received is None:
            self.received = signum
            logger.warning(
                "%s received: finishing this iteration, then saving a checkpoint and stopping",
                name,
            )
        else:
            logger.warning(
                "%s received again: already stopping, the checkpoint is on its way", name
            )

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()


def agreed_signal(received: Optional[int]) -> int:
    """The stop signal of the first rank that received one (0: none), the same on every rank.

    A single process needs no communication; several exchange one small vector per
    call, so that all ranks stop after the same iteration and take part in the save.
    """
    from libai.utils import distributed as dist

    world = dist.get_world_size()
    if world == 1:
        return int(received or 0)
    from libai.utils.oneflow_env import flow

    mine = [0.0] * world
    mine[dist.get_rank()] = float(received or 0)
    placement = flow.placement("cpu", ranks=list(range(world)))
    t = flow.tensor(mine, dtype=flow.float32).to_global(
        placement=placement, sbp=flow.sbp.partial_sum
    )
    values = t.to_global(sbp=flow.sbp.broadcast).to_local().numpy()
    return next((int(v) for v in values if v > 0), 0)
