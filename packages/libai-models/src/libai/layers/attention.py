"""``MultiheadAttention``: self- and cross-attention over global tensors.

Projections are column-parallel (each tensor rank owns whole heads) and the output
projection is row-parallel. Masks follow LiBai: ``attention_mask`` holds 1 where a
query may attend and 0 where not, shape broadcastable to ``(B, 1, tgt, src)``; a
causal layer (``attn_mask_type=AttnMaskType.causal``) adds the lower-triangular mask
itself. Masked scores get ``-10000`` added before the softmax, as LiBai and Megatron do.

Fused kernels (``scale_mask_softmax_fusion``, ``bias_dropout_fusion``) are used only when
requested *and* present on the device (see :mod:`libai.layers._fused`); otherwise the
exact composition of plain ops runs, so the flags never break a CPU run.
"""

from __future__ import annotations

import enum
import math
from typing import Callable, Optional

from libai.layers._fused import use_fused
from libai.layers.linear import Linear
from libai.utils.oneflow_env import flow

nn = flow.nn

_MASK_FILL = -10000.0


class AttnMaskType(enum.Enum):
    padding = 1
    causal = 2


class MultiheadAttention(nn.Module):
    """Multi-head attention (Vaswani et al., 2017).

    Args:
        hidden_size: model width; must be divisible by ``num_attention_heads``.
        num_attention_heads: number of heads.
        is_cross_attention: query from ``hidden_states``, keys/values from ``encoder_states``.
        attention_dropout_prob, output_dropout_prob: dropout on weights and output.
        init_method, output_layer_init_method: weight initialisers.
        bias_dropout_fusion, scale_mask_softmax_fusion: request fused kernels.
        apply_query_key_layer_scaling: divide scores by ``layer_idx + 1`` before the
            softmax input is rescaled (Megatron's fp16 trick; a no-op in float32, so on
            the CPU it is folded into the scores' scale, see ``_score_scaling``).
        attn_mask_type: ``AttnMaskType.padding`` or ``AttnMaskType.causal``.
        bias: whether the projections have biases (T5's have none).
        scale: multiply scores by this instead of ``1/sqrt(head_size)`` (T5 uses 1.0).
        layer_idx: the layer index, which decides the placement.
    """

    def __init__(
        self,
        hidden_size: int,
        num_attention_heads: int,
        is_cross_attention: bool = False,
        attention_dropout_prob: float = 0.0,
        output_dropout_prob: float = 0.0,
        init_method: Callable = nn.init.xavier_normal_,
        output_layer_init_method: Optional[Callable] = None,
        bias_dropout_fusion: bool = False,
        scale_mask_softmax_fusion: bool = False,
        apply_query_key_layer_scaling: bool = False,
        attn_mask_type: AttnMaskType = AttnMaskType.padding,
        *,
        bias: bool = True,
        scale: Optional[float] = None,
        head_size: Optional[int] = None,
        layer_idx: int = 0,
    ) -> None:
        super().__init__()
        if head_size is None:
            if hidden_size % num_attention_heads != 0:
                raise ValueError(
                    f"hidden_size={hidden_size} is not divisible by "
                    f"num_attention_heads={num_attention_heads}"
                )
            head_size = hidden_size // num_attention_heads
        self.hidden_size = hidden_size
        self.num_heads = num_attention_heads
        self.head_size = head_size
        inner = num_attention_heads * head_size
        self.is_cross_attention = is_cross_attention
        self.attn_mask_type = attn_mask_type
        self.layer_idx = layer_idx
        output_layer_init_method = output_layer_init_method or init_method

        self.attention_dropout_prob = attention_dropout_prob
        self.output_dropout_prob = output_dropout_prob
        self.dropout = nn.Dropout(p=attention_dropout_prob)
        self.output_dropout = nn.Dropout(p=output_dropout_prob)
        self.fused_softmax = use_fused(
            scale_mask_softmax_fusion,
            "scale_tril_softmax" if attn_mask_type == AttnMaskType.causal else "scale_mask_softmax",
            layer_idx,
        )
        self.norm_factor, self.coeff = _score_scaling(
            head_size, scale, apply_query_key_layer_scaling, layer_idx, self.fused_softmax
        )
        self.fused_bias_dropout = use_fused(bias_dropout_fusion, "bias_dropout", layer_idx)

        if is_cross_attention:
            self.query = Linear(
                hidden_size,
                inner,
                bias=bias,
                parallel="col",
                init_method=init_method,
                layer_idx=layer_idx,
            )
            self.key_value = Linear(
                hidden_size,
                2 * inner,
                bias=bias,
                parallel="col",
                init_method=init_method,
                layer_idx=layer_idx,
            )
        else:
            self.query_key_value = Linear(
                hidden_size,
                3 * inner,
                bias=bias,
                parallel="col",
                init_method=init_method,
                layer_idx=layer_idx,
            )
        self.dense = Linear(
            inner,
            hidden_size,
            bias=bias,
            parallel="row",
            init_method=output_layer_init_method,
            skip_bias_add=self.fused_bias_dropout,
            layer_idx=layer_idx,
        )

    def _heads(self, x, parts: int):
        """(B, S, H * parts * d) -> ``parts`` tensors of (B, H, S, d); heads are interleaved."""
        bsz = x.shape[0]
        x = x.view(bsz, -1, self.num_heads, parts * self.head_size).permute(0, 2, 1, 3)
        if parts == 1:
            return (x,)
        return flow.chunk(x, chunks=parts, dim=-1)

    def forward(
        self,
        hidden_states,
        encoder_states=None,
        attention_mask=None,
        past_key_value=None,
        use_cache: bool = False,
        position_bias=None,
    ):
        """Attend; return the output ``(B, tgt, hidden)`` (and ``(key, value)`` with ``use_cache``).

        ``position_bias`` (broadcastable to ``(B, H, tgt, src)``) is added to the scores
        before masking (T5's relative position bias).
        """
        placement = hidden_states.placement
        if encoder_states is not None:
            encoder_states = encoder_states.to_global(placement=placement)
        if attention_mask is not None:
            attention_mask = attention_mask.to_global(placement=placement)

        if self.is_cross_attention:
            (query,) = self._heads(self.query(hidden_states), 1)
            if past_key_value is not None:
                key, value = past_key_value
            elif encoder_states is not None:
                key, value = self._heads(self.key_value(encoder_states), 2)
            else:
                raise ValueError(
                    "cross-attention needs encoder_states or past_key_value; both are None"
                )
        else:
            query, key, value = self._heads(self.query_key_value(hidden_states), 3)
            if past_key_value is not None:
                past_key, past_value = past_key_value
                key = flow.cat((past_key.to(key.dtype), key), dim=2)
                value = flow.cat((past_value.to(value.dtype), value), dim=2)
        if use_cache:
            past_key_value = (key, value)

        # (B, H, tgt, src)
        scores = flow.matmul(query, key, transpose_b=True, alpha=self.norm_factor)
        if position_bias is not None:
            scores = scores + position_bias.to_global(placement=placement)
        weights = self._softmax(scores, attention_mask)
        context = flow.matmul(weights, value)  # (B, H, tgt, d)
        context = context.transpose(1, 2).flatten(2)  # (B, tgt, H * d)
        output = self.dense(context)
        if self.fused_bias_dropout:
            output, out_bias = output
            output = flow._C.fused_bias_add_dropout(
                output,
                out_bias,
                p=self.output_dropout_prob if self.training else 0.0,
                axis=output.ndim - 1,
            )
        else:
            output = self.output_dropout(output)
        if use_cache:
            return output, past_key_value
        return output

    def _softmax(self, scores, attention_mask):
        if self.fused_softmax:
            return self._fused_softmax(scores, attention_mask)
        if self.coeff is not None:
            scores = scores * self.coeff
        mask = None if attention_mask is None else attention_mask.to(scores.dtype)
        if self.attn_mask_type == AttnMaskType.causal:
            causal = causal_mask(scores.shape[-2], scores.shape[-1], scores)
            mask = causal if mask is None else mask * causal
        if mask is not None:
            # Additive form of LiBai's "scores * mask - 10000 * (1 - mask)": the bias is
            # built on the small mask and broadcast once onto the scores.
            scores = scores + (mask - 1.0) * -_MASK_FILL
        return self.dropout(flow.softmax(scores, dim=-1))

    def _fused_softmax(self, scores, attention_mask):
        p = self.attention_dropout_prob if self.training else 0.0
        scale = self.coeff if self.coeff is not None else 1.0
        if self.attn_mask_type == AttnMaskType.causal and attention_mask is None:
            return flow._C.fused_scale_tril_softmax_mask_scale(
                scores, p=p, diagonal=0, tril_scale_value=scale
            )[0]
        if attention_mask is None:
            attention_mask = flow.ones_like(scores)
        if self.attn_mask_type == AttnMaskType.causal:
            causal = causal_mask(scores.shape[-2], scores.shape[-1], scores)
            attention_mask = attention_mask.to(scores.dtype) * causal
        return flow._C.fused_scale_mask_softmax_dropout(
            scores, attention_mask.to(flow.bool), fill_value=_MASK_FILL, scale=scale, p=p
        )[0]

    def extra_repr(self) -> str:
        return (
            f"hidden_size={self.hidden_size}, num_heads={self.num_heads}, "
            f"is_cross_attention={self.is_cross_attention}"
        )


def _score_scaling(
    head_size: int,
    scale: Optional[float],
    apply_query_key_layer_scaling: bool,
    layer_idx: int,
    fused_softmax: bool,
) -> tuple:
    """``(norm_factor, coeff)``: scores are ``q.k * norm_factor``, then ``* coeff`` if not None.

    Megatron's query-key layer scaling divides the scores by ``layer_idx + 1`` and
    multiplies them back inside the softmax, to keep float16 scores in range. On the
    CPU, where OneFlow 0.9.0 computes in float32 only, the pair is a no-op up to float32
    rounding that costs a full pass over the scores forward and backward; it is folded
    into the matmul's scale there (``coeff`` None) unless the fused kernel applies it.
    """
    from libai.utils import distributed as dist

    norm_factor = 1.0 / math.sqrt(head_size) if scale is None else float(scale)
    if not apply_query_key_layer_scaling:
        return norm_factor, None
    if not fused_softmax and dist.get_layer_placement(layer_idx).type == "cpu":
        return norm_factor, None
    coeff = float(layer_idx + 1)
    return norm_factor / coeff, coeff


def causal_mask(tgt_len: int, src_len: int, like):
    """1/0 mask of shape (1, 1, tgt, src): query i sees keys up to ``src - tgt + i``.

    Built on ``like``'s placement with broadcast sbp (it is tiny next to the scores).
    """
    from libai.utils import distributed as dist

    placement = like.placement
    sbp = dist.get_nd_sbp([flow.sbp.broadcast, flow.sbp.broadcast])
    # Built from aranges rather than flow.ones: inside nn.Graph a factory like ones()
    # warns that it is not registered, an arange does not.
    rows = flow.arange(tgt_len, dtype=flow.int64, placement=placement, sbp=sbp).unsqueeze(1)
    cols = flow.arange(src_len, dtype=flow.int64, placement=placement, sbp=sbp).unsqueeze(0)
    mask = cols <= rows + (src_len - tgt_len)
    return mask.to(like.dtype).unsqueeze(0).unsqueeze(0)
