"""Decide, once per (kernel, device type), whether a fused OneFlow kernel can run.

OneFlow 0.9.0 registers kernels such as ``fused_bias_add_gelu`` for CUDA only; on the
CPU they raise ``RuntimeError: Cannot find the kernel matching Current OperatorConf``.
The fused-op flags of LiBai's configs (``bias_gelu_fusion``, ``bias_dropout_fusion``,
``scale_mask_softmax_fusion``) are therefore *requests*: a layer asks
:func:`fused_kernel_available` while it is built (eagerly, never inside a graph
trace) and falls back to an exact composition of plain ops when the answer is no.
"""

from __future__ import annotations

import logging
from typing import Callable

from libai.utils.oneflow_env import flow

logger = logging.getLogger(__name__)

_CACHE: dict[tuple[str, str], bool] = {}

# Probes use p > 0 (with p == 0 some fused dropout functors skip the kernel and would
# report it present) and a private generator: they must not move the default random
# stream, or the first model built in a process would be initialised differently from
# the next one built with the same seed. (flow.get_rng_state/set_rng_state cannot undo
# it: in 0.9.0 that round trip itself changes later random init of global tensors.)


def _probe_bias_gelu(device: str) -> None:
    x = flow.ones(2, 4, device=device)
    b = flow.ones(4, device=device)
    flow._C.fused_bias_add_gelu(x, b, axis=1)


def _probe_bias_dropout(device: str) -> None:
    x = flow.ones(2, 4, device=device)
    b = flow.ones(4, device=device)
    flow._C.fused_bias_add_dropout(x, b, p=0.5, axis=1, generator=flow.Generator())


def _probe_scale_mask_softmax(device: str) -> None:
    x = flow.ones(1, 1, 2, 2, device=device)
    mask = flow.ones(1, 1, 2, 2, dtype=flow.bool, device=device)
    flow._C.fused_scale_mask_softmax_dropout(
        x, mask, fill_value=-10000.0, scale=1.0, p=0.5, generator=flow.Generator()
    )


def _probe_tril_softmax(device: str) -> None:
    x = flow.ones(1, 1, 2, 2, device=device)
    flow._C.fused_scale_tril_softmax_mask_scale(
        x, p=0.5, diagonal=0, tril_scale_value=1.0, generator=flow.Generator()
    )


_PROBES: dict[str, Callable[[str], None]] = {
    "bias_gelu": _probe_bias_gelu,
    "bias_dropout": _probe_bias_dropout,
    "scale_mask_softmax": _probe_scale_mask_softmax,
    "scale_tril_softmax": _probe_tril_softmax,
}


def fused_kernel_available(name: str, device_type: str) -> bool:
    """Return whether the fused kernel family ``name`` runs on ``device_type``.

    ``name`` is one of ``bias_gelu``, ``bias_dropout``, ``scale_mask_softmax``,
    ``scale_tril_softmax``. The answer is cached. Raises ``KeyError`` for an unknown name.
    """
    key = (name, device_type)
    if key not in _CACHE:
        probe = _PROBES[name]
        try:
            probe(device_type)
        except RuntimeError as exc:
            # OneFlow 0.9.0 raises "Cannot find the kernel matching Current OperatorConf"
            # for a kernel missing on this device: the exact fallback is used instead.
            # OneFlow's message runs to dozens of lines of C++ frames: its first line says it all.
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            logger.info(
                "fused kernel %s unavailable on %s (%s); using the exact fallback",
                name,
                device_type,
                reason,
            )
            _CACHE[key] = False
        else:
            _CACHE[key] = True
    return _CACHE[key]


def use_fused(requested: bool, name: str, layer_idx: int = 0) -> bool:
    """Whether a layer should use the fused kernel ``name``: requested and available."""
    if not requested:
        return False
    from libai.utils import distributed as dist

    device_type = dist.get_layer_placement(layer_idx).type
    return fused_kernel_available(name, device_type)
