"""BERT (Devlin et al., 2019) on LiBai's layers.

``BertModel`` returns ``(sequence_output, pooled_output)``; ``BertForPreTraining``
adds the masked-LM and sentence-order heads (training: ``{"lm_loss", "sop_loss"}``;
evaluation: ``{"prediction_scores", "seq_relationship_score"}``);
``BertForClassification`` a classifier on the pooled output (training:
``{"cls_loss"}``; evaluation: ``{"prediction_scores": logits}``).

The embeddings carry no LayerNorm: with ``apply_residual_post_layernorm=True`` the
first layer's ``input_layernorm`` plays that part and each layer's norms play the
post-LN ones of the original BERT, which is how Hugging Face weights map on.
"""

from __future__ import annotations

from typing import Optional

import libai.config.cfg_keys as cfg_keys
from libai.config import configurable
from libai.layers import (
    AttnMaskType,
    Embedding,
    LayerNorm,
    Linear,
    LMLogits,
    ParallelCrossEntropyLoss,
    TransformerLayer,
    VocabEmbedding,
    build_activation,
)
from libai.layers._global import as_global
from libai.models.utils.config_utils import accepts_dict_cfg, as_dictconfig, kwargs_from_cfg
from libai.models.utils.pipeline import set_activation_checkpoints, set_pipeline_stages
from libai.models.utils.weight_init import init_method_normal, scaled_init_method_normal
from libai.utils import distributed as dist
from libai.utils.oneflow_env import flow

nn = flow.nn


def _broadcast_sbp() -> list:
    return dist.get_nd_sbp([flow.sbp.broadcast, flow.sbp.broadcast])


class BertExtendedAttnMask(nn.Module):
    """``(B, S)`` 1/0 padding mask -> ``(B, 1, 1, S)``: every query ignores padded keys.

    Only keys are masked (as Hugging Face does), so the states at padded positions are
    well defined too; LiBai's outer-product mask gives the same values elsewhere.
    """

    def forward(self, attention_mask):
        if attention_mask.ndim == 2:  # (B, S): padding of the keys
            return attention_mask.unsqueeze(1).unsqueeze(1)
        if attention_mask.ndim == 3:  # (B, S_q, S_k): LiBai's dataset masks
            return attention_mask.unsqueeze(1)
        return attention_mask  # already (B, 1, S_q, S_k)


class BertEmbeddings(nn.Module):
    """Word + position (+ token type) embeddings, then dropout."""

    def __init__(
        self,
        vocab_size: int,
        hidden_size: int,
        max_sequence_length: int,
        embedding_dropout_prob: float,
        num_tokentypes: int = 0,
        init_method=nn.init.xavier_normal_,
        amp_enabled: bool = False,
        padding_idx: Optional[int] = None,
    ) -> None:
        super().__init__()
        self.padding_idx = padding_idx
        self.vocab_embeddings = VocabEmbedding(
            vocab_size,
            hidden_size,
            padding_idx=padding_idx,
            init_method=init_method,
            amp_enabled=amp_enabled,
        )
        self.position_embeddings = Embedding(
            max_sequence_length, hidden_size, init_method=init_method, amp_enabled=amp_enabled
        )
        self.tokentype_embeddings = (
            Embedding(num_tokentypes, hidden_size, init_method=init_method, amp_enabled=amp_enabled)
            if num_tokentypes > 0
            else None
        )
        self.max_sequence_length = max_sequence_length
        self.embedding_dropout = nn.Dropout(embedding_dropout_prob)

    def make_position_ids(self, input_ids):
        """Positions 0..S-1, shape (1, S), broadcast over the batch."""
        seq_length = input_ids.shape[1]
        if seq_length > self.max_sequence_length:
            raise ValueError(
                f"sequence length {seq_length} exceeds max_position_embeddings="
                f"{self.max_sequence_length}"
            )
        return flow.arange(
            seq_length, dtype=flow.long, placement=input_ids.placement, sbp=_broadcast_sbp()
        ).unsqueeze(0)

    def forward(self, input_ids, tokentype_ids=None, position_ids=None):
        input_ids = as_global(input_ids, dist.get_layer_placement(0))
        if position_ids is None:
            position_ids = self.make_position_ids(input_ids)
        embeddings = self.vocab_embeddings(input_ids) + self.position_embeddings(position_ids)
        if self.tokentype_embeddings is not None:
            if tokentype_ids is None:
                tokentype_ids = flow.zeros_like(input_ids)
            embeddings = embeddings + self.tokentype_embeddings(tokentype_ids)
        return self.embedding_dropout(embeddings)

    def word_embeddings(self):
        return self.vocab_embeddings.weight


class BertLMPredictionHead(nn.Module):
    """dense -> GELU -> LayerNorm, before the tied vocabulary projection."""

    def __init__(self, hidden_size: int, init_method, layernorm_eps: float = 1e-5) -> None:
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

    def forward(self, hidden_states):
        hidden_states = self.activation_func(self.dense(hidden_states))
        hidden_states = hidden_states.to_global(sbp=dist.get_hidden_sbp())
        return self.layernorm(hidden_states)


class BertPooler(nn.Module):
    """tanh(dense(first token's state))."""

    def __init__(self, hidden_size: int, init_method) -> None:
        super().__init__()
        self.dense = Linear(
            hidden_size,
            hidden_size,
            bias=True,
            parallel="col",
            init_method=init_method,
            layer_idx=-1,
        )

    def forward(self, hidden_states):
        return flow.tanh(self.dense(hidden_states[:, 0, :]))


class BertLoss(nn.Module):
    """Masked-LM loss averaged over ``loss_mask``, plus the sentence-order loss."""

    def __init__(self, add_binary_head: bool) -> None:
        super().__init__()
        self.add_binary_head = add_binary_head
        self.lm_loss = ParallelCrossEntropyLoss()

    def forward(self, lm_output, lm_labels, loss_mask, binary_logits, ns_labels):
        placement = lm_output.placement
        lm_labels = as_global(lm_labels, placement)
        lm_loss = self.lm_loss(lm_output, lm_labels)
        if loss_mask is None:
            loss_mask = (lm_labels >= 0).to(flow.float32)
        loss_mask = as_global(loss_mask, placement).to(flow.float32)
        # The denominator is made broadcast first: a partial-sum divided by a
        # partial-sum is not defined.
        denominator = loss_mask.sum().to_global(sbp=_broadcast_sbp()) + 1e-7
        masked_lm_loss = flow.sum(lm_loss.view(-1) * loss_mask.view(-1)) / denominator
        masked_lm_loss = masked_lm_loss.to_global(
            sbp=dist.get_nd_sbp([flow.sbp.partial_sum, flow.sbp.broadcast])
        )
        loss_dict = {"lm_loss": masked_lm_loss}
        if self.add_binary_head:
            if ns_labels is None:
                raise ValueError(
                    "BertForPreTraining with add_binary_head=True needs ns_labels in the batch"
                )
            binary_logits = binary_logits.to_global(placement=placement)
            ns_labels = as_global(ns_labels, placement)
            loss_dict["sop_loss"] = flow._C.cross_entropy(
                binary_logits, ns_labels, ignore_index=-1, reduction="none"
            ).mean()
        return loss_dict


class BertModel(nn.Module):
    """The bare BERT encoder: ``forward(input_ids, attention_mask, tokentype_ids=None)``
    -> ``(sequence_output (B, S, H), pooled_output (B, H) or None)``.

    Args are LiBai's (``configs/common/models/bert.py``); ``hidden_act`` and
    ``pad_token_id`` (the word-embedding row kept at zero) are additions.
    """

    # The Hugging Face loader (libai.inference pipelines, mode="huggingface").
    hf_loader = "libai.models.utils.model_loader:BertLoaderHuggerFace"

    embeddings_class = BertEmbeddings

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
        num_tokentypes: int = 2,
        add_pooling_layer: bool = True,
        initializer_range: float = 0.02,
        layernorm_eps: float = 1e-12,
        bias_gelu_fusion: bool = True,
        bias_dropout_fusion: bool = True,
        scale_mask_softmax_fusion: bool = True,
        apply_query_key_layer_scaling: bool = True,
        apply_residual_post_layernorm: bool = False,
        amp_enabled: bool = False,
        hidden_act: str = "gelu",
        pad_token_id: Optional[int] = None,
    ) -> None:
        super().__init__()
        init_method = init_method_normal(initializer_range)
        scaled_init_method = scaled_init_method_normal(initializer_range, hidden_layers)
        self.embeddings = self.embeddings_class(
            vocab_size,
            hidden_size,
            max_position_embeddings,
            hidden_dropout_prob,
            num_tokentypes,
            init_method,
            amp_enabled,
            padding_idx=pad_token_id,
        )
        self.extended_attn_mask = BertExtendedAttnMask()
        self.encoders = nn.ModuleList(
            [
                TransformerLayer(
                    hidden_size,
                    intermediate_size,
                    num_attention_heads,
                    attention_dropout_prob=attention_probs_dropout_prob,
                    output_dropout_prob=hidden_dropout_prob,
                    layernorm_epsilon=layernorm_eps,
                    bias_gelu_fusion=bias_gelu_fusion,
                    bias_dropout_fusion=bias_dropout_fusion,
                    scale_mask_softmax_fusion=scale_mask_softmax_fusion,
                    apply_query_key_layer_scaling=apply_query_key_layer_scaling,
                    init_method=init_method,
                    output_layer_init_method=scaled_init_method,
                    apply_residual_post_layernorm=apply_residual_post_layernorm,
                    attn_mask_type=AttnMaskType.padding,
                    activation=hidden_act,
                    layer_idx=i,
                )
                for i in range(hidden_layers)
            ]
        )
        self.final_layernorm = LayerNorm((hidden_size,), eps=layernorm_eps, layer_idx=-1)
        self.pooler = BertPooler(hidden_size, init_method) if add_pooling_layer else None

    @classmethod
    def from_config(cls, cfg):
        return kwargs_from_cfg(cls, as_dictconfig(cfg))

    def forward(self, input_ids, attention_mask, tokentype_ids=None):
        placement = dist.get_layer_placement(0)
        input_ids = as_global(input_ids, placement)
        attention_mask = as_global(attention_mask, placement)
        if tokentype_ids is not None:
            tokentype_ids = as_global(tokentype_ids, placement)
        extended_attention_mask = self.extended_attn_mask(attention_mask)
        hidden_states = self.embeddings(input_ids, tokentype_ids)
        for layer in self.encoders:
            hidden_states = layer(hidden_states, extended_attention_mask)
        encoder_output = self.final_layernorm(hidden_states)
        pooled_output = self.pooler(encoder_output) if self.pooler is not None else None
        return encoder_output, pooled_output

    def word_embeddings_weight(self):
        return self.embeddings.word_embeddings()


class BertPreTrainingHeads(nn.Module):
    """Masked-LM head (tied to the word embeddings) and sentence-order head, and the loss."""

    def __init__(
        self,
        vocab_size: int,
        hidden_size: int,
        init_method,
        add_binary_head: bool = True,
        layernorm_eps: float = 1e-5,
    ) -> None:
        super().__init__()
        self.predictions = BertLMPredictionHead(hidden_size, init_method, layernorm_eps)
        self.seq_relationship = Linear(
            hidden_size, 2, bias=True, parallel="data", init_method=init_method, layer_idx=-1
        )
        self.lm_logits = LMLogits(vocab_size, bias=True)
        self.loss_func = BertLoss(add_binary_head)

    def forward(
        self,
        sequence_output,
        pooled_output,
        word_embeddings_weight,
        ns_labels,
        lm_labels,
        loss_mask,
        compute_loss: bool = True,
    ):
        prediction_scores = self.lm_logits(
            self.predictions(sequence_output), word_embeddings_weight
        )
        seq_relationship_score = (
            self.seq_relationship(pooled_output) if pooled_output is not None else None
        )
        if lm_labels is not None and compute_loss:
            return self.loss_func(
                prediction_scores, lm_labels, loss_mask, seq_relationship_score, ns_labels
            )
        outputs = {"prediction_scores": prediction_scores}
        if seq_relationship_score is not None:
            outputs["seq_relationship_score"] = seq_relationship_score
        return outputs


class BertForPreTraining(nn.Module):
    """BERT with the masked-LM and sentence-order heads.

    ``forward(input_ids, attention_mask, tokentype_ids=None, ns_labels=None,
    lm_labels=None, loss_mask=None)``: in training mode with ``lm_labels`` it returns
    ``{"lm_loss", "sop_loss"}`` (``sop_loss`` only with ``add_binary_head``), otherwise
    ``{"prediction_scores", "seq_relationship_score"}``.
    """

    # The Hugging Face loader (libai.inference pipelines, mode="huggingface").
    hf_loader = "libai.models.utils.model_loader:BertLoaderHuggerFace"

    def __init__(self, cfg, add_binary_head: Optional[bool] = None) -> None:
        super().__init__()
        cfg = as_dictconfig(cfg)
        if add_binary_head is None:
            add_binary_head = cfg.get("add_binary_head", True)
        self.bert = BertModel(cfg=cfg)
        self.cls_head = BertPreTrainingHeads(
            cfg.vocab_size,
            cfg.hidden_size,
            init_method_normal(cfg.get("initializer_range", 0.02)),
            add_binary_head,
            cfg.get("layernorm_eps", 1e-12),
        )

    def forward(
        self,
        input_ids,
        attention_mask,
        tokentype_ids=None,
        ns_labels=None,
        lm_labels=None,
        loss_mask=None,
    ):
        sequence_output, pooled_output = self.bert(input_ids, attention_mask, tokentype_ids)
        return self.cls_head(
            sequence_output,
            pooled_output,
            self.bert.word_embeddings_weight(),
            ns_labels,
            lm_labels,
            loss_mask,
            compute_loss=self.training,
        )

    @staticmethod
    def set_pipeline_stage_id(model) -> None:
        def layer_of(module):
            if isinstance(module, (BertEmbeddings, BertExtendedAttnMask)):
                return 0
            if isinstance(module, TransformerLayer):
                return module.layer_idx
            if isinstance(module, (BertPooler, BertPreTrainingHeads)):
                return -1
            return None

        set_pipeline_stages(model, layer_of)
        model.bert.final_layernorm.to(flow.nn.graph.GraphModule).set_stage(
            dist.get_layer_stage_id(-1), dist.get_layer_placement(-1)
        )

    @staticmethod
    def set_activation_checkpoint(model) -> None:
        set_activation_checkpoints(model, TransformerLayer)


class BertForClassification(nn.Module):
    """BERT with a linear classifier on the pooled output.

    ``cfg.num_labels`` classes; ``cfg.classifier_dropout`` (default: the hidden dropout).
    Training with ``labels`` returns ``{"cls_loss"}``; otherwise
    ``{"prediction_scores": logits}``.
    """

    def __init__(self, cfg) -> None:
        super().__init__()
        cfg = as_dictconfig(cfg)
        if "num_labels" not in cfg:
            raise ValueError("BertForClassification needs cfg.num_labels (number of classes)")
        self.num_labels = cfg.num_labels
        self.bert = BertModel(cfg=cfg)
        self.classifier = Linear(
            cfg.hidden_size,
            cfg.num_labels,
            bias=True,
            parallel="row",
            init_method=init_method_normal(cfg.get("initializer_range", 0.02)),
            layer_idx=-1,
        )
        dropout = cfg.get("classifier_dropout", None)
        self.dropout = nn.Dropout(cfg.hidden_dropout_prob if dropout is None else dropout)

    def forward(self, input_ids, attention_mask, tokentype_ids=None, labels=None, **kwargs):
        # LiBai's classification datasets may call the label "ns_labels".
        labels = labels if labels is not None else kwargs.get("ns_labels")
        _, pooled_output = self.bert(input_ids, attention_mask, tokentype_ids)
        if pooled_output is None:
            raise ValueError("BertForClassification needs cfg.add_pooling_layer=True")
        logits = self.classifier(self.dropout(pooled_output))
        if labels is not None and self.training:
            labels = as_global(labels, logits.placement)
            loss = flow._C.cross_entropy(
                logits.view(-1, self.num_labels),
                labels.view(-1),
                ignore_index=-100,
                reduction="none",
            ).mean()
            loss = loss.to_global(sbp=dist.get_nd_sbp([flow.sbp.partial_sum, flow.sbp.broadcast]))
            return {"cls_loss": loss}
        return {"prediction_scores": logits}

    @staticmethod
    def set_activation_checkpoint(model) -> None:
        set_activation_checkpoints(model, TransformerLayer)


# The keys each model reads from LiBai's cfg= dict: `libai-engine check` reports any other.
# LiBai's bert cfg is one dict shared with the heads (add_binary_head is theirs).
cfg_keys.reads_cfg(extra=cfg_keys.ENGINE_CFG_KEYS + ("add_binary_head",))(BertModel)
cfg_keys.reads_cfg(also=(BertModel,))(BertForPreTraining)
cfg_keys.reads_cfg(also=(BertModel,), extra=("num_labels", "classifier_dropout"))(
    BertForClassification
)
