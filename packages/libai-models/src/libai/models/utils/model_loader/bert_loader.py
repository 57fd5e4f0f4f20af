"""Hugging Face BERT / RoBERTa checkpoints -> libai's BertModel / RobertaModel (+ heads).

HF BERT is post-LN: ``LN(x + sublayer(x))``. libai's layer with
``apply_residual_post_layernorm=True`` computes the same thing when each HF LayerNorm is
moved one slot later: the embedding LayerNorm becomes layer 0's ``input_layernorm``,
a layer's output LayerNorm the next layer's ``input_layernorm`` (the last one
``final_layernorm``), and the attention-output LayerNorm ``post_attention_layernorm``.
"""

from __future__ import annotations

from typing import Any

from libai.models.utils.model_loader.base_loader import ModelLoaderHuggerFace, interleave_heads

_ACTIVATIONS = {
    "gelu": "gelu",
    "gelu_new": "gelu_tanh",
    "gelu_pytorch_tanh": "gelu_tanh",
    "relu": "relu",
}


def _encoder_cfg(hf: dict) -> dict:
    act = hf.get("hidden_act", "gelu")
    if act not in _ACTIVATIONS:
        raise ValueError(
            f"config.json hidden_act={act!r} is not supported; use one of {sorted(_ACTIVATIONS)}"
        )
    return dict(
        vocab_size=hf["vocab_size"],
        hidden_size=hf["hidden_size"],
        hidden_layers=hf["num_hidden_layers"],
        num_attention_heads=hf["num_attention_heads"],
        intermediate_size=hf["intermediate_size"],
        hidden_dropout_prob=hf.get("hidden_dropout_prob", 0.1),
        attention_probs_dropout_prob=hf.get("attention_probs_dropout_prob", 0.1),
        max_position_embeddings=hf["max_position_embeddings"],
        num_tokentypes=hf.get("type_vocab_size", 2),
        initializer_range=hf.get("initializer_range", 0.02),
        layernorm_eps=hf.get("layer_norm_eps", 1e-12),
        hidden_act=_ACTIVATIONS[act],
        pad_token_id=hf.get("pad_token_id"),
        apply_residual_post_layernorm=True,
        apply_query_key_layer_scaling=False,
    )


def convert_encoder(state: dict, cfg: Any, prefix: str) -> dict:
    """Map HF ``embeddings.*`` / ``encoder.layer.*`` / ``pooler.*`` onto libai names."""
    out = {}
    heads = cfg.num_attention_heads
    layers = cfg.hidden_layers
    out[prefix + "embeddings.vocab_embeddings.weight"] = state["embeddings.word_embeddings.weight"]
    out[prefix + "embeddings.position_embeddings.weight"] = state[
        "embeddings.position_embeddings.weight"
    ]
    if "embeddings.token_type_embeddings.weight" in state and cfg.num_tokentypes > 0:
        out[prefix + "embeddings.tokentype_embeddings.weight"] = state[
            "embeddings.token_type_embeddings.weight"
        ]
    for part in ("weight", "bias"):
        out[f"{prefix}encoders.0.input_layernorm.{part}"] = state[f"embeddings.LayerNorm.{part}"]
    for i in range(layers):
        hf = f"encoder.layer.{i}."
        ours = f"{prefix}encoders.{i}."
        for part in ("weight", "bias"):
            out[ours + f"self_attention.query_key_value.{part}"] = interleave_heads(
                [state[hf + f"attention.self.{n}.{part}"] for n in ("query", "key", "value")],
                heads,
            )
            out[ours + f"self_attention.dense.{part}"] = state[
                hf + f"attention.output.dense.{part}"
            ]
            out[ours + f"post_attention_layernorm.{part}"] = state[
                hf + f"attention.output.LayerNorm.{part}"
            ]
            out[ours + f"mlp.dense_h_to_4h.{part}"] = state[hf + f"intermediate.dense.{part}"]
            out[ours + f"mlp.dense_4h_to_h.{part}"] = state[hf + f"output.dense.{part}"]
            next_norm = (
                f"{prefix}encoders.{i + 1}.input_layernorm."
                if i + 1 < layers
                else f"{prefix}final_layernorm."
            )
            out[next_norm + part] = state[hf + f"output.LayerNorm.{part}"]
    if "pooler.dense.weight" in state:
        for part in ("weight", "bias"):
            out[f"{prefix}pooler.dense.{part}"] = state[f"pooler.dense.{part}"]
    return out


class BertLoaderHuggerFace(ModelLoaderHuggerFace):
    """``BertModel`` / ``BertForPreTraining`` from a HF ``BertModel``/``BertForPreTraining`` checkpoint."""

    base_prefix = "bert."
    hf_prefix = "bert."

    def cfg_from_hf(self, hf_config: dict) -> dict:
        return _encoder_cfg(hf_config)

    def build_cfg(self):
        cfg = super().build_cfg()
        from libai.models.utils.model_loader.checkpoint_files import read_state_dict

        # A checkpoint without a pooler (or sentence-order head) builds a model without one.
        names = read_state_dict(self.pretrained_model_path).keys()
        if "add_pooling_layer" not in self.kwargs:
            cfg.add_pooling_layer = any("pooler.dense" in n for n in names)
        if "add_binary_head" not in self.kwargs:
            cfg.add_binary_head = any("seq_relationship" in n for n in names)
        return cfg

    def convert(self, state: dict, cfg: Any) -> dict:
        out = convert_encoder(state, cfg, self.base_prefix)
        head = "cls.predictions."
        if head + "transform.dense.weight" in state:
            for part in ("weight", "bias"):
                out[f"cls_head.predictions.dense.{part}"] = state[head + f"transform.dense.{part}"]
                out[f"cls_head.predictions.layernorm.{part}"] = state[
                    head + f"transform.LayerNorm.{part}"
                ]
            out["cls_head.lm_logits.bias"] = state.get(
                head + "bias", state.get(head + "decoder.bias")
            )
        if "cls.seq_relationship.weight" in state:
            for part in ("weight", "bias"):
                out[f"cls_head.seq_relationship.{part}"] = state[f"cls.seq_relationship.{part}"]
        return out


class RobertaLoaderHuggerFace(ModelLoaderHuggerFace):
    """``RobertaModel`` / ``RobertaForPreTraining`` / ``RobertaForCausalLM`` from a HF RoBERTa checkpoint."""

    base_prefix = "roberta."
    hf_prefix = "roberta."

    def cfg_from_hf(self, hf_config: dict) -> dict:
        cfg = _encoder_cfg(hf_config)
        cfg["pad_token_id"] = hf_config.get("pad_token_id", 1)
        cfg["layernorm_eps"] = hf_config.get("layer_norm_eps", 1e-5)
        return cfg

    def build_cfg(self):
        cfg = super().build_cfg()
        from libai.models.utils.model_loader.checkpoint_files import read_state_dict

        if "add_pooling_layer" not in self.kwargs:
            names = read_state_dict(self.pretrained_model_path).keys()
            cfg.add_pooling_layer = any("pooler.dense" in n for n in names)
        return cfg

    def convert(self, state: dict, cfg: Any) -> dict:
        out = convert_encoder(state, cfg, self.base_prefix)
        if "lm_head.dense.weight" in state:
            for part in ("weight", "bias"):
                out[f"lm_head.dense.{part}"] = state[f"lm_head.dense.{part}"]
                out[f"lm_head.layernorm.{part}"] = state[f"lm_head.layer_norm.{part}"]
            out["lm_head.lm_logits.bias"] = state.get(
                "lm_head.bias", state.get("lm_head.decoder.bias")
            )
        return out
