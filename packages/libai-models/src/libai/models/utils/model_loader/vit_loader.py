"""Hugging Face ViT checkpoints (``ViTModel`` / ``ViTForImageClassification``) -> libai's
:class:`~libai.models.VisionTransformer`.

Both of Hugging Face's key layouts are read: the one of checkpoints on the Hub
(``encoder.layer.{i}.attention.attention.query``, ``intermediate.dense``, ``output.dense``)
and the one that ``transformers`` 5 writes (``layers.{i}.attention.q_proj``, ``mlp.fc1``,
``mlp.fc2``). q, k and v are stacked per head into libai's fused ``query_key_value``.
A ``ViTModel``'s pooler is not part of the classifier and is skipped; a checkpoint
without ``classifier.*`` builds a model without a head (``num_classes=0``).
"""

from __future__ import annotations

from typing import Any

from libai.models.utils.model_loader.base_loader import interleave_heads
from libai.models.utils.model_loader.checkpoint_files import CheckpointError
from libai.models.utils.model_loader.vision_loader import VisionLoader, require

# (transformers 5 name, Hub-checkpoint name) of each per-layer tensor.
_LAYER_NAMES = {
    "q": ("attention.q_proj", "attention.attention.query"),
    "k": ("attention.k_proj", "attention.attention.key"),
    "v": ("attention.v_proj", "attention.attention.value"),
    "o": ("attention.o_proj", "attention.output.dense"),
    "fc1": ("mlp.fc1", "intermediate.dense"),
    "fc2": ("mlp.fc2", "output.dense"),
    "ln1": ("layernorm_before", "layernorm_before"),
    "ln2": ("layernorm_after", "layernorm_after"),
}


def _layer_tensor(state: dict, layer: int, part: str, suffix: str) -> Any:
    new, old = _LAYER_NAMES[part]
    for key in (f"layers.{layer}.{new}.{suffix}", f"encoder.layer.{layer}.{old}.{suffix}"):
        if key in state:
            return state[key]
    raise CheckpointError(
        f"ViT checkpoint lacks layer {layer}'s {part} {suffix}: looked for "
        f"'layers.{layer}.{new}.{suffix}' and 'encoder.layer.{layer}.{old}.{suffix}'"
    )


class ViTLoaderHuggerFace(VisionLoader):
    """``VisionTransformer`` from a local HF ViT checkpoint directory."""

    base_prefix = ""
    hf_prefix = "vit."
    ignored = (r"^pooler\.",)
    head_pattern = r"^classifier\."

    def cfg_from_hf(self, hf: dict) -> dict:
        act = hf.get("hidden_act", "gelu")
        if act != "gelu":
            raise ValueError(
                f"config.json hidden_act={act!r}: libai's ViT uses exact GELU ('gelu') only"
            )
        if not hf.get("qkv_bias", True):
            raise ValueError("config.json qkv_bias=false: libai's ViT has q/k/v biases")
        hidden = hf["hidden_size"]
        return dict(
            img_size=hf.get("image_size", 224),
            patch_size=hf.get("patch_size", 16),
            in_chans=hf.get("num_channels", 3),
            embed_dim=hidden,
            depth=hf["num_hidden_layers"],
            num_heads=hf["num_attention_heads"],
            mlp_ratio=hf.get("intermediate_size", 4 * hidden) / hidden,
            drop_rate=hf.get("hidden_dropout_prob", 0.0),
            attn_drop_rate=hf.get("attention_probs_dropout_prob", 0.0),
            drop_path_rate=0.0,
            layernorm_epsilon=hf.get("layer_norm_eps", 1e-12),
        )

    def build_cfg(self) -> Any:
        cfg = super().build_cfg()
        if "num_classes" not in self.kwargs:
            head = self.read_state().get("classifier.weight")
            cfg.num_classes = 0 if head is None else int(head.shape[0])
        return cfg

    def convert(self, state: dict, cfg: Any) -> dict:
        heads = cfg.num_heads
        out = {
            "cls_token": require(state, "embeddings.cls_token"),
            "pos_embed": require(state, "embeddings.position_embeddings"),
            "patch_embed.proj.weight": require(
                state, "embeddings.patch_embeddings.projection.weight"
            ),
            "patch_embed.proj.bias": require(state, "embeddings.patch_embeddings.projection.bias"),
            "norm.weight": require(state, "layernorm.weight"),
            "norm.bias": require(state, "layernorm.bias"),
        }
        for i in range(cfg.depth):
            ours = f"blocks.{i}."
            for suffix in ("weight", "bias"):
                out[ours + f"self_attention.query_key_value.{suffix}"] = interleave_heads(
                    [_layer_tensor(state, i, p, suffix) for p in ("q", "k", "v")], heads
                )
                out[ours + f"self_attention.dense.{suffix}"] = _layer_tensor(state, i, "o", suffix)
                out[ours + f"mlp.dense_h_to_4h.{suffix}"] = _layer_tensor(state, i, "fc1", suffix)
                out[ours + f"mlp.dense_4h_to_h.{suffix}"] = _layer_tensor(state, i, "fc2", suffix)
            for suffix in ("weight", "bias"):
                out[ours + f"input_layernorm.{suffix}"] = _layer_tensor(state, i, "ln1", suffix)
                out[ours + f"post_attention_layernorm.{suffix}"] = _layer_tensor(
                    state, i, "ln2", suffix
                )
        if cfg.num_classes > 0 and "classifier.weight" in state:
            out["head.weight"] = state["classifier.weight"]
            out["head.bias"] = state["classifier.bias"]
        return out
