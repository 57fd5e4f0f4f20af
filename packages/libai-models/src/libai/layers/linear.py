"""``Linear``: a dense layer whose weight is a global tensor, optionally split for tensor parallelism.

Megatron's pairing: a column-parallel layer (weight split on the output features,
``parallel="col"``) feeds a row-parallel one (weight split on the input features,
``parallel="row"``), so the activation between them stays split and only one
all-reduce happens per pair. ``parallel="data"`` keeps the weight whole on every rank.
"""

from __future__ import annotations

from typing import Callable

from libai.utils import distributed as dist
from libai.utils.oneflow_env import flow

nn = flow.nn

_PARALLEL_MODES = ("col", "row", "data")


class Linear1D(nn.Module):
    """``y = x W^T + b`` with ``W`` of shape ``(out_features, in_features)``.

    Args:
        in_features, out_features: sizes of the input and output features.
        bias: whether to add a bias.
        parallel: ``"col"`` (weight sbp ``[B, S(0)]``), ``"row"`` (``[B, S(1)]``) or
            ``"data"`` (``[B, B]``).
        init_method: initialiser applied to the weight (bias starts at zero).
        skip_bias_add: return ``(x W^T, b)`` so a fused bias+op kernel can add it.
        layer_idx: the layer index, which decides the placement (pipeline stage).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        parallel: str = "data",
        init_method: Callable = nn.init.xavier_normal_,
        skip_bias_add: bool = False,
        dtype=None,
        *,
        layer_idx: int = 0,
    ) -> None:
        super().__init__()
        if parallel not in _PARALLEL_MODES:
            raise ValueError(
                f"Linear(parallel={parallel!r}) is not a parallel mode; use one of {_PARALLEL_MODES}"
            )
        self.in_features = in_features
        self.out_features = out_features
        self.parallel = parallel
        self.skip_bias_add = skip_bias_add
        self.layer_idx = layer_idx
        dtype = flow.float32 if dtype is None else dtype

        placement = dist.get_layer_placement(layer_idx)
        tensor_axis = {
            "col": flow.sbp.split(0),
            "row": flow.sbp.split(1),
            "data": flow.sbp.broadcast,
        }[parallel]
        weight_sbp = dist.get_nd_sbp([flow.sbp.broadcast, tensor_axis])
        bias_axis = flow.sbp.split(0) if parallel == "col" else flow.sbp.broadcast
        bias_sbp = dist.get_nd_sbp([flow.sbp.broadcast, bias_axis])

        self.weight = nn.Parameter(
            flow.empty(
                (out_features, in_features), dtype=dtype, placement=placement, sbp=weight_sbp
            )
        )
        init_method(self.weight)
        if bias:
            self.bias = nn.Parameter(
                flow.zeros((out_features,), dtype=dtype, placement=placement, sbp=bias_sbp)
            )
        else:
            self.bias = None
        self._tp = dist.get_tensor_parallel_size() > 1

    def forward(self, x):
        if self._tp and self.parallel == "col":
            # A column-split weight needs the whole input on every tensor rank; the
            # gradient of x must keep x's sbp so backward all-reduces it.
            x = x.to_global(sbp=x.sbp[:-1] + (flow.sbp.broadcast,))
            x = x.to_global(grad_sbp=x.sbp)
        elif self._tp and self.parallel == "row":
            # The input arrives split on its last axis (the output of a "col" layer);
            # the product is partial-sum, made whole (all-reduce) for the next layer.
            x = x.to_global(sbp=x.sbp[:-1] + (flow.sbp.split(x.ndim - 1),))
            out_sbp = x.sbp[:-1] + (flow.sbp.broadcast,)
            out = flow.matmul(x, self.weight, transpose_b=True).to_global(sbp=out_sbp)
            return self._add_bias(out)
        elif self._tp:
            x = x.to_global(grad_sbp=x.sbp)
        # Not flow._C.fused_matmul_bias: on the CPU its forward + backward is about 4x
        # slower than matmul followed by a broadcast add (measured at GPT sizes).
        return self._add_bias(flow.matmul(x, self.weight, transpose_b=True))

    def _add_bias(self, out):
        if self.bias is None:
            return out
        if self.skip_bias_add:
            return out, self.bias
        return out + self.bias

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}, parallel={self.parallel}"
        )


# LiBai's public name.
Linear = Linear1D
