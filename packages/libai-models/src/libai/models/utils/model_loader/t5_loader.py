"""Hugging Face T5 (v1.0: ReLU, tied head) checkpoints -> libai's T5Model / T5ForPreTraining.

The HF variant of :class:`libai.models.T5Model` is selected from config.json: relative
position bias, RMS norm, no biases, unscaled scores, decoder output rescaled before the
tied head.
"""

from __future__ import annotations

from typing import Any

from libai.models.utils.model_loader.base_loader import ModelLoaderHuggerFace, interleave_heads


class T5LoaderHuggerFace(ModelLoaderHuggerFace):
    base_prefix = "t5_model."
    hf_prefix = ""

    def cfg_from_hf(self, hf: dict) -> dict:
        proj = hf.get("feed_forward_proj", "relu")
        if proj != "relu":
            raise ValueError(
                f"config.json feed_forward_proj={proj!r}: only 'relu' (T5 v1.0) is supported; "
                "gated variants (T5 v1.1, mT5) need a gated MLP"
            )
        if not hf.get("tie_word_embeddings", True):
            raise ValueError(
                "config.json tie_word_embeddings=false: an untied LM head is not supported"
            )
        return dict(
            vocab_size=hf["vocab_size"],
            hidden_size=hf["d_model"],
            hidden_layers=hf["num_layers"],
            decoder_layers=hf.get("num_decoder_layers") or hf["num_layers"],
            num_attention_heads=hf["num_heads"],
            head_size=hf["d_kv"],
            intermediate_size=hf["d_ff"],
            embedding_dropout_prob=hf.get("dropout_rate", 0.1),
            hidden_dropout_prob=hf.get("dropout_rate", 0.1),
            attention_probs_dropout_prob=hf.get("dropout_rate", 0.1),
            max_position_embeddings=512,
            layernorm_eps=hf.get("layer_norm_epsilon", 1e-6),
            initializer_range=hf.get("initializer_factor", 1.0) * 0.05,
            position_embedding_type="relative",
            relative_attention_num_buckets=hf.get("relative_attention_num_buckets", 32),
            relative_attention_max_distance=hf.get("relative_attention_max_distance", 128),
            norm_type="rmsnorm",
            mlp_activation="relu",
            use_bias=False,
            attention_scale=1.0,
            scale_decoder_output=True,
            apply_query_key_layer_scaling=False,
            apply_residual_post_layernorm=False,
            # generation defaults (read by GenerationMixin from the model's cfg)
            decoder_start_token_id=hf.get("decoder_start_token_id", hf.get("pad_token_id", 0)),
            **{k: hf[k] for k in ("eos_token_id", "pad_token_id") if k in hf},
        )

    def convert(self, state: dict, cfg: Any) -> dict:
        p = self.base_prefix
        heads = cfg.num_attention_heads
        out = {p + "embedding.word_embeddings.weight": state["shared.weight"]}
        for stack, n_layers, ours_stack in (
            ("encoder", cfg.hidden_layers, "encoder"),
            ("decoder", cfg.decoder_layers, "decoder"),
        ):
            out[f"{p}{ours_stack}.final_layernorm.weight"] = state[
                f"{stack}.final_layer_norm.weight"
            ]
            out[f"{p}{stack}_position_bias.relative_attention_bias.weight"] = state[
                f"{stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight"
            ]
            for i in range(n_layers):
                hf = f"{stack}.block.{i}.layer."
                ours = f"{p}{ours_stack}.layers.{i}."
                attn = hf + "0.SelfAttention."
                out[ours + "self_attention.query_key_value.weight"] = interleave_heads(
                    [state[attn + n + ".weight"] for n in ("q", "k", "v")], heads
                )
                out[ours + "self_attention.dense.weight"] = state[attn + "o.weight"]
                out[ours + "input_layernorm.weight"] = state[hf + "0.layer_norm.weight"]
                ff = 1
                if stack == "decoder":
                    cross = hf + "1.EncDecAttention."
                    out[ours + "cross_attention.query.weight"] = state[cross + "q.weight"]
                    out[ours + "cross_attention.key_value.weight"] = interleave_heads(
                        [state[cross + "k.weight"], state[cross + "v.weight"]], heads
                    )
                    out[ours + "cross_attention.dense.weight"] = state[cross + "o.weight"]
                    out[ours + "post_attention_layernorm.weight"] = state[
                        hf + "1.layer_norm.weight"
                    ]
                    out[ours + "post_cross_attention_layernorm.weight"] = state[
                        hf + "2.layer_norm.weight"
                    ]
                    ff = 2
                else:
                    out[ours + "post_attention_layernorm.weight"] = state[
                        hf + "1.layer_norm.weight"
                    ]
                out[ours + "mlp.dense_h_to_4h.weight"] = state[f"{hf}{ff}.DenseReluDense.wi.weight"]
                out[ours + "mlp.dense_4h_to_h.weight"] = state[f"{hf}{ff}.DenseReluDense.wo.weight"]
        return out
