"""Hugging Face GPT-2 checkpoints -> libai's GPTModel / GPTForPreTraining.

GPT-2 stores its projections as ``Conv1D`` weights of shape (in, out): they are
transposed to libai's (out, in), and ``c_attn``'s [Q | K | V] columns are re-laid
per head.
"""

from __future__ import annotations

from typing import Any

from libai.models.utils.model_loader.base_loader import ModelLoaderHuggerFace, interleave_heads

_ACTIVATIONS = {
    "gelu_new": "gelu_tanh",
    "gelu_pytorch_tanh": "gelu_tanh",
    "gelu": "gelu",
    "relu": "relu",
}


class GPT2LoaderHuggerFace(ModelLoaderHuggerFace):
    base_prefix = "GPT_model."
    hf_prefix = "transformer."

    def cfg_from_hf(self, hf: dict) -> dict:
        act = hf.get("activation_function", "gelu_new")
        if act not in _ACTIVATIONS:
            raise ValueError(
                f"config.json activation_function={act!r} is not supported; use one of "
                f"{sorted(_ACTIVATIONS)}"
            )
        if hf.get("scale_attn_by_inverse_layer_idx") or not hf.get("scale_attn_weights", True):
            raise ValueError(
                "config.json: only GPT-2's default attention scaling (1/sqrt(head_size)) is "
                "supported (scale_attn_weights=true, scale_attn_by_inverse_layer_idx=false)"
            )
        hidden = hf["n_embd"]
        return dict(
            vocab_size=hf["vocab_size"],
            hidden_size=hidden,
            hidden_layers=hf["n_layer"],
            num_attention_heads=hf["n_head"],
            ffn_hidden_size=hf.get("n_inner") or 4 * hidden,
            max_seq_length=hf["n_positions"],
            embedding_dropout_prob=hf.get("embd_pdrop", 0.1),
            attention_dropout_prob=hf.get("attn_pdrop", 0.1),
            output_dropout_prob=hf.get("resid_pdrop", 0.1),
            layernorm_epsilon=hf.get("layer_norm_epsilon", 1e-5),
            initializer_range=hf.get("initializer_range", 0.02),
            activation=_ACTIVATIONS[act],
            apply_query_key_layer_scaling=False,
            apply_residual_post_layernorm=False,
            # generation defaults (read by GenerationMixin from the model's cfg)
            **{k: hf[k] for k in ("bos_token_id", "eos_token_id", "pad_token_id") if k in hf},
        )

    def convert(self, state: dict, cfg: Any) -> dict:
        p = self.base_prefix
        heads = cfg.num_attention_heads
        out = {
            p + "embeddings.token_embeddings.weight": state["wte.weight"],
            p + "embeddings.position_embeddings.weight": state["wpe.weight"],
            p + "transformer.layernorm_f.weight": state["ln_f.weight"],
            p + "transformer.layernorm_f.bias": state["ln_f.bias"],
        }
        for i in range(cfg.hidden_layers):
            hf = f"h.{i}."
            ours = f"{p}transformer.layers.{i}."
            qkv_w = state[hf + "attn.c_attn.weight"].T  # (3h, h)
            qkv_b = state[hf + "attn.c_attn.bias"]
            out[ours + "self_attention.query_key_value.weight"] = interleave_heads(
                list(qkv_w.reshape(3, -1, qkv_w.shape[1])), heads
            )
            out[ours + "self_attention.query_key_value.bias"] = interleave_heads(
                list(qkv_b.reshape(3, -1)), heads
            )
            out[ours + "self_attention.dense.weight"] = state[hf + "attn.c_proj.weight"].T
            out[ours + "self_attention.dense.bias"] = state[hf + "attn.c_proj.bias"]
            out[ours + "mlp.dense_h_to_4h.weight"] = state[hf + "mlp.c_fc.weight"].T
            out[ours + "mlp.dense_h_to_4h.bias"] = state[hf + "mlp.c_fc.bias"]
            out[ours + "mlp.dense_4h_to_h.weight"] = state[hf + "mlp.c_proj.weight"].T
            out[ours + "mlp.dense_4h_to_h.bias"] = state[hf + "mlp.c_proj.bias"]
            for part in ("weight", "bias"):
                out[ours + f"input_layernorm.{part}"] = state[hf + f"ln_1.{part}"]
                out[ours + f"post_attention_layernorm.{part}"] = state[hf + f"ln_2.{part}"]
        return out
