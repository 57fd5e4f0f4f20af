"""The Llama decoder layer: RMSNorm -> grouped-query attention with rotary positions ->
RMSNorm -> SwiGLU MLP, each with a residual connection (Touvron et al., 2023).

Tensor parallel as Megatron: the fused q/k/v and gate/up projections are column-parallel
(each rank owns whole key/value heads and the query heads that read them), o/down
projections are row-parallel. Other submodule names are Hugging Face's
(``self_attn.o_proj``, ``mlp.down_proj``, ``input_layernorm`` ...); hf_loading.py fuses
Hugging Face's separate q/k/v and gate/up weights.
"""

from __future__ import annotations

import math
from typing import Callable, Optional

from libai.layers import Linear, RMSLayerNorm
from libai.utils import distributed as dist
from libai.utils.oneflow_env import flow

from libai_llama.rotary import apply_rotary

nn = flow.nn


class LlamaAttention(nn.Module):
    """Causal self-attention with ``num_key_value_heads`` shared key/value heads.

    Query head ``h`` reads key/value head ``h // (num_attention_heads // num_key_value_heads)``
    (transformers' ``repeat_kv``). The keys and values are not repeated: the queries of one
    group are stacked along the time axis and meet their group's keys in one matmul.
    """

    def __init__(
        self,
        hidden_size: int,
        num_attention_heads: int,
        num_key_value_heads: int,
        head_dim: int,
        *,
        qkv_bias: bool = False,
        output_bias: bool = False,
        attention_dropout_prob: float = 0.0,
        init_method: Callable = nn.init.xavier_normal_,
        output_layer_init_method: Optional[Callable] = None,
        layer_idx: int = 0,
    ) -> None:
        super().__init__()
        if num_attention_heads % num_key_value_heads:
            raise ValueError(
                f"num_attention_heads={num_attention_heads} is not a multiple of "
                f"num_key_value_heads={num_key_value_heads}"
            )
        tp = dist.get_tensor_parallel_size()
        if num_key_value_heads % tp:
            raise ValueError(
                f"num_key_value_heads={num_key_value_heads} cannot be split over "
                f"tensor_parallel_size={tp}: each rank needs whole key/value heads"
            )
        self.num_heads = num_attention_heads
        self.num_kv_heads = num_key_value_heads
        self.groups = num_attention_heads // num_key_value_heads
        self.head_dim = head_dim
        self.scale = 1.0 / math.sqrt(head_dim)
        self.layer_idx = layer_idx
        output_layer_init_method = output_layer_init_method or init_method

        # One projection for q, k and v, laid out per key/value head g as
        # [q of the heads reading g | k_g | v_g]: a column split over the tensor-parallel
        # ranks then gives each rank whole groups (and one matmul is faster than three).
        self.query_key_value = Linear(
            hidden_size,
            (num_attention_heads + 2 * num_key_value_heads) * head_dim,
            bias=qkv_bias,
            parallel="col",
            init_method=init_method,
            layer_idx=layer_idx,
        )
        self.o_proj = Linear(
            num_attention_heads * head_dim,
            hidden_size,
            bias=output_bias,
            parallel="row",
            init_method=output_layer_init_method,
            layer_idx=layer_idx,
        )
        self.dropout = nn.Dropout(p=attention_dropout_prob)

    def _split_qkv(self, qkv):
        """(B, T, KV * (groups + 2) * d) -> q (B, H, T, d), k and v (B, KV, T, d)."""
        bsz, length = qkv.shape[0], qkv.shape[1]
        qkv = qkv.view(bsz, length, self.num_kv_heads, self.groups + 2, self.head_dim)
        query = qkv[:, :, :, : self.groups].reshape(bsz, length, self.num_heads, self.head_dim)
        key = qkv[:, :, :, self.groups]
        value = qkv[:, :, :, self.groups + 1]
        return query.transpose(1, 2), key.transpose(1, 2), value.transpose(1, 2)

    def forward(self, hidden_states, cos, sin, mask, past_key_value=None, use_cache: bool = False):
        """``mask``: additive, broadcastable to ``(B, 1, T, T_past + T)``.

        Returns the output ``(B, T, hidden)`` and, with ``use_cache``, ``(key, value)``
        of shape ``(B, kv_heads, T_past + T, d)``.
        """
        bsz, length = hidden_states.shape[0], hidden_states.shape[1]
        query, key, value = self._split_qkv(self.query_key_value(hidden_states))
        query = apply_rotary(query, cos, sin)
        key = apply_rotary(key, cos, sin)
        if past_key_value is not None:
            past_key, past_value = past_key_value
            placement = key.placement
            key = flow.cat((past_key.to_global(placement=placement), key), dim=2)
            value = flow.cat((past_value.to_global(placement=placement), value), dim=2)
        present = (key, value) if use_cache else None

        kv_len = key.shape[2]
        # (B, H, T, d) -> (B, KV, groups * T, d): a group's queries share one matmul.
        grouped = query.reshape(bsz, self.num_kv_heads, self.groups * length, self.head_dim)
        scores = flow.matmul(grouped, key, transpose_b=True, alpha=self.scale)
        scores = scores.view(bsz, self.num_heads, length, kv_len) + mask
        probs = self.dropout(flow.softmax(scores, dim=-1))
        probs = probs.view(bsz, self.num_kv_heads, self.groups * length, kv_len)
        context = flow.matmul(probs, value)  # (B, KV, groups * T, d)
        context = context.view(bsz, self.num_heads, length, self.head_dim).transpose(1, 2)
        output = self.o_proj(context.flatten(2))
        return output, present


class LlamaMLP(nn.Module):
    """SwiGLU (Shazeer, 2020): ``down(silu(gate(x)) * up(x))``."""

    def __init__(
        self,
        hidden_size: int,
        intermediate_size: int,
        *,
        bias: bool = False,
        init_method: Callable = nn.init.xavier_normal_,
        output_layer_init_method: Optional[Callable] = None,
        layer_idx: int = 0,
    ) -> None:
        super().__init__()
        # gate and up in one projection, rows interleaved [gate_0, up_0, gate_1, ...] so a
        # column split keeps pairs together.
        self.gate_up_proj = Linear(
            hidden_size,
            2 * intermediate_size,
            bias=bias,
            parallel="col",
            init_method=init_method,
            layer_idx=layer_idx,
        )
        self.down_proj = Linear(
            intermediate_size,
            hidden_size,
            bias=bias,
            parallel="row",
            init_method=output_layer_init_method or init_method,
            layer_idx=layer_idx,
        )

    def forward(self, x):
        gate_up = self.gate_up_proj(x)
        gate_up = gate_up.view(*gate_up.shape[:-1], gate_up.shape[-1] // 2, 2)
        return self.down_proj(flow.nn.functional.silu(gate_up[..., 0]) * gate_up[..., 1])


class LlamaDecoderLayer(nn.Module):
    """Pre-norm block ``h + attn(norm(h))`` then ``h + mlp(norm(h))`` on stage ``layer_idx``."""

    def __init__(
        self,
        hidden_size: int,
        intermediate_size: int,
        num_attention_heads: int,
        num_key_value_heads: int,
        head_dim: int,
        *,
        rms_norm_eps: float = 1e-6,
        qkv_bias: bool = False,
        attention_output_bias: bool = False,
        mlp_bias: bool = False,
        attention_dropout_prob: float = 0.0,
        init_method: Callable = nn.init.xavier_normal_,
        output_layer_init_method: Optional[Callable] = None,
        layer_idx: int = 0,
    ) -> None:
        super().__init__()
        self.layer_idx = layer_idx
        self.input_layernorm = RMSLayerNorm(hidden_size, eps=rms_norm_eps, layer_idx=layer_idx)
        self.self_attn = LlamaAttention(
            hidden_size,
            num_attention_heads,
            num_key_value_heads,
            head_dim,
            qkv_bias=qkv_bias,
            output_bias=attention_output_bias,
            attention_dropout_prob=attention_dropout_prob,
            init_method=init_method,
            output_layer_init_method=output_layer_init_method,
            layer_idx=layer_idx,
        )
        self.post_attention_layernorm = RMSLayerNorm(
            hidden_size, eps=rms_norm_eps, layer_idx=layer_idx
        )
        self.mlp = LlamaMLP(
            hidden_size,
            intermediate_size,
            bias=mlp_bias,
            init_method=init_method,
            output_layer_init_method=output_layer_init_method,
            layer_idx=layer_idx,
        )

    def forward(self, hidden_states, cos, sin, mask, past_key_value=None, use_cache: bool = False):
        """Returns ``hidden_states``, and ``(hidden_states, (key, value))`` with ``use_cache``.

        (A block recomputed by activation checkpointing must not return ``None``.)
        """
        # Under pipeline parallelism the inputs arrive from the previous stage.
        placement = dist.get_layer_placement(self.layer_idx)
        hidden_states = hidden_states.to_global(placement=placement)
        cos, sin, mask = (t.to_global(placement=placement) for t in (cos, sin, mask))
        attn_out, present = self.self_attn(
            self.input_layernorm(hidden_states), cos, sin, mask, past_key_value, use_cache
        )
        hidden_states = hidden_states + attn_out
        hidden_states = hidden_states + self.mlp(self.post_attention_layernorm(hidden_states))
        if use_cache:
            return hidden_states, present
        return hidden_states
