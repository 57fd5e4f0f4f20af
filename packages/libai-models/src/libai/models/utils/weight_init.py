"""Initialisers used by LiBai's models (Megatron's normal and scaled-normal)."""

from __future__ import annotations

import math
from typing import Callable

from libai.utils.oneflow_env import flow


def init_method_normal(sigma: float, mean: float = 0.0) -> Callable:
    """Return ``init(tensor)`` drawing from N(mean, sigma^2)."""

    def init_(tensor):
        return flow.nn.init.normal_(tensor, mean=mean, std=sigma)

    return init_


def scaled_init_method_normal(sigma: float, num_layers: int, mean: float = 0.0) -> Callable:
    """N(mean, (sigma / sqrt(2 * num_layers))^2): output projections of residual branches."""
    std = sigma / math.sqrt(2.0 * num_layers)

    def init_(tensor):
        return flow.nn.init.normal_(tensor, mean=mean, std=std)

    return init_
