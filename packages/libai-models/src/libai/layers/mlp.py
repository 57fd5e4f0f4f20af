"""``MLP``: the transformer's feed-forward block, column- then row-parallel."""

from __future__ import annotations

from typing import Callable, Optional

from libai.layers._fused import use_fused
from libai.layers.activation import build_activation
from libai.layers.linear import Linear
from libai.utils.oneflow_env import flow

nn = flow.nn


class MLP(nn.Module):
    """``dropout(W2 act(W1 x + b1) + b2)``.

    Args:
        hidden_size, ffn_hidden_size: input/output width and inner width.
        output_dropout_prob: dropout on the output.
        init_method, output_layer_init_method: weight initialisers.
        bias_gelu_fusion, bias_dropout_fusion: request fused kernels (used only when
            the device has them and, for the first, the activation is exact GELU).
        activation: ``"gelu"`` (exact, BERT), ``"gelu_tanh"`` (GPT-2), ``"relu"`` (T5) ...
        bias: whether the two projections have biases.
        layer_idx: the layer index, which decides the placement.
    """

    def __init__(
        self,
        hidden_size: int,
        ffn_hidden_size: int,
        output_dropout_prob: float = 0.0,
        init_method: Callable = nn.init.xavier_normal_,
        output_layer_init_method: Optional[Callable] = None,
        bias_gelu_fusion: bool = False,
        bias_dropout_fusion: bool = False,
        *,
        activation: str = "gelu",
        bias: bool = True,
        layer_idx: int = 0,
    ) -> None:
        super().__init__()
        output_layer_init_method = output_layer_init_method or init_method
        self.output_dropout_prob = output_dropout_prob
        self.activation_name = activation
        self.activation = build_activation(activation)
        self.fused_bias_gelu = (
            bias and activation == "gelu" and use_fused(bias_gelu_fusion, "bias_gelu", layer_idx)
        )
        self.fused_bias_dropout = bias and use_fused(bias_dropout_fusion, "bias_dropout", layer_idx)
        self.dense_h_to_4h = Linear(
            hidden_size,
            ffn_hidden_size,
            bias=bias,
            parallel="col",
            skip_bias_add=self.fused_bias_gelu,
            init_method=init_method,
            layer_idx=layer_idx,
        )
        self.dense_4h_to_h = Linear(
            ffn_hidden_size,
            hidden_size,
            bias=bias,
            parallel="row",
            skip_bias_add=self.fused_bias_dropout,
            init_method=output_layer_init_method,
            layer_idx=layer_idx,
        )
        self.dropout = nn.Dropout(p=output_dropout_prob)

    def forward(self, hidden_states):
        inner = self.dense_h_to_4h(hidden_states)
        if self.fused_bias_gelu:
            inner, bias = inner
            inner = flow._C.fused_bias_add_gelu(inner, bias, axis=inner.ndim - 1)
        else:
            inner = self.activation(inner)
        output = self.dense_4h_to_h(inner)
        if self.fused_bias_dropout:
            output, bias = output
            p = self.output_dropout_prob if self.training else 0.0
            return flow._C.fused_bias_add_dropout(output, bias, p=p, axis=output.ndim - 1)
        return self.dropout(output)
