"""Activation functions by name, as the models' configs choose them.

GPT-2 uses the tanh approximation of GELU (Hugging Face's ``gelu_new``); BERT and
RoBERTa the exact erf form; T5 v1.0 uses ReLU. Picking the same one as the reference
implementation is what makes converted checkpoints agree to 1e-5.
"""

from __future__ import annotations

import difflib
from typing import Callable

from libai.utils.oneflow_env import flow


def _gelu(x):
    return flow.nn.functional.gelu(x)


def _gelu_tanh(x):
    return flow.nn.functional.gelu(x, approximate="tanh")


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
