"""RoBERTa (Liu et al., 2019): BERT without the sentence-order task, with pad-aware positions.

``RobertaModel`` is ``BertModel`` whose position ids count only non-padding tokens and
start after ``pad_token_id`` (as fairseq and Hugging Face do). ``RobertaForPreTraining``
is the masked-LM model (training ``{"lm_loss"}``, evaluation
``{"prediction_scores"}``); ``RobertaForCausalLM`` the left-to-right variant.
"""

from __future__ import annotations

from typing import Optional

import libai.config.cfg_keys as cfg_keys
from libai.config import configurable
from libai.layers import (
    LayerNorm,
    Linear,
    LMLogits,
    ParallelCrossEntropyLoss,
    TransformerLayer,
    build_activation,
)
from libai.layers._global import as_global
from libai.layers.attention import causal_mask
from libai.models.bert_model import BertEmbeddings, BertModel
from libai.models.utils.config_utils import accepts_dict_cfg, as_dictconfig
from libai.models.utils.pipeline import set_activation_checkpoints
from libai.models.utils.weight_init import init_method_normal
from libai.utils import distributed as dist
from libai.utils.oneflow_env import flow

nn = flow.nn


class RobertaEmbeddings(BertEmbeddings):
    """BERT's embeddings with positions ``pad_token_id + 1 + (index among non-pad tokens)``."""

    def make_position_ids(self, input_ids):
        pad = 1 if self.padding_idx is None else self.padding_idx
        mask = (input_ids != pad).to(flow.long)
        positions = flow.cumsum(mask, dim=1) * mask + pad
        if input_ids.shape[1] + pad + 1 > self.max_sequence_length:
            raise ValueError(
                f"sequence length {input_ids.shape[1]} needs max_position_embeddings >= "
                f"{input_ids.shape[1] + pad + 1} (RoBERTa offsets positions by pad_token_id + 1)"
            )
        return positions


class RobertaModel(BertModel):
    """The bare RoBERTa encoder; same forward and outputs as :class:`BertModel`."""

    # The Hugging Face loader (libai.inference pipelines, mode="huggingface").
    hf_loader = "libai.models.utils.model_loader:RobertaLoaderHuggerFace"

    embeddings_class = RobertaEmbeddings

    @accepts_dict_cfg
    @configurable
    def __init__(
        self,
        vocab_size: int,
        hidden_size: int,
        hidden_layers: int,
        num_attention_heads: int,
        intermediate_size: int,
        hidden_dropout_prob: float,
        attention_probs_dropout_prob: float,
        max_position_embeddings: int,
        num_tokentypes: int = 0,
        add_pooling_layer: bool = True,
        initializer_range: float = 0.02,
        layernorm_eps: float = 1e-5,
        pad_token_id: int = 1,
        bias_gelu_fusion: bool = False,
        bias_dropout_fusion: bool = False,
        scale_mask_softmax_fusion: bool = False,
        apply_query_key_layer_scaling: bool = False,
        apply_residual_post_layernorm: bool = False,
        amp_enabled: bool = False,
        hidden_act: str = "gelu",
    ) -> None:
        super().__init__(
            vocab_size=vocab_size,
            hidden_size=hidden_size,
            hidden_layers=hidden_layers,
            num_attention_heads=num_attention_heads,
            intermediate_size=intermediate_size,
            hidden_dropout_prob=hidden_dropout_prob,
            attention_probs_dropout_prob=attention_probs_dropout_prob,
            max_position_embeddings=max_position_embeddings,
            num_tokentypes=num_tokentypes,
            add_pooling_layer=add_pooling_layer,
            initializer_range=initializer_range,
            layernorm_eps=layernorm_eps,
            bias_gelu_fusion=bias_gelu_fusion,
            bias_dropout_fusion=bias_dropout_fusion,
            scale_mask_softmax_fusion=scale_mask_softmax_fusion,
            apply_query_key_layer_scaling=apply_query_key_layer_scaling,
            apply_residual_post_layernorm=apply_residual_post_layernorm,
            amp_enabled=amp_enabled,
            hidden_act=hidden_act,
            pad_token_id=pad_token_id,
        )


class RobertaLMHead(nn.Module):
    """dense -> GELU -> LayerNorm -> tied vocabulary projection (+ bias)."""

    def __init__(self, vocab_size: int, hidden_size: int, init_method, layernorm_eps: float):
        super().__init__()
        self.dense = Linear(
            hidden_size,
            hidden_size,
            bias=True,
            parallel="data",
            init_method=init_method,
            layer_idx=-1,
        )
        self.activation_func = build_activation("gelu")
        self.layernorm = LayerNorm((hidden_size,), eps=layernorm_eps, layer_idx=-1)
        self.lm_logits = LMLogits(vocab_size, bias=True)

    def forward(self, hidden_states, word_embeddings_weight):
        hidden_states = self.activation_func(self.dense(hidden_states))
        hidden_states = self.layernorm(hidden_states.to_global(sbp=dist.get_hidden_sbp()))
        return self.lm_logits(hidden_states, word_embeddings_weight)


def _masked_lm_loss(loss_fn, logits, labels, loss_mask):
    placement = logits.placement
    labels = as_global(labels, placement)
    if loss_mask is None:
        loss_mask = (labels >= 0).to(flow.float32)
    loss_mask = as_global(loss_mask, placement).to(flow.float32)
    per_token = loss_fn(logits, labels)
    denominator = loss_mask.sum().to_global(
        sbp=dist.get_nd_sbp([flow.sbp.broadcast, flow.sbp.broadcast])
    )
    loss = flow.sum(per_token.view(-1) * loss_mask.view(-1)) / (denominator + 1e-7)
    return loss.to_global(sbp=dist.get_nd_sbp([flow.sbp.partial_sum, flow.sbp.broadcast]))


class _RobertaWithHead(nn.Module):
    def __init__(self, cfg) -> None:
        super().__init__()
        cfg = as_dictconfig(cfg)
        self.roberta = RobertaModel(cfg=cfg, add_pooling_layer=False)
        self.lm_head = RobertaLMHead(
            cfg.vocab_size,
            cfg.hidden_size,
            init_method_normal(cfg.get("initializer_range", 0.02)),
            cfg.get("layernorm_eps", 1e-5),
        )
        self.loss_fn = ParallelCrossEntropyLoss()

    def logits(self, input_ids, attention_mask, tokentype_ids=None):
        sequence_output, _ = self.roberta(input_ids, attention_mask, tokentype_ids)
        return self.lm_head(sequence_output, self.roberta.word_embeddings_weight())

    @staticmethod
    def set_activation_checkpoint(model) -> None:
        set_activation_checkpoints(model, TransformerLayer)


class RobertaForPreTraining(_RobertaWithHead):
    """RoBERTa masked-LM: training with ``lm_labels`` -> ``{"lm_loss"}``, else
    ``{"prediction_scores": logits}``."""

    def forward(
        self,
        input_ids,
        attention_mask,
        tokentype_ids=None,
        lm_labels=None,
        loss_mask=None,
    ):
        logits = self.logits(input_ids, attention_mask, tokentype_ids)
        if lm_labels is not None and self.training:
            return {"lm_loss": _masked_lm_loss(self.loss_fn, logits, lm_labels, loss_mask)}
        return {"prediction_scores": logits}


class RobertaForCausalLM(_RobertaWithHead):
    """RoBERTa as a left-to-right LM: token ``t`` predicts ``labels[t + 1]``.

    Training with ``labels`` -> ``{"lm_loss"}``; else ``{"prediction_scores": logits}``.
    """

    def forward(
        self,
        input_ids,
        attention_mask,
        tokentype_ids=None,
        labels=None,
        loss_mask: Optional[object] = None,
    ):
        placement = dist.get_layer_placement(0)
        attention_mask = as_global(attention_mask, placement)
        seq = attention_mask.shape[-1]
        pad = attention_mask.unsqueeze(1).unsqueeze(1).to(flow.float32)
        mask = pad * causal_mask(seq, seq, pad)
        logits = self.logits(input_ids, mask, tokentype_ids)
        if labels is not None and self.training:
            shifted = logits[:, :-1, :]
            labels = as_global(labels, logits.placement)[:, 1:]
            if loss_mask is not None:
                loss_mask = as_global(loss_mask, logits.placement)[:, 1:]
            return {"lm_loss": _masked_lm_loss(self.loss_fn, shifted, labels, loss_mask)}
        return {"prediction_scores": logits}


# The keys each model reads from LiBai's cfg= dict: `libai-engine check` reports any other.
cfg_keys.reads_cfg(also=(RobertaModel,))(_RobertaWithHead)
