"""GPT (Radford et al., 2019): a decoder-only transformer language model.

Layout follows LiBai: ``GPTModel`` = ``GPTEmbedding`` -> ``Transformer`` (pre-LN
causal ``TransformerLayer``s + final LayerNorm) -> ``LMLogits`` tied to the token
embedding. ``GPTForPreTraining`` adds the loss: training returns ``{"lm_loss": ...}``,
evaluation ``{"prediction_scores": logits}``.

The MLP uses the tanh approximation of GELU by default (``activation="gelu_tanh"``),
the one GPT-2 was trained with, so Hugging Face GPT-2 checkpoints agree exactly.
"""

from __future__ import annotations

import libai.config.cfg_keys as cfg_keys
from libai.config import configurable
from libai.inference.generation import GenerationMixin
from libai.layers import (
    AttnMaskType,
    Embedding,
    LayerNorm,
    LMLogits,
    ParallelCrossEntropyLoss,
    TransformerLayer,
    VocabEmbedding,
)
from libai.layers.embedding import to_global_ids
from libai.models.utils.config_utils import accepts_dict_cfg, as_dictconfig, kwargs_from_cfg
from libai.models.utils.pipeline import set_activation_checkpoints, set_pipeline_stages
from libai.models.utils.weight_init import init_method_normal, scaled_init_method_normal
from libai.utils import distributed as dist
from libai.utils.oneflow_env import flow

nn = flow.nn

# LiBai's older configs call hidden_layers "num_layers".
_CFG_ALIASES = {"num_layers": "hidden_layers"}


class GPTEmbedding(nn.Module):
    """Token + learned absolute position embeddings, then dropout."""

    def __init__(
        self,
        vocab_size: int,
        hidden_size: int,
        max_seq_length: int,
        init_method=nn.init.xavier_normal_,
        embedding_dropout_prob: float = 0.0,
        amp_enabled: bool = False,
    ) -> None:
        super().__init__()
        self.token_embeddings = VocabEmbedding(
            vocab_size, hidden_size, init_method=init_method, amp_enabled=amp_enabled
        )
        self.position_embeddings = Embedding(
            max_seq_length, hidden_size, init_method=init_method, amp_enabled=amp_enabled
        )
        self.dropout = nn.Dropout(embedding_dropout_prob)
        self.max_seq_length = max_seq_length

    def forward(self, input_ids, past_length: int = 0, position_ids=None):
        """Embed ``input_ids``; positions are ``past_length, past_length + 1, ...`` unless
        ``position_ids`` (``(B, S)``, left-padded generation) are given."""
        input_ids = to_global_ids(input_ids, 0)
        seq_length = input_ids.shape[1]
        if past_length + seq_length > self.max_seq_length:
            raise ValueError(
                f"sequence length {past_length + seq_length} exceeds max_seq_length="
                f"{self.max_seq_length} (cfg.max_seq_length)"
            )
        if position_ids is None:
            position_ids = flow.arange(
                past_length,
                past_length + seq_length,
                dtype=flow.long,
                placement=input_ids.placement,
                sbp=dist.get_nd_sbp([flow.sbp.broadcast, flow.sbp.broadcast]),
            ).unsqueeze(0)
        else:
            position_ids = to_global_ids(position_ids, 0)
        embeds = self.token_embeddings(input_ids) + self.position_embeddings(position_ids)
        return self.dropout(embeds)


class Transformer(nn.Module):
    """The stack of causal ``TransformerLayer``s and the final LayerNorm (``layernorm_f``)."""

    def __init__(
        self,
        hidden_layers: int,
        hidden_size: int,
        ffn_hidden_size: int,
        num_attention_heads: int,
        attention_dropout_prob: float = 0.0,
        output_dropout_prob: float = 0.0,
        layernorm_epsilon: float = 1e-5,
        init_method=nn.init.xavier_normal_,
        output_layer_init_method=None,
        bias_gelu_fusion: bool = False,
        bias_dropout_fusion: bool = False,
        scale_mask_softmax_fusion: bool = False,
        apply_query_key_layer_scaling: bool = False,
        apply_residual_post_layernorm: bool = False,
        activation: str = "gelu_tanh",
    ) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            [
                TransformerLayer(
                    hidden_size,
                    ffn_hidden_size,
                    num_attention_heads,
                    attention_dropout_prob=attention_dropout_prob,
                    output_dropout_prob=output_dropout_prob,
                    layernorm_epsilon=layernorm_epsilon,
                    init_method=init_method,
                    output_layer_init_method=output_layer_init_method,
                    bias_gelu_fusion=bias_gelu_fusion,
                    bias_dropout_fusion=bias_dropout_fusion,
                    scale_mask_softmax_fusion=scale_mask_softmax_fusion,
                    apply_query_key_layer_scaling=apply_query_key_layer_scaling,
                    apply_residual_post_layernorm=apply_residual_post_layernorm,
                    attn_mask_type=AttnMaskType.causal,
                    activation=activation,
                    layer_idx=i,
                )
                for i in range(hidden_layers)
            ]
        )
        self.layernorm_f = LayerNorm(hidden_size, eps=layernorm_epsilon, layer_idx=-1)

    def forward(self, hidden_states, attention_mask=None, past_key_values=None, use_cache=False):
        """Run the layers; with ``use_cache`` also return each layer's ``(key, value)``.

        ``attention_mask`` (1 = attend) broadcasts to ``(B, 1, tgt, src)``; the causal
        mask is added by the layers. ``past_key_values``: one ``(key, value)`` per layer.
        """
        presents = []
        for i, layer in enumerate(self.layers):
            past = None if past_key_values is None else past_key_values[i]
            if use_cache:
                hidden_states, present = layer(
                    hidden_states, attention_mask, past_key_value=past, use_cache=True
                )
                presents.append(present)
            else:
                hidden_states = layer(hidden_states, attention_mask, past_key_value=past)
        hidden_states = self.layernorm_f(hidden_states)
        if use_cache:
            return hidden_states, tuple(presents)
        return hidden_states


class GPTModel(GenerationMixin, nn.Module):
    """GPT language model: input ids ``(B, S)`` -> logits ``(B, S, vocab_size)``.

    Args are LiBai's (``configs/common/models/gpt.py``); ``activation`` is an addition
    (``"gelu_tanh"`` as GPT-2, or ``"gelu"`` as LiBai's own GPT).
    """

    # The Hugging Face loader (libai.inference pipelines, mode="huggingface").
    hf_loader = "libai.models.utils.model_loader:GPT2LoaderHuggerFace"

    @accepts_dict_cfg
    @configurable
    def __init__(
        self,
        hidden_layers: int,
        vocab_size: int,
        hidden_size: int,
        ffn_hidden_size: int,
        num_attention_heads: int,
        max_seq_length: int = 1024,
        embedding_dropout_prob: float = 0.0,
        attention_dropout_prob: float = 0.0,
        output_dropout_prob: float = 0.0,
        layernorm_epsilon: float = 1e-5,
        initializer_range: float = 0.02,
        use_scaled_init_for_output_weights: bool = True,
        bias_gelu_fusion: bool = False,
        bias_dropout_fusion: bool = False,
        scale_mask_softmax_fusion: bool = False,
        apply_query_key_layer_scaling: bool = False,
        apply_residual_post_layernorm: bool = False,
        amp_enabled: bool = False,
        activation: str = "gelu_tanh",
    ) -> None:
        super().__init__()
        init_method = init_method_normal(initializer_range)
        output_init = (
            scaled_init_method_normal(initializer_range, hidden_layers)
            if use_scaled_init_for_output_weights
            else init_method
        )
        self.embeddings = GPTEmbedding(
            vocab_size,
            hidden_size,
            max_seq_length,
            init_method=init_method,
            embedding_dropout_prob=embedding_dropout_prob,
            amp_enabled=amp_enabled,
        )
        self.transformer = Transformer(
            hidden_layers,
            hidden_size,
            ffn_hidden_size,
            num_attention_heads,
            attention_dropout_prob=attention_dropout_prob,
            output_dropout_prob=output_dropout_prob,
            layernorm_epsilon=layernorm_epsilon,
            init_method=init_method,
            output_layer_init_method=output_init,
            bias_gelu_fusion=bias_gelu_fusion,
            bias_dropout_fusion=bias_dropout_fusion,
            scale_mask_softmax_fusion=scale_mask_softmax_fusion,
            apply_query_key_layer_scaling=apply_query_key_layer_scaling,
            apply_residual_post_layernorm=apply_residual_post_layernorm,
            activation=activation,
        )
        self.lm_head = LMLogits(vocab_size, bias=False)

    @classmethod
    def from_config(cls, cfg):
        cfg = as_dictconfig(cfg)
        cfg = {_CFG_ALIASES.get(k, k): v for k, v in cfg.items()}
        return kwargs_from_cfg(cls, cfg)

    def forward(
        self,
        input_ids,
        attention_mask=None,
        position_ids=None,
        past_key_values=None,
        use_cache: bool = False,
    ):
        """Logits ``(B, S, vocab)``; with ``use_cache`` also the layers' ``(key, value)``.

        ``attention_mask`` is ``(B, past + S)`` with 0 at (left) padding;
        ``past_key_values`` holds the keys/values of the previous tokens (generation).
        """
        past_length = 0 if past_key_values is None else past_key_values[0][0].shape[2]
        hidden_states = self.embeddings(input_ids, past_length, position_ids)
        if attention_mask is not None:
            attention_mask = to_global_ids(attention_mask, 0)
            if attention_mask.ndim == 2:
                attention_mask = attention_mask.unsqueeze(1).unsqueeze(1)
        out = self.transformer(hidden_states, attention_mask, past_key_values, use_cache)
        hidden_states, presents = out if use_cache else (out, None)
        logits = self.lm_head(hidden_states, self.embeddings.token_embeddings.weight)
        if use_cache:
            return logits, presents
        return logits

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
        """One decoding step (see :class:`libai.inference.generation.GenerationMixin`)."""
        out = self(input_ids, attention_mask, position_ids, past_key_values, use_cache)
        return out if use_cache else (out, None)

    def generation_max_positions(self) -> int:
        return self.embeddings.max_seq_length


class GPTLoss(nn.Module):
    """Mean token cross entropy: ``{"lm_loss": scalar}``."""

    def __init__(self) -> None:
        super().__init__()
        self.lm_loss = ParallelCrossEntropyLoss()

    def forward(self, logits, labels):
        return {"lm_loss": self.lm_loss(logits, labels).mean()}


class GPTForPreTraining(GenerationMixin, nn.Module):
    """GPT with its language-modelling loss.

    ``forward(input_ids, labels=None)``: in training mode with labels it returns
    ``{"lm_loss": loss}``; otherwise ``{"prediction_scores": logits}``.
    ``generate`` reads its defaults (``eos_token_id``, ``max_length``...) from ``cfg``.
    """

    # The Hugging Face loader (libai.inference pipelines, mode="huggingface").
    hf_loader = "libai.models.utils.model_loader:GPT2LoaderHuggerFace"

    def __init__(self, cfg) -> None:
        super().__init__()
        self.cfg = as_dictconfig(cfg)
        self.GPT_model = GPTModel(cfg=self.cfg)
        self.loss_func = GPTLoss()

    def generation_forward(self, input_ids, **kwargs):
        """One decoding step of the wrapped :class:`GPTModel`."""
        return self.GPT_model.generation_forward(input_ids, **kwargs)

    def generation_max_positions(self) -> int:
        return self.GPT_model.generation_max_positions()

    def forward(self, input_ids, labels=None):
        logits = self.GPT_model(input_ids)
        if labels is not None and self.training:
            return self.loss_func(logits, labels)
        return {"prediction_scores": logits}

    @staticmethod
    def set_pipeline_stage_id(model) -> None:
        """Put the embedding on the first stage, each layer on its stage, the head last."""

        def layer_of(module):
            if isinstance(module, GPTEmbedding):
                return 0
            if isinstance(module, TransformerLayer):
                return module.layer_idx
            if isinstance(module, (LMLogits, GPTLoss)):
                return -1
            return None

        set_pipeline_stages(model, layer_of)
        model.GPT_model.transformer.layernorm_f.to(flow.nn.graph.GraphModule).set_stage(
            dist.get_layer_stage_id(-1), dist.get_layer_placement(-1)
        )

    @staticmethod
    def set_activation_checkpoint(model) -> None:
        set_activation_checkpoints(model, TransformerLayer)


# The keys each model reads from LiBai's cfg= dict: `libai-engine check` reports any other.
cfg_keys.reads_cfg(
    aliases=_CFG_ALIASES, extra=cfg_keys.ENGINE_CFG_KEYS + cfg_keys.GENERATION_CFG_KEYS
)(GPTModel)
cfg_keys.reads_cfg(also=(GPTModel,))(GPTForPreTraining)
