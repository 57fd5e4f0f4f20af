"""``LayerNorm`` and ``RMSLayerNorm`` with global parameters.

LiBai's LayerNorm calls ``flow._C.layer_norm``, whose CPU kernel aborts the process in
OneFlow 0.9.0 (``layer_norm_affine`` and ``group_norm`` have no CPU kernel either). On
CUDA ``flow.nn.functional.layer_norm`` (the fused kernel) is used; on the CPU an exact
composition of plain ops, leaner than OneFlow's own CPU fallback.
``flow._C.rms_norm`` has no CPU kernel, so RMS normalisation is composed from plain ops
(computed in float32, as T5 does).

The CPU compositions never broadcast a reduced axis: OneFlow 0.9.0's CPU kernel for a
binary op whose operand has shape ``[..., 1]`` against ``[..., H]`` (``x - mean``) is
about 150x slower than the same op on equal shapes, forward and backward. A per-row
statistic of shape ``[N, 1]`` is first widened to ``[N, H]`` by a matmul with a
``ones(1, H)`` row (:func:`widen_rows`): one product by 1.0 per element, so the values
are bit-identical to the broadcast, at a fraction of its cost.
"""

from __future__ import annotations

from typing import Sequence, Union

from libai.utils import distributed as dist
from libai.utils.oneflow_env import flow

nn = flow.nn


def widen_rows(stat, ones_row):
    """``stat`` of shape ``[N, 1]`` repeated along the last axis to ``[N, H]``.

    ``ones_row`` is a ``ones(1, H)`` tensor (see :func:`ones_row`). Exact (each element is
    ``stat * 1.0``); done by a matmul because OneFlow 0.9.0's CPU broadcast of a
    ``[N, 1]`` operand is very slow (see the module docstring). The gradient is the
    matmul's too: a row sum, also broadcast-free.
    """
    if stat.is_global and ones_row.placement != stat.placement:
        ones_row = ones_row.to_global(placement=stat.placement)
    return flow.matmul(stat, ones_row.to(stat.dtype))


def ones_row(width: int, layer_idx: int):
    """A global ``ones(1, width)`` on layer ``layer_idx``'s placement, for :func:`widen_rows`.

    Layers keep it as a non-persistent buffer: made once, outside any graph trace (a
    factory called inside ``nn.Graph`` warns), moved with the module, not checkpointed.
    """
    return flow.ones(
        1,
        width,
        placement=dist.get_layer_placement(layer_idx),
        sbp=dist.get_nd_sbp([flow.sbp.broadcast, flow.sbp.broadcast]),
    )


def _shape(normalized_shape: Union[int, Sequence[int]]) -> tuple:
    if isinstance(normalized_shape, int):
        return (normalized_shape,)
    return tuple(normalized_shape)


def _numel(shape: tuple) -> int:
    count = 1
    for size in shape:
        count *= size
    return count


class LayerNorm(nn.Module):
    """Layer normalisation over the last ``len(normalized_shape)`` axes.

    Args:
        normalized_shape: the trailing shape to normalise.
        eps: added to the variance.
        elementwise_affine: learn a scale (and a shift when ``bias``).
        bias: learn a shift.
        layer_idx: the layer index, which decides the placement.
    """

    def __init__(
        self,
        normalized_shape: Union[int, Sequence[int]],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        *,
        layer_idx: int = 0,
    ) -> None:
        super().__init__()
        self.normalized_shape = _shape(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        self.layer_idx = layer_idx
        self.register_buffer(
            "_ones_row", ones_row(_numel(self.normalized_shape), layer_idx), persistent=False
        )
        placement = dist.get_layer_placement(layer_idx)
        sbp = dist.get_nd_sbp([flow.sbp.broadcast, flow.sbp.broadcast])
        if elementwise_affine:
            self.weight = nn.Parameter(
                flow.ones(self.normalized_shape, placement=placement, sbp=sbp)
            )
            self.bias = (
                nn.Parameter(flow.zeros(self.normalized_shape, placement=placement, sbp=sbp))
                if bias
                else None
            )
        else:
            self.weight = None
            self.bias = None

    def forward(self, x):
        if self.weight is not None:
            x = x.to_global(placement=self.weight.placement)
        if x.is_cuda:
            return flow.nn.functional.layer_norm(
                x, self.normalized_shape, self.weight, self.bias, self.eps
            )
        # On the CPU, OneFlow's functional layer_norm composes seven ops (its variance
        # alone is several) and broadcasts [N, 1] statistics: centring once on rows and
        # widening the statistics (widen_rows) gives the same values, and LayerNorm's share
        # of the GPT benchmark's step fell about 4x (benchmarks/results-models.md).
        rows = x.reshape(-1, _numel(self.normalized_shape))
        centred = rows - widen_rows(rows.mean(dim=-1, keepdim=True), self._ones_row)
        variance = (centred * centred).mean(dim=-1, keepdim=True)
        inv_std = widen_rows(flow.rsqrt(variance + self.eps), self._ones_row)
        normed = (centred * inv_std).view(x.shape)
        if self.weight is not None:
            normed = normed * self.weight
        if self.bias is not None:
            normed = normed + self.bias
        return normed

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
        )


class RMSLayerNorm(nn.Module):
    """Root-mean-square normalisation (T5's LayerNorm): ``x / rms(x) * weight``, no shift.

    Args:
        normalized_shape: the trailing shape to normalise.
        eps: added to the mean square.
        layer_idx: the layer index, which decides the placement.
    """

    def __init__(
        self,
        normalized_shape: Union[int, Sequence[int]],
        eps: float = 1e-6,
        *,
        layer_idx: int = 0,
    ) -> None:
        super().__init__()
        self.normalized_shape = _shape(normalized_shape)
        self.eps = eps
        self.layer_idx = layer_idx
        self.register_buffer(
            "_ones_row", ones_row(_numel(self.normalized_shape), layer_idx), persistent=False
        )
        self.weight = nn.Parameter(
            flow.ones(
                self.normalized_shape,
                placement=dist.get_layer_placement(layer_idx),
                sbp=dist.get_nd_sbp([flow.sbp.broadcast, flow.sbp.broadcast]),
            )
        )

    def forward(self, x):
        x = x.to_global(placement=self.weight.placement)
        rows = x.reshape(-1, _numel(self.normalized_shape))
        variance = rows.to(flow.float32).pow(2).mean(dim=-1, keepdim=True)
        # widen_rows: a [N, 1] operand broadcast against [N, H] is very slow on the CPU.
        inv_rms = widen_rows(flow.rsqrt(variance + self.eps), self._ones_row)
        normed = (rows * inv_rms).to(x.dtype).view(x.shape)
        return self.weight * normed

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}"
