"""``LlamaForCausalLM``: Llama 2/3, Mistral and Qwen2 as one LiBai model.

Layout (names are Hugging Face's, so their checkpoints load name for name)::

    model.embed_tokens (vocab-parallel) -> model.layers[i] (LlamaDecoderLayer, stage of i)
    -> model.norm (RMSNorm) -> lm_head (column-parallel over the vocabulary, or the
    embedding table itself when tie_word_embeddings) -> ParallelCrossEntropyLoss

``forward(input_ids, attention_mask=None, labels=None)`` follows LiBai: in training with
``labels`` it returns ``{"lm_loss": mean loss over the labels >= 0}``, otherwise
``{"logits": (B, T, vocab)}``. ``labels`` are aligned with ``input_ids`` (position ``t``
predicts ``labels[t]``; LiBai's data sets shift them) and negative labels are ignored.

Generation goes through ``libai.inference``'s ``GenerationMixin`` (``model.generate``),
which calls :meth:`LlamaForCausalLM.generation_forward` with a key/value cache.

``cfg.pretrained_model_path`` naming a Hugging Face directory makes the sizes come from its
``config.json`` (they override the cfg's) and the weights from its safetensors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import libai.config.cfg_keys as cfg_keys
from libai.config import configurable
from libai.inference.generation import GenerationMixin
from libai.layers import Linear, LMLogits, ParallelCrossEntropyLoss, RMSLayerNorm, VocabEmbedding
from libai.layers._global import as_global
from libai.layers.attention import causal_mask
from libai.layers.embedding import to_global_ids
from libai.models.utils.config_utils import accepts_dict_cfg, as_dictconfig, kwargs_from_cfg
from libai.models.utils.pipeline import set_activation_checkpoints, set_pipeline_stages
from libai.models.utils.weight_init import init_method_normal, scaled_init_method_normal
from libai.utils import distributed as dist
from libai.utils.oneflow_env import flow
from omegaconf import DictConfig, OmegaConf

from libai_llama.hf_config import normalize_rope_scaling, read_hf_config
from libai_llama.hf_loading import load_hf_weights
from libai_llama.layers import LlamaDecoderLayer
from libai_llama.rotary import RotaryEmbedding

nn = flow.nn

# Added to the scores of masked positions; exp() of it is exactly 0 in float32.
_MASK_FILL = -1e9


def resolve_cfg(cfg: Any) -> DictConfig:
    """``cfg`` as a DictConfig, with the sizes of ``cfg.pretrained_model_path`` when set.

    The checkpoint's ``config.json`` wins over the cfg for every architecture key (so a
    default config never builds a model of the wrong size); generation keys the
    checkpoint does not name keep the cfg's values.
    """
    cfg = as_dictconfig(cfg)
    path = cfg.get("pretrained_model_path")
    if not path:
        return cfg
    merged = OmegaConf.to_container(cfg, resolve=True)
    merged.update(read_hf_config(Path(path)))
    return OmegaConf.create(merged)


def _plain(value: Any) -> Any:
    return OmegaConf.to_container(value, resolve=True) if isinstance(value, DictConfig) else value


class LlamaModel(nn.Module):
    """Embedding, decoder layers and final norm: ids ``(B, T)`` -> hidden ``(B, T, hidden)``."""

    def __init__(
        self,
        hidden_layers: int,
        vocab_size: int,
        hidden_size: int,
        intermediate_size: int,
        num_attention_heads: int,
        num_key_value_heads: int,
        head_dim: int,
        *,
        max_position_embeddings: int,
        rms_norm_eps: float,
        rope_theta: float,
        rope_scaling: Optional[dict],
        attention_bias: bool,
        attention_output_bias: bool,
        mlp_bias: bool,
        attention_dropout_prob: float,
        init_method,
        output_layer_init_method,
    ) -> None:
        super().__init__()
        self.max_position_embeddings = max_position_embeddings
        self.embed_tokens = VocabEmbedding(vocab_size, hidden_size, init_method=init_method)
        self.rotary_emb = RotaryEmbedding(
            head_dim, rope_theta, rope_scaling, max_position_embeddings
        )
        self.layers = nn.ModuleList(
            [
                LlamaDecoderLayer(
                    hidden_size,
                    intermediate_size,
                    num_attention_heads,
                    num_key_value_heads,
                    head_dim,
                    rms_norm_eps=rms_norm_eps,
                    qkv_bias=attention_bias,
                    attention_output_bias=attention_output_bias,
                    mlp_bias=mlp_bias,
                    attention_dropout_prob=attention_dropout_prob,
                    init_method=init_method,
                    output_layer_init_method=output_layer_init_method,
                    layer_idx=i,
                )
                for i in range(hidden_layers)
            ]
        )
        self.norm = RMSLayerNorm(hidden_size, eps=rms_norm_eps, layer_idx=-1)

    def forward(
        self,
        input_ids,
        attention_mask=None,
        position_ids=None,
        past_key_values=None,
        use_cache: bool = False,
    ):
        """Returns ``hidden_states``, and ``(hidden_states, presents)`` with ``use_cache``.

        ``attention_mask`` ``(B, T_past + T)``: 1 for tokens, 0 for padding.
        ``position_ids`` ``(B, T)`` default to ``T_past .. T_past + T - 1``.
        """
        input_ids = to_global_ids(input_ids, 0)
        length = input_ids.shape[1]
        past_length = 0 if past_key_values is None else past_key_values[0][0].shape[2]
        placement = input_ids.placement
        broadcast = dist.get_nd_sbp([flow.sbp.broadcast, flow.sbp.broadcast])
        if position_ids is None:
            position_ids = flow.arange(
                past_length,
                past_length + length,
                dtype=flow.long,
                placement=placement,
                sbp=broadcast,
            ).unsqueeze(0)
            longest = past_length + length
        else:
            position_ids = as_global(position_ids, placement)
            longest = None
            if (self.rotary_emb.rope_scaling or {}).get("rope_type") == "dynamic":
                longest = int(position_ids.max().to_local().numpy()) + 1
        if (
            longest is not None
            and longest > self.max_position_embeddings
            and not (self.rotary_emb.rope_scaling)
        ):
            raise ValueError(
                f"sequence of {longest} positions exceeds max_position_embeddings="
                f"{self.max_position_embeddings} (cfg.max_position_embeddings)"
            )
        cos, sin = self.rotary_emb(position_ids, seq_len=longest)
        mask = self._additive_mask(attention_mask, length, past_length + length, cos)

        hidden_states = self.embed_tokens(input_ids)
        presents = []
        for i, layer in enumerate(self.layers):
            past = None if past_key_values is None else past_key_values[i]
            if use_cache:
                hidden_states, present = layer(hidden_states, cos, sin, mask, past, True)
                presents.append(present)
            else:
                hidden_states = layer(hidden_states, cos, sin, mask, past)
        hidden_states = self.norm(hidden_states)
        if use_cache:
            return hidden_states, tuple(presents)
        return hidden_states

    @staticmethod
    def _additive_mask(attention_mask, length: int, total: int, like):
        """0 where query ``t`` may see key ``s`` (causal and not padding), -1e9 elsewhere."""
        mask = causal_mask(length, total, like)  # (1, 1, T, total)
        if attention_mask is not None:
            padding = as_global(attention_mask, like.placement).to(like.dtype)
            mask = mask * padding.unsqueeze(1).unsqueeze(1)
        return (1.0 - mask) * _MASK_FILL


class LlamaLoss(nn.Module):
    """Mean token cross entropy over the positions whose label is not negative."""

    def __init__(self) -> None:
        super().__init__()
        self.lm_loss = ParallelCrossEntropyLoss()

    def forward(self, logits, labels):
        labels = as_global(labels, logits.placement)
        per_token = self.lm_loss(logits, labels)
        keep = (labels >= 0).to(per_token.dtype).view(-1)
        return {"lm_loss": (per_token * keep).sum() / flow.clamp(keep.sum(), min=1.0)}


class LlamaForCausalLM(nn.Module, GenerationMixin):
    """The Llama family as a causal language model (see the module docstring).

    Args (LiBai's ``projects/Llama/configs/llama_config.py`` names):
        hidden_layers, vocab_size, hidden_size, intermediate_size, num_attention_heads:
            the sizes.
        num_key_value_heads: key/value heads of grouped-query attention (default: as
            many as query heads).
        head_dim: size of a head (default ``hidden_size // num_attention_heads``).
        max_position_embeddings, rope_theta, rope_scaling: rotary positions;
            ``rope_scaling`` is ``None`` or ``{"rope_type": "linear" | "dynamic" |
            "llama3", "factor": ..., ...}`` (transformers' keys; ``"type"`` also read).
        rms_norm_eps: RMSNorm epsilon.
        initializer_range: std of the normal initialisation.
        use_scaled_init_for_output_weights: scale the o/down projections' std by
            ``1/sqrt(2 * hidden_layers)`` (Megatron); off by default, as in Hugging Face.
        tie_word_embeddings: the output projection is the embedding table.
        attention_bias: biases on q/k/v (Qwen2); ``attention_output_bias`` on o_proj
            (default: as ``attention_bias``); ``mlp_bias`` on the MLP.
        attention_dropout_prob: dropout on attention weights.
        pretrained_model_path: a Hugging Face directory to take sizes and weights from.
        cfg: the whole config (kept as ``self.cfg``: generation defaults such as
            ``eos_token_id`` and ``max_length`` are read from it).
    """

    # Read by libai.inference's "huggingface" mode.
    hf_loader = "libai_llama.hf_loading:LlamaLoaderHuggerFace"
    # Read by libai.engine's GraphBase, which then refuses num_accumulation_steps > 1 in
    # graph mode (see the plugin README, "Known limits", and tests/test_llama_parallel.py).
    graph_gradient_accumulation_unsupported = (
        "OneFlow 0.9.0's accumulating nn.Graph computes this model's first-layer gradients "
        "wrongly in most runs, differently from run to run"
    )

    @accepts_dict_cfg
    @configurable
    def __init__(
        self,
        hidden_layers: int,
        vocab_size: int,
        hidden_size: int,
        intermediate_size: int,
        num_attention_heads: int,
        num_key_value_heads: Optional[int] = None,
        head_dim: Optional[int] = None,
        max_position_embeddings: int = 2048,
        rms_norm_eps: float = 1e-6,
        rope_theta: float = 10000.0,
        rope_scaling: Optional[dict] = None,
        initializer_range: float = 0.02,
        use_scaled_init_for_output_weights: bool = False,
        tie_word_embeddings: bool = False,
        attention_bias: bool = False,
        attention_output_bias: Optional[bool] = None,
        mlp_bias: bool = False,
        attention_dropout_prob: float = 0.0,
        hidden_act: str = "silu",
        pretrained_model_path: Optional[str] = None,
        cfg: Any = None,
    ) -> None:
        super().__init__()
        if hidden_act not in ("silu", "swish"):
            raise ValueError(f"hidden_act={hidden_act!r}: the Llama family's MLP uses 'silu'")
        if head_dim is None:
            if hidden_size % num_attention_heads:
                raise ValueError(
                    f"hidden_size={hidden_size} is not divisible by "
                    f"num_attention_heads={num_attention_heads}; set head_dim"
                )
            head_dim = hidden_size // num_attention_heads
        num_key_value_heads = num_key_value_heads or num_attention_heads
        rope_scaling = normalize_rope_scaling(_plain(rope_scaling), "cfg.rope_scaling")
        if attention_output_bias is None:
            attention_output_bias = attention_bias
        self.cfg = (
            cfg
            if cfg is not None
            else OmegaConf.create(
                dict(
                    hidden_layers=hidden_layers,
                    vocab_size=vocab_size,
                    hidden_size=hidden_size,
                    max_position_embeddings=max_position_embeddings,
                )
            )
        )
        self.tie_word_embeddings = tie_word_embeddings
        init_method = init_method_normal(initializer_range)
        output_init = (
            scaled_init_method_normal(initializer_range, hidden_layers)
            if use_scaled_init_for_output_weights
            else init_method
        )
        self.model = LlamaModel(
            hidden_layers,
            vocab_size,
            hidden_size,
            intermediate_size,
            num_attention_heads,
            num_key_value_heads,
            head_dim,
            max_position_embeddings=max_position_embeddings,
            rms_norm_eps=rms_norm_eps,
            rope_theta=rope_theta,
            rope_scaling=rope_scaling,
            attention_bias=attention_bias,
            attention_output_bias=attention_output_bias,
            mlp_bias=mlp_bias,
            attention_dropout_prob=attention_dropout_prob,
            init_method=init_method,
            output_layer_init_method=output_init,
        )
        if tie_word_embeddings:
            self.lm_head = LMLogits(vocab_size, bias=False)
        else:
            self.lm_head = Linear(
                hidden_size,
                vocab_size,
                bias=False,
                parallel="col",
                init_method=init_method,
                layer_idx=-1,
            )
        self.loss_func = LlamaLoss()
        if pretrained_model_path:
            load_hf_weights(self, Path(pretrained_model_path))

    @classmethod
    def from_config(cls, cfg: Any) -> dict:
        cfg = resolve_cfg(cfg)
        kwargs = kwargs_from_cfg(cls, cfg)
        kwargs["cfg"] = cfg
        return kwargs

    @classmethod
    def from_pretrained(cls, path: str, **overrides: Any) -> LlamaForCausalLM:
        """Build the model of a Hugging Face directory with its weights (``overrides`` win
        for keys that do not change shapes, e.g. generation defaults)."""
        return cls(cfg=dict(overrides, pretrained_model_path=str(path)))

    def logits(self, hidden_states):
        if self.tie_word_embeddings:
            return self.lm_head(hidden_states, self.model.embed_tokens.weight)
        return self.lm_head(hidden_states.to_global(placement=dist.get_layer_placement(-1)))

    def forward(self, input_ids, attention_mask=None, labels=None, position_ids=None):
        hidden_states = self.model(
            input_ids, attention_mask=attention_mask, position_ids=position_ids
        )
        logits = self.logits(hidden_states)
        if labels is not None and self.training:
            return self.loss_func(logits, labels)
        return {"logits": logits}

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
        """One decoding step of ``libai.inference``'s generation protocol.

        Returns ``(logits (B, T_new, vocab) float32, past_key_values or None)``; the cache
        is a tuple over layers of ``(key, value)``, each ``(B, kv_heads, T, head_dim)``.
        """
        outputs = self.model(
            input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            past_key_values=past_key_values,
            use_cache=use_cache,
        )
        hidden_states, presents = outputs if use_cache else (outputs, None)
        return self.logits(hidden_states).to(flow.float32), presents

    def generation_max_positions(self) -> Optional[int]:
        """``max_position_embeddings``, unless rope scaling stretches the positions."""
        if self.model.rotary_emb.rope_scaling:
            return None
        return self.model.max_position_embeddings

    @staticmethod
    def set_pipeline_stage_id(model) -> None:
        """Embedding and rotary tables on the first stage, layer ``i`` on its stage,
        final norm, head and loss on the last."""

        def layer_of(module):
            if isinstance(module, (VocabEmbedding, RotaryEmbedding)):
                return 0
            if isinstance(module, LlamaDecoderLayer):
                return module.layer_idx
            if isinstance(module, (LMLogits, LlamaLoss)):
                return -1
            if isinstance(module, (Linear, RMSLayerNorm)) and module.layer_idx == -1:
                return -1
            return None

        set_pipeline_stages(model, layer_of)

    @staticmethod
    def set_activation_checkpoint(model) -> None:
        """Recompute each decoder layer in the backward pass (graph mode)."""
        set_activation_checkpoints(model, LlamaDecoderLayer)


# The keys LlamaForCausalLM reads from LiBai's ``cfg=`` (its constructor's parameters) and
# those the default config carries for others: the engine's, the generation defaults, and
# LiBai's flags that change nothing on the CPU. ``libai-engine check`` reports any other key.
cfg_keys.reads_cfg(
    extra=cfg_keys.ENGINE_CFG_KEYS
    + cfg_keys.GENERATION_CFG_KEYS
    + ("scale_mask_softmax_fusion", "is_encoder_decoder"),
)(LlamaForCausalLM)
