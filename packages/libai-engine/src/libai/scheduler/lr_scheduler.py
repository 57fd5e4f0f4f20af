"""The warmup schedulers, each a OneFlow decay scheduler wrapped in ``WarmupLR``.

With ``warmup_method="linear"`` the factor on the optimizer's lr goes from
``warmup_factor`` at step 0 linearly to *the decay scheduler's value at step
warmup_iter* (OneFlow's ``WarmupLR`` semantics, so the curve is continuous);
``"constant"`` holds ``warmup_factor`` until ``warmup_iter``. After the warmup the
decay scheduler runs on the global step (it is not restarted at ``warmup_iter``).
``warmup_iter=0`` returns the decay scheduler alone.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from libai.config import engine_supplied
from libai.utils.oneflow_env import flow

logger = logging.getLogger(__name__)

_WARMUP_METHODS = ("linear", "constant")


def _with_warmup(
    scheduler: Any,
    name: str,
    max_iter: int,
    warmup_factor: float,
    warmup_iter: int,
    warmup_method: str,
) -> Any:
    if warmup_method not in _WARMUP_METHODS:
        raise ValueError(
            f"{name}: warmup_method must be one of {list(_WARMUP_METHODS)}, got {warmup_method!r}"
        )
    if warmup_iter < 0:
        raise ValueError(f"{name}: warmup_iter must be >= 0, got {warmup_iter}")
    if warmup_iter == 0:
        return scheduler
    if warmup_iter > max_iter:
        logger.warning(
            "%s: warmup_iter (%d) is larger than max_iter (%d); the run ends during warmup",
            name,
            warmup_iter,
            max_iter,
        )
    return flow.optim.lr_scheduler.WarmupLR(
        scheduler,
        warmup_factor=warmup_factor,
        warmup_iters=warmup_iter,
        warmup_method=warmup_method,
    )


@engine_supplied("optimizer", "max_iter", "warmup_iter")
def WarmupCosineLR(
    optimizer: Any,
    max_iter: int,
    warmup_factor: float,
    warmup_iter: int,
    alpha: float = 0.0,
    warmup_method: str = "linear",
) -> Any:
    """Warmup, then cosine decay from the optimizer's lr to ``alpha * lr`` at ``max_iter``.

    ``lr(t) = lr * ((1 - alpha) * 0.5 * (1 + cos(pi * t / max_iter)) + alpha)`` after warmup.
    """
    cosine = flow.optim.lr_scheduler.CosineDecayLR(optimizer, decay_steps=max_iter, alpha=alpha)
    return _with_warmup(
        cosine, "WarmupCosineLR", max_iter, warmup_factor, warmup_iter, warmup_method
    )


@engine_supplied("optimizer", "max_iter", "warmup_iter")
def WarmupCosineAnnealingLR(
    optimizer: Any,
    max_iter: int,
    warmup_factor: float,
    warmup_iter: int,
    eta_min: float = 0.0,
    warmup_method: str = "linear",
) -> Any:
    """Warmup, then cosine annealing from the optimizer's lr to ``eta_min`` over ``max_iter``."""
    annealing = flow.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=max_iter, eta_min=eta_min
    )
    return _with_warmup(
        annealing, "WarmupCosineAnnealingLR", max_iter, warmup_factor, warmup_iter, warmup_method
    )


@engine_supplied("optimizer", "max_iter", "warmup_iter")
def WarmupStepLR(
    optimizer: Any,
    max_iter: int,
    warmup_factor: float,
    warmup_iter: int,
    step_size: int,
    gamma: float = 0.1,
    warmup_method: str = "linear",
) -> Any:
    """Warmup, then ``lr * gamma ** (t // step_size)``."""
    if step_size <= 0:
        raise ValueError(
            f"WarmupStepLR: step_size must be a positive number of steps, got {step_size}"
        )
    step = flow.optim.lr_scheduler.StepLR(optimizer, step_size=step_size, gamma=gamma)
    return _with_warmup(step, "WarmupStepLR", max_iter, warmup_factor, warmup_iter, warmup_method)


@engine_supplied("optimizer", "max_iter", "warmup_iter")
def WarmupMultiStepLR(
    optimizer: Any,
    max_iter: int,
    warmup_factor: float,
    warmup_iter: int,
    milestones: Sequence[int],
    gamma: float = 0.1,
    warmup_method: str = "linear",
) -> Any:
    """Warmup, then ``lr * gamma ** (number of milestones <= t)``."""
    milestones = [int(m) for m in milestones]
    if milestones != sorted(milestones):
        raise ValueError(f"WarmupMultiStepLR: milestones must be increasing, got {milestones}")
    multistep = flow.optim.lr_scheduler.MultiStepLR(optimizer, milestones=milestones, gamma=gamma)
    return _with_warmup(
        multistep, "WarmupMultiStepLR", max_iter, warmup_factor, warmup_iter, warmup_method
    )


@engine_supplied("optimizer", "max_iter", "warmup_iter")
def WarmupExponentialLR(
    optimizer: Any,
    max_iter: int,
    gamma: float,
    warmup_factor: float,
    warmup_iter: int,
    warmup_method: str = "linear",
) -> Any:
    """Warmup, then ``lr * gamma ** t``."""
    exponential = flow.optim.lr_scheduler.ExponentialLR(optimizer, gamma=gamma)
    return _with_warmup(
        exponential, "WarmupExponentialLR", max_iter, warmup_factor, warmup_iter, warmup_method
    )


@engine_supplied("optimizer", "max_iter", "warmup_iter")
def WarmupPolynomialLR(
    optimizer: Any,
    max_iter: int,
    warmup_factor: float,
    warmup_iter: int,
    end_learning_rate: float = 0.0001,
    power: float = 1.0,
    cycle: bool = False,
    warmup_method: str = "linear",
) -> Any:
    """Warmup, then ``(lr - end) * (1 - t / max_iter) ** power + end``.

    With ``cycle=True`` the decay restarts every ``max_iter`` steps (OneFlow's rule).
    """
    polynomial = flow.optim.lr_scheduler.PolynomialLR(
        optimizer,
        decay_batch=max_iter,
        end_learning_rate=end_learning_rate,
        power=power,
        cycle=cycle,
    )
    return _with_warmup(
        polynomial, "WarmupPolynomialLR", max_iter, warmup_factor, warmup_iter, warmup_method
    )
