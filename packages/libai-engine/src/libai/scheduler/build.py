"""Build the scheduler of ``cfg.train.scheduler`` for an optimizer (as LiBai does)."""

from __future__ import annotations

from typing import Any


def build_lr_scheduler(cfg: Any, optimizer: Any) -> Any:
    """Instantiate the scheduler config ``cfg`` with ``optimizer`` filled in.

    ``cfg`` is a ``LazyCall`` node (``cfg.train.scheduler``); ``max_iter`` and
    ``warmup_iter`` must already be set on it (the trainer does that).
    """
    from libai.config import instantiate

    cfg.optimizer = optimizer
    return instantiate(cfg)
