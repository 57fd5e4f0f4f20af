"""``TransformerLayer``: one encoder or decoder block, pre-LN (Megatron) or post-LN (BERT).

Input and output are ``(B, S, hidden)`` with sbp ``[S(0), B]``. The block moves its
input to its own placement first, which is all pipeline parallelism needs in eager
mode (in a graph, the model's ``set_pipeline_stage_id`` assigns the stages).

With ``apply_residual_post_layernorm=True`` the residual is taken *after* the layer
norm. Chained with the previous block's final norm (or the embedding norm) this is the
original BERT ordering, which is how Hugging Face BERT checkpoints map onto this layer.
"""

from __future__ import annotations

from typing import Callable, Optional

from libai.layers.attention import AttnMaskType, MultiheadAttention
from libai.layers.droppath import DropPath
from libai.layers.layer_norm import LayerNorm, RMSLayerNorm
from libai.layers.mlp import MLP
from libai.utils import distributed as dist
from libai.utils.oneflow_env import flow

nn = flow.nn


class TransformerLayer(nn.Module):
    """A transformer block (LiBai's argument names, plus a few for other model families).

    Args (LiBai's): hidden_size, ffn_hidden_size, num_attention_heads, is_decoder,
        attention_dropout_prob, output_dropout_prob, drop_path_prob, layernorm_epsilon,
        init_method, output_layer_init_method, bias_gelu_fusion, bias_dropout_fusion,
        scale_mask_softmax_fusion, apply_query_key_layer_scaling,
        apply_residual_post_layernorm, attn_mask_type, layer_idx.
    Keyword-only extras:
        activation: MLP activation (``"gelu"``, ``"gelu_tanh"``, ``"relu"``).
        bias: biases in attention and MLP projections.
        norm_type: ``"layernorm"`` or ``"rmsnorm"`` (T5).
        attention_scale: score scale instead of ``1/sqrt(head_size)``.
        head_size: per-head width when it is not ``hidden_size / num_attention_heads`` (T5).
    """

    def __init__(
        self,
        hidden_size: int,
        ffn_hidden_size: int,
        num_attention_heads: int,
        is_decoder: bool = False,
        attention_dropout_prob: float = 0.0,
        output_dropout_prob: float = 0.0,
        drop_path_prob: float = 0.0,
        layernorm_epsilon: float = 1e-5,
        init_method: Callable = nn.init.xavier_normal_,
        output_layer_init_method: Optional[Callable] = None,
        bias_gelu_fusion: bool = False,
        bias_dropout_fusion: bool = False,
        scale_mask_softmax_fusion: bool = False,
        apply_query_key_layer_scaling: bool = False,
        apply_residual_post_layernorm: bool = False,
        attn_mask_type: AttnMaskType = AttnMaskType.padding,
        *,
        activation: str = "gelu",
        bias: bool = True,
        norm_type: str = "layernorm",
        attention_scale: Optional[float] = None,
        head_size: Optional[int] = None,
        layer_idx: int = 0,
    ) -> None:
        super().__init__()
        if norm_type not in ("layernorm", "rmsnorm"):
            raise ValueError(f"norm_type={norm_type!r}: use 'layernorm' or 'rmsnorm'")
        self.hidden_size = hidden_size
        self.is_decoder = is_decoder
        self.layer_idx = layer_idx
        self.apply_residual_post_layernorm = apply_residual_post_layernorm
        output_layer_init_method = output_layer_init_method or init_method

        def norm():
            if norm_type == "rmsnorm":
                return RMSLayerNorm(hidden_size, eps=layernorm_epsilon, layer_idx=layer_idx)
            return LayerNorm(hidden_size, eps=layernorm_epsilon, layer_idx=layer_idx)

        def attention(cross: bool, mask_type: AttnMaskType):
            return MultiheadAttention(
                hidden_size,
                num_attention_heads,
                is_cross_attention=cross,
                attention_dropout_prob=attention_dropout_prob,
                output_dropout_prob=output_dropout_prob,
                init_method=init_method,
                output_layer_init_method=output_layer_init_method,
                bias_dropout_fusion=bias_dropout_fusion,
                scale_mask_softmax_fusion=scale_mask_softmax_fusion,
                apply_query_key_layer_scaling=apply_query_key_layer_scaling,
                attn_mask_type=mask_type,
                bias=bias,
                scale=attention_scale,
                head_size=head_size,
                layer_idx=layer_idx,
            )

        self.drop_path = DropPath(drop_path_prob) if drop_path_prob > 0.0 else nn.Identity()
        self.input_layernorm = norm()
        self.self_attention = attention(False, attn_mask_type)
        self.post_attention_layernorm = norm()
        if is_decoder:
            self.cross_attention = attention(True, AttnMaskType.padding)
            self.post_cross_attention_layernorm = norm()
        self.mlp = MLP(
            hidden_size,
            ffn_hidden_size,
            output_dropout_prob,
            init_method,
            output_layer_init_method=output_layer_init_method,
            bias_gelu_fusion=bias_gelu_fusion,
            bias_dropout_fusion=bias_dropout_fusion,
            activation=activation,
            bias=bias,
            layer_idx=layer_idx,
        )

    def forward(
        self,
        hidden_states,
        attention_mask=None,
        encoder_states=None,
        encoder_attention_mask=None,
        past_key_value=None,
        use_cache: bool = False,
        position_bias=None,
        encoder_position_bias=None,
    ):
        """Run the block; with ``use_cache`` return ``(output, presents)``.

        For a decoder ``past_key_value`` holds four tensors (self k, v, cross k, v).
        ``position_bias`` / ``encoder_position_bias`` are added to the self- /
        cross-attention scores (T5's relative position bias).
        """
        placement = dist.get_layer_placement(self.layer_idx)
        hidden_states = hidden_states.to_global(placement=placement)
        if attention_mask is not None:
            attention_mask = attention_mask.to_global(placement=placement)

        self_past, cross_past = None, None
        if past_key_value is not None:
            if self.is_decoder:
                if len(past_key_value) != 4:
                    raise ValueError(
                        "a decoder layer's past_key_value holds 4 tensors "
                        f"(self k, v, cross k, v), got {len(past_key_value)}"
                    )
                self_past, cross_past = past_key_value[:2], past_key_value[2:]
            else:
                self_past = past_key_value

        normed = self.input_layernorm(hidden_states)
        attn = self.self_attention(
            normed,
            attention_mask=attention_mask,
            past_key_value=self_past,
            use_cache=use_cache,
            position_bias=position_bias,
        )
        presents = None
        if use_cache:
            attn, presents = attn
        residual = normed if self.apply_residual_post_layernorm else hidden_states
        hidden_states = residual + self.drop_path(attn)
        normed = self.post_attention_layernorm(hidden_states)

        if self.is_decoder:
            attn = self.cross_attention(
                normed,
                encoder_states,
                attention_mask=encoder_attention_mask,
                past_key_value=cross_past,
                use_cache=use_cache,
                position_bias=encoder_position_bias,
            )
            if use_cache:
                attn, cross_presents = attn
                presents = presents + cross_presents
            residual = normed if self.apply_residual_post_layernorm else hidden_states
            hidden_states = residual + self.drop_path(attn)
            normed = self.post_cross_attention_layernorm(hidden_states)

        mlp_out = self.mlp(normed)
        residual = normed if self.apply_residual_post_layernorm else hidden_states
        output = residual + self.drop_path(mlp_out)
        if use_cache:
            return output, presents
        return output
