"""Activation functions by name, as the models' configs choose them.

GPT-2 uses the tanh approximation of GELU (Hugging Face's ``gelu_new``); BERT and
RoBERTa the exact erf form; T5 v1.0 uses ReLU. Picking the same one as the reference
implementation is what makes converted checkpoints agree to 1e-5.
"""

from __future__ import annotations

import difflib
import math
from typing import Callable

from libai.utils.oneflow_env import flow


def _gelu(x):
    return flow.nn.functional.gelu(x)


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def _gelu_tanh(x):
    # 0.5 x (1 + tanh(z)) == x * sigmoid(2 z), z = sqrt(2/pi) (x + 0.044715 x^3): the same
    # function, but OneFlow's CPU tanh (and its gelu(approximate="tanh")) is about 4x
    # slower than sigmoid plus three multiplies, forward and backward.
    if x.is_cuda:
        return flow.nn.functional.gelu(x, approximate="tanh")
    return x * flow.sigmoid(
        x * (2.0 * _SQRT_2_OVER_PI + (2.0 * _SQRT_2_OVER_PI * 0.044715) * (x * x))
    )


def _relu(x):
    return flow.nn.functional.relu(x)


def _silu(x):
    return flow.nn.functional.silu(x)


ACTIVATIONS: dict[str, Callable] = {
    "gelu": _gelu,
    "gelu_tanh": _gelu_tanh,
    "gelu_new": _gelu_tanh,
    "relu": _relu,
    "silu": _silu,
}


def build_activation(name: str) -> Callable:
    """Return the activation called ``name``; raise ``ValueError`` naming the closest ones."""
    try:
        return ACTIVATIONS[name]
    except KeyError as exc:
        close = difflib.get_close_matches(str(name), ACTIVATIONS, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ValueError(
            f"unknown activation {name!r}: known are {sorted(ACTIVATIONS)}{hint}"
        ) from exc
