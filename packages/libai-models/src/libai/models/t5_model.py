"""T5 (Raffel et al., 2020): an encoder-decoder transformer with a tied LM head.

Two variants share these classes:

* LiBai's default (``position_embedding_type="absolute"``): Megatron-style T5 with
  learned absolute positions, LayerNorm, GELU and biases (``configs/common/models/t5.py``).
* The original / Hugging Face T5 (``position_embedding_type="relative"``,
  ``norm_type="rmsnorm"``, ``mlp_activation="relu"``, ``use_bias=False``,
  ``attention_scale=1.0``, ``scale_decoder_output=True``): bucketed relative position
  bias computed once per stack and shared by its layers. The HF loader sets these.

``T5Model.forward`` returns logits ``(B, T, vocab)``; ``T5ForPreTraining`` training with
``lm_labels`` returns ``{"masked_lm_loss"}``, otherwise ``{"prediction_scores"}``.
"""

from __future__ import annotations

import math
from typing import Optional

import libai.config.cfg_keys as cfg_keys
import numpy as np
from libai.config import configurable
from libai.inference.generation import GenerationMixin
from libai.layers import (
    AttnMaskType,
    Embedding,
    LayerNorm,
    LMLogits,
    ParallelCrossEntropyLoss,
    RMSLayerNorm,
    TransformerLayer,
    VocabEmbedding,
)
from libai.layers._global import as_global
from libai.layers.attention import causal_mask
from libai.models.utils.config_utils import accepts_dict_cfg, as_dictconfig, kwargs_from_cfg
from libai.models.utils.pipeline import set_activation_checkpoints, set_pipeline_stages
from libai.models.utils.weight_init import init_method_normal, scaled_init_method_normal
from libai.utils import distributed as dist
from libai.utils.oneflow_env import flow

nn = flow.nn


def _broadcast_sbp() -> list:
    return dist.get_nd_sbp([flow.sbp.broadcast, flow.sbp.broadcast])


def relative_position_buckets(
    query_length: int,
    key_length: int,
    bidirectional: bool,
    num_buckets: int = 32,
    max_distance: int = 128,
    query_offset: int = 0,
) -> np.ndarray:
    """T5's bucket of ``key - query`` for every (query, key) pair, as int64 ``(q, k)``.

    Half the buckets are exact small distances, the rest log-spaced up to
    ``max_distance``; bidirectional (encoder) buckets also split on the sign.
    Computed in float32 like the reference, so bucket edges agree. Queries sit at
    positions ``query_offset, query_offset + 1, ...`` (incremental decoding).
    """
    context = np.arange(query_offset, query_offset + query_length, dtype=np.int64)[:, None]
    memory = np.arange(key_length, dtype=np.int64)[None, :]
    relative = memory - context
    buckets = np.zeros_like(relative)
    if bidirectional:
        num_buckets //= 2
        buckets += (relative > 0).astype(np.int64) * num_buckets
        relative = np.abs(relative)
    else:
        relative = -np.minimum(relative, 0)
    max_exact = num_buckets // 2
    is_small = relative < max_exact
    with np.errstate(divide="ignore"):
        scaled = (
            np.log(relative.astype(np.float32) / np.float32(max_exact))
            / np.float32(math.log(max_distance / max_exact))
            * np.float32(num_buckets - max_exact)
        )
    large = max_exact + np.where(is_small, 0, scaled).astype(np.int64)
    large = np.minimum(large, num_buckets - 1)
    return buckets + np.where(is_small, relative, large)


class T5Embedding(nn.Module):
    """Shared word embedding (+ absolute positions in LiBai's variant), then dropout."""

    def __init__(
        self,
        vocab_size: int,
        hidden_size: int,
        max_sequence_length: int,
        embedding_dropout_prob: float,
        init_method=nn.init.xavier_normal_,
        amp_enabled: bool = False,
        absolute_positions: bool = True,
    ) -> None:
        super().__init__()
        self.word_embeddings = VocabEmbedding(
            vocab_size, hidden_size, init_method=init_method, amp_enabled=amp_enabled
        )
        self.position_embeddings = (
            Embedding(max_sequence_length, hidden_size, init_method=init_method)
            if absolute_positions
            else None
        )
        self.max_sequence_length = max_sequence_length
        self.embedding_dropout = nn.Dropout(embedding_dropout_prob)

    def forward(self, input_ids, past_length: int = 0):
        input_ids = as_global(input_ids, dist.get_layer_placement(0))
        embeds = self.word_embeddings(input_ids)
        if self.position_embeddings is not None:
            seq_length = input_ids.shape[1]
            if past_length + seq_length > self.max_sequence_length:
                raise ValueError(
                    f"sequence length {past_length + seq_length} exceeds "
                    f"max_position_embeddings={self.max_sequence_length}"
                )
            position_ids = flow.arange(
                past_length,
                past_length + seq_length,
                dtype=flow.long,
                placement=input_ids.placement,
                sbp=_broadcast_sbp(),
            ).unsqueeze(0)
            embeds = embeds + self.position_embeddings(position_ids)
        return self.embedding_dropout(embeds)


class RelativePositionBias(nn.Module):
    """Learned per-head bias for each relative-position bucket: -> ``(1, heads, q, k)``."""

    def __init__(
        self,
        num_heads: int,
        bidirectional: bool,
        num_buckets: int = 32,
        max_distance: int = 128,
        init_method=nn.init.xavier_normal_,
        *,
        layer_idx: int = 0,
    ) -> None:
        super().__init__()
        self.bidirectional = bidirectional
        self.num_buckets = num_buckets
        self.max_distance = max_distance
        self.layer_idx = layer_idx
        self.relative_attention_bias = Embedding(
            num_buckets, num_heads, init_method=init_method, layer_idx=layer_idx
        )

    def forward(self, query_length: int, key_length: int, query_offset: int = 0):
        buckets = relative_position_buckets(
            query_length,
            key_length,
            self.bidirectional,
            self.num_buckets,
            self.max_distance,
            query_offset,
        )
        ids = flow.tensor(
            buckets,
            dtype=flow.long,
            placement=dist.get_layer_placement(self.layer_idx),
            sbp=_broadcast_sbp(),
        )
        values = self.relative_attention_bias(ids)  # (q, k, heads)
        return values.permute(2, 0, 1).unsqueeze(0)


def _extend_mask(mask, placement):
    """(B, S) -> (B, 1, 1, S); (B, Q, S) -> (B, 1, Q, S); 4D passes through."""
    mask = as_global(mask, placement)
    if mask.ndim == 2:
        return mask.unsqueeze(1).unsqueeze(1)
    if mask.ndim == 3:
        return mask.unsqueeze(1)
    return mask


class T5Model(GenerationMixin, nn.Module):
    """T5 encoder-decoder: ``forward(encoder_input_ids, decoder_input_ids,
    encoder_attn_mask, decoder_attn_mask, encoder_decoder_attn_mask)`` -> logits.

    Masks are 1/0 (1 = attend), of shape (B, S) (key padding), (B, Q, S) (LiBai's
    datasets) or (B, 1, Q, S). The decoder's self-attention is always causal.
    Args are LiBai's; the keyword additions select the Hugging Face variant.
    It generates (``generate``) from ``decoder_start_token_id``, with a KV cache that
    holds each decoder layer's self-attention keys/values and cross-attention ones.
    """

    # The Hugging Face loader (libai.inference pipelines, mode="huggingface").
    hf_loader = "libai.models.utils.model_loader:T5LoaderHuggerFace"

    is_encoder_decoder = True

    @accepts_dict_cfg
    @configurable
    def __init__(
        self,
        vocab_size: int,
        hidden_size: int,
        hidden_layers: int,
        num_attention_heads: int,
        intermediate_size: int,
        embedding_dropout_prob: float,
        hidden_dropout_prob: float,
        attention_probs_dropout_prob: float,
        max_position_embeddings: int,
        initializer_range: float = 0.02,
        layernorm_eps: float = 1e-12,
        bias_gelu_fusion: bool = True,
        bias_dropout_fusion: bool = True,
        scale_mask_softmax_fusion: bool = True,
        apply_query_key_layer_scaling: bool = True,
        apply_residual_post_layernorm: bool = False,
        amp_enabled: bool = False,
        *,
        decoder_layers: Optional[int] = None,
        position_embedding_type: str = "absolute",
        relative_attention_num_buckets: int = 32,
        relative_attention_max_distance: int = 128,
        norm_type: str = "layernorm",
        mlp_activation: str = "gelu",
        use_bias: bool = True,
        attention_scale: Optional[float] = None,
        scale_decoder_output: bool = False,
        head_size: Optional[int] = None,
    ) -> None:
        super().__init__()
        if position_embedding_type not in ("absolute", "relative"):
            raise ValueError(
                f"position_embedding_type={position_embedding_type!r}: use 'absolute' or 'relative'"
            )
        decoder_layers = hidden_layers if decoder_layers is None else decoder_layers
        self.hidden_size = hidden_size
        self.scale_decoder_output = scale_decoder_output
        init_method = init_method_normal(initializer_range)
        output_init = scaled_init_method_normal(initializer_range, hidden_layers)
        relative = position_embedding_type == "relative"

        self.embedding = T5Embedding(
            vocab_size,
            hidden_size,
            max_position_embeddings,
            embedding_dropout_prob,
            init_method=init_method,
            amp_enabled=amp_enabled,
            absolute_positions=not relative,
        )

        def layer(idx: int, is_decoder: bool) -> TransformerLayer:
            return TransformerLayer(
                hidden_size,
                intermediate_size,
                num_attention_heads,
                is_decoder=is_decoder,
                attention_dropout_prob=attention_probs_dropout_prob,
                output_dropout_prob=hidden_dropout_prob,
                layernorm_epsilon=layernorm_eps,
                init_method=init_method,
                output_layer_init_method=output_init,
                bias_gelu_fusion=bias_gelu_fusion,
                bias_dropout_fusion=bias_dropout_fusion,
                scale_mask_softmax_fusion=scale_mask_softmax_fusion,
                apply_query_key_layer_scaling=apply_query_key_layer_scaling,
                apply_residual_post_layernorm=apply_residual_post_layernorm,
                attn_mask_type=AttnMaskType.padding,
                activation=mlp_activation,
                bias=use_bias,
                norm_type=norm_type,
                attention_scale=attention_scale,
                head_size=head_size,
                layer_idx=idx,
            )

        def final_norm(idx: int):
            if norm_type == "rmsnorm":
                return RMSLayerNorm(hidden_size, eps=layernorm_eps, layer_idx=idx)
            return LayerNorm(hidden_size, eps=layernorm_eps, layer_idx=idx)

        self.encoder = nn.Module()
        self.encoder.layers = nn.ModuleList([layer(i, False) for i in range(hidden_layers)])
        self.encoder.final_layernorm = final_norm(hidden_layers - 1)
        self.decoder = nn.Module()
        self.decoder.layers = nn.ModuleList(
            [layer(hidden_layers + i, True) for i in range(decoder_layers)]
        )
        self.decoder.final_layernorm = final_norm(-1)
        if relative:
            self.encoder_position_bias = RelativePositionBias(
                num_attention_heads,
                True,
                relative_attention_num_buckets,
                relative_attention_max_distance,
                init_method,
                layer_idx=0,
            )
            self.decoder_position_bias = RelativePositionBias(
                num_attention_heads,
                False,
                relative_attention_num_buckets,
                relative_attention_max_distance,
                init_method,
                layer_idx=hidden_layers,
            )
        else:
            self.encoder_position_bias = None
            self.decoder_position_bias = None
        self.lm_head = LMLogits(vocab_size, bias=use_bias)

    @classmethod
    def from_config(cls, cfg):
        return kwargs_from_cfg(cls, as_dictconfig(cfg))

    def encode(self, encoder_input_ids, encoder_attn_mask):
        """Run the encoder: ``(B, S)`` ids -> ``(B, S, hidden)`` states."""
        placement = dist.get_layer_placement(0)
        hidden_states = self.embedding(encoder_input_ids)
        mask = _extend_mask(encoder_attn_mask, placement)
        seq = hidden_states.shape[1]
        bias = self.encoder_position_bias(seq, seq) if self.encoder_position_bias else None
        for layer in self.encoder.layers:
            hidden_states = layer(hidden_states, mask, position_bias=bias)
        return self.encoder.final_layernorm(hidden_states)

    def decode(
        self,
        decoder_input_ids,
        encoder_states,
        decoder_attn_mask,
        enc_dec_attn_mask,
        past_key_values=None,
        use_cache: bool = False,
    ):
        """Run the decoder (causal) against ``encoder_states``: -> ``(B, T, hidden)``.

        With ``use_cache`` also return, per decoder layer, ``(self k, self v, cross k,
        cross v)``; given back as ``past_key_values`` they let the next call run only the
        new tokens (the cross keys/values are computed once, from the encoder states).
        """
        placement = dist.get_layer_placement(0)
        past_length = 0 if past_key_values is None else past_key_values[0][0].shape[2]
        hidden_states = self.embedding(decoder_input_ids, past_length)
        tgt = hidden_states.shape[1]
        src = past_length + tgt
        if decoder_attn_mask is None:
            self_mask = causal_mask(tgt, src, hidden_states)
        else:
            self_mask = _extend_mask(decoder_attn_mask, placement).to(hidden_states.dtype)
            self_mask = self_mask * causal_mask(tgt, src, self_mask)
        cross_mask = (
            _extend_mask(enc_dec_attn_mask, placement) if enc_dec_attn_mask is not None else None
        )
        bias = (
            self.decoder_position_bias(tgt, src, query_offset=past_length)
            if self.decoder_position_bias
            else None
        )
        presents = []
        for i, layer in enumerate(self.decoder.layers):
            out = layer(
                hidden_states,
                self_mask,
                encoder_states=encoder_states,
                encoder_attention_mask=cross_mask,
                past_key_value=None if past_key_values is None else past_key_values[i],
                use_cache=use_cache,
                position_bias=bias,
            )
            if use_cache:
                hidden_states, present = out
                presents.append(tuple(present))
            else:
                hidden_states = out
        hidden_states = self.decoder.final_layernorm(hidden_states)
        if use_cache:
            return hidden_states, tuple(presents)
        return hidden_states

    def logits(self, decoder_states):
        """The tied LM head on decoder states (rescaled first in the original T5)."""
        if self.scale_decoder_output:
            # Original T5 with a tied head rescales before the projection.
            decoder_states = decoder_states * (self.hidden_size**-0.5)
        return self.lm_head(decoder_states, self.embedding.word_embeddings.weight)

    def generation_encode(self, input_ids, attention_mask):
        """The encoder's states for ``generate`` (run once per prompt batch)."""
        return self.encode(input_ids, attention_mask)

    def generation_forward(
        self,
        input_ids,
        *,
        attention_mask,
        position_ids,
        past_key_values,
        use_cache,
        encoder_hidden_states=None,
        encoder_attention_mask=None,
    ):
        """One decoder step (see :class:`libai.inference.generation.GenerationMixin`)."""
        out = self.decode(
            input_ids,
            encoder_hidden_states,
            attention_mask,
            encoder_attention_mask,
            past_key_values=past_key_values,
            use_cache=use_cache,
        )
        states, presents = out if use_cache else (out, None)
        return self.logits(states), presents

    def forward(
        self,
        encoder_input_ids,
        decoder_input_ids,
        encoder_attn_mask=None,
        decoder_attn_mask=None,
        encoder_decoder_attn_mask=None,
        use_cache: bool = False,
    ):
        if use_cache:
            raise NotImplementedError(
                "T5Model(use_cache=True) (incremental decoding) is not implemented; "
                "call it with the whole decoder input"
            )
        if encoder_attn_mask is None:
            encoder_attn_mask = flow.ones_like(
                as_global(encoder_input_ids, dist.get_layer_placement(0))
            )
        if encoder_decoder_attn_mask is None:
            encoder_decoder_attn_mask = encoder_attn_mask
        encoder_states = self.encode(encoder_input_ids, encoder_attn_mask)
        decoder_states = self.decode(
            decoder_input_ids, encoder_states, decoder_attn_mask, encoder_decoder_attn_mask
        )
        return self.logits(decoder_states)


class T5Loss(nn.Module):
    """Token cross entropy averaged over ``loss_mask``: ``{"masked_lm_loss": scalar}``."""

    def __init__(self) -> None:
        super().__init__()
        self.lm_loss = ParallelCrossEntropyLoss()

    def forward(self, logits, lm_labels, loss_mask=None):
        placement = logits.placement
        lm_labels = as_global(lm_labels, placement)
        if loss_mask is None:
            loss_mask = (lm_labels >= 0).to(flow.float32)
        loss_mask = as_global(loss_mask, placement).to(flow.float32)
        per_token = self.lm_loss(logits, lm_labels)
        denominator = loss_mask.sum().to_global(sbp=_broadcast_sbp()) + 1e-7
        loss = flow.sum(per_token.view(-1) * loss_mask.view(-1)) / denominator
        loss = loss.to_global(sbp=dist.get_nd_sbp([flow.sbp.partial_sum, flow.sbp.broadcast]))
        return {"masked_lm_loss": loss}


class T5ForPreTraining(GenerationMixin, nn.Module):
    """T5 with its span-corruption loss (LiBai's ``T5ForPreTraining``).

    ``generate`` reads its defaults (``decoder_start_token_id``, ``eos_token_id``...)
    from ``cfg``.
    """

    # The Hugging Face loader (libai.inference pipelines, mode="huggingface").
    hf_loader = "libai.models.utils.model_loader:T5LoaderHuggerFace"

    is_encoder_decoder = True

    def __init__(self, cfg) -> None:
        super().__init__()
        self.cfg = as_dictconfig(cfg)
        self.t5_model = T5Model(cfg=self.cfg)
        self.loss_func = T5Loss()

    def generation_encode(self, input_ids, attention_mask):
        return self.t5_model.generation_encode(input_ids, attention_mask)

    def generation_forward(self, input_ids, **kwargs):
        return self.t5_model.generation_forward(input_ids, **kwargs)

    def forward(
        self,
        encoder_input_ids,
        decoder_input_ids,
        encoder_attn_mask=None,
        decoder_attn_mask=None,
        encoder_decoder_attn_mask=None,
        lm_labels=None,
        loss_mask=None,
    ):
        logits = self.t5_model(
            encoder_input_ids,
            decoder_input_ids,
            encoder_attn_mask,
            decoder_attn_mask,
            encoder_decoder_attn_mask,
        )
        if lm_labels is not None and self.training:
            return self.loss_func(logits, lm_labels, loss_mask)
        return {"prediction_scores": logits}

    @staticmethod
    def set_pipeline_stage_id(model) -> None:
        def layer_of(module):
            if isinstance(module, T5Embedding):
                return 0
            if isinstance(module, (TransformerLayer, RelativePositionBias)):
                return module.layer_idx
            if isinstance(module, (LMLogits, T5Loss)):
                return -1
            return None

        set_pipeline_stages(model, layer_of)

    @staticmethod
    def set_activation_checkpoint(model) -> None:
        set_activation_checkpoints(model, TransformerLayer)


# The keys each model reads from LiBai's cfg= dict: `libai-engine check` reports any other.
# LiBai's t5 cfg also carries add_pooling_layer and num_tokentypes (unused by T5).
cfg_keys.reads_cfg(
    extra=cfg_keys.ENGINE_CFG_KEYS
    + cfg_keys.GENERATION_CFG_KEYS
    + ("add_pooling_layer", "num_tokentypes")
)(T5Model)
cfg_keys.reads_cfg(also=(T5Model,))(T5ForPreTraining)
