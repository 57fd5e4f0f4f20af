"""Learning-rate schedulers with warmup (LiBai's ``libai.scheduler``).

Each is a function returning a OneFlow ``LRScheduler`` (so ``nn.Graph`` compiles it
into the static graph). The trainer supplies ``optimizer``, ``max_iter`` and
``warmup_iter``; a config sets the rest::

    scheduler = LazyCall(WarmupCosineLR)(warmup_factor=0.001, alpha=0.01, warmup_method="linear")
"""

from libai.scheduler.build import build_lr_scheduler
from libai.scheduler.lr_scheduler import (
    WarmupCosineAnnealingLR,
    WarmupCosineLR,
    WarmupExponentialLR,
    WarmupMultiStepLR,
    WarmupPolynomialLR,
    WarmupStepLR,
)

__all__ = [
    "WarmupCosineAnnealingLR",
    "WarmupCosineLR",
    "WarmupExponentialLR",
    "WarmupMultiStepLR",
    "WarmupPolynomialLR",
    "WarmupStepLR",
    "build_lr_scheduler",
]
