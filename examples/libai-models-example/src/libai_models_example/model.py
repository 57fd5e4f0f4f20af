"""A tiny multi-layer perceptron in pure Python.

It stands in for a real model: what matters for the plugin is how it is
published (entry point ``libai.models: tiny_mlp``) and configured, not the
maths. A real plugin's model would subclass ``oneflow.nn.Module``.
"""

from __future__ import annotations

import math
import random


class TinyMLP:
    """``in_features -> hidden_features (x num_layers, tanh) -> out_features``.

    Weights are drawn from a seeded uniform distribution (Glorot bounds), so
    two models built with the same arguments compute the same outputs.
    """

    def __init__(
        self,
        in_features: int,
        hidden_features: int,
        out_features: int,
        num_layers: int = 2,
        seed: int = 0,
    ) -> None:
        if num_layers < 1:
            raise ValueError(f"num_layers must be at least 1, got {num_layers}")
        rng = random.Random(seed)
        sizes = [in_features] + [hidden_features] * num_layers + [out_features]
        self.layers: list[tuple[list[list[float]], list[float]]] = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            bound = math.sqrt(6.0 / (fan_in + fan_out))
            weight = [[rng.uniform(-bound, bound) for _ in range(fan_in)] for _ in range(fan_out)]
            self.layers.append((weight, [0.0] * fan_out))
        self.in_features = in_features
        self.out_features = out_features

    def num_parameters(self) -> int:
        """Number of weights and biases."""
        return sum(len(w) * len(w[0]) + len(b) for w, b in self.layers)

    def __call__(self, x: list[float]) -> list[float]:
        """The output for one input vector of length ``in_features``."""
        if len(x) != self.in_features:
            raise ValueError(f"expected {self.in_features} inputs, got {len(x)}")
        for index, (weight, bias) in enumerate(self.layers):
            x = [sum(w * v for w, v in zip(row, x)) + b for row, b in zip(weight, bias)]
            if index < len(self.layers) - 1:
                x = [math.tanh(v) for v in x]
        return x
