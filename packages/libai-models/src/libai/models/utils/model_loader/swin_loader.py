"""timm Swin / SwinV2 checkpoints (``model.safetensors`` or ``pytorch_model.bin`` +
``config.json``) -> libai's :class:`~libai.models.SwinTransformer` /
:class:`~libai.models.SwinTransformerV2`.

Both stage layouts are read: timm >= 0.9 puts a stage's patch merging at the *start*
of the next stage (``layers.{i+1}.downsample``), the original Microsoft checkpoints
(and LiBai) at the *end* of the stage (``layers.{i}.downsample``). Buffers that the
models recompute (relative position index, shift masks, coordinate tables) are skipped.
"""

from __future__ import annotations

from typing import Any

from libai.models.utils.model_loader.timm_config import timm_cfg
from libai.models.utils.model_loader.vision_loader import VisionLoader, require

_SWIN_SIZES = {
    "tiny": dict(embed_dim=96, depths=[2, 2, 6, 2], num_heads=[3, 6, 12, 24]),
    "small": dict(embed_dim=96, depths=[2, 2, 18, 2], num_heads=[3, 6, 12, 24]),
    "base": dict(embed_dim=128, depths=[2, 2, 18, 2], num_heads=[4, 8, 16, 32]),
    "large": dict(embed_dim=192, depths=[2, 2, 18, 2], num_heads=[6, 12, 24, 48]),
}

_V1_PATTERNS = {
    r"swin_(tiny|small|base|large)_patch(\d+)_window(\d+)_(\d+)(\..*)?": lambda m: dict(
        _SWIN_SIZES[m.group(1)],
        patch_size=int(m.group(2)),
        window_size=int(m.group(3)),
        img_size=int(m.group(4)),
    ),
}
_V2_PATTERNS = {
    r"swinv2_(tiny|small|base|large)_window(\d+)_(\d+)(\..*)?": lambda m: dict(
        _SWIN_SIZES[m.group(1)],
        patch_size=4,
        window_size=int(m.group(2)),
        img_size=int(m.group(3)),
    ),
}
_RENAMES = {
    name: None
    for name in (
        "img_size",
        "patch_size",
        "in_chans",
        "embed_dim",
        "depths",
        "num_heads",
        "window_size",
        "mlp_ratio",
        "qkv_bias",
        "drop_rate",
        "attn_drop_rate",
        "drop_path_rate",
        "patch_norm",
        "ape",
    )
}
_V2_RENAMES = dict(_RENAMES, pretrained_window_sizes=None)
_HARMLESS = frozenset({"global_pool", "strict_img_size", "num_classes"})
_BUFFERS = (r"relative_position_index$", r"attn_mask$", r"relative_coords_table$")


def _fill_defaults(cfg: dict) -> None:
    cfg.setdefault("mlp_ratio", 4.0)
    if cfg.get("drop_path_rate") is None:
        cfg["drop_path_rate"] = 0.0


def _downsample_layout(state: dict, num_stages: int) -> int:
    """0: merging at the end of stage i (original); 1: at the start of stage i + 1 (timm)."""
    if num_stages > 1 and "layers.0.downsample.reduction.weight" in state:
        return 0
    return 1


class SwinLoaderHuggerFace(VisionLoader):
    """``SwinTransformer`` from a local timm (or original) Swin checkpoint directory."""

    base_prefix = ""
    hf_prefix = ""
    ignored = _BUFFERS
    patterns = _V1_PATTERNS
    renames = _RENAMES
    family = "Swin"

    def cfg_from_hf(self, hf: dict) -> dict:
        cfg = timm_cfg(hf, self.family, self.patterns, self.renames, _HARMLESS, _fill_defaults)
        cfg.setdefault("drop_rate", 0.0)
        cfg.setdefault("attn_drop_rate", 0.0)
        return cfg

    def build_cfg(self) -> Any:
        cfg = super().build_cfg()
        if "num_classes" not in self.kwargs:
            state = self.read_state()
            head = state.get("head.fc.weight", state.get("head.weight"))
            cfg.num_classes = 0 if head is None else int(head.shape[0])
        return cfg

    def convert_attention(self, state: dict, src: str, dst: str) -> dict:
        out = {}
        for suffix in ("weight", "bias"):
            out[f"{dst}attn.qkv.{suffix}"] = require(state, f"{src}attn.qkv.{suffix}")
        out[f"{dst}attn.relative_position_bias_table"] = require(
            state, f"{src}attn.relative_position_bias_table"
        )
        return out

    def convert(self, state: dict, cfg: Any) -> dict:
        depths = list(cfg.depths)
        shift = _downsample_layout(state, len(depths))
        out = {}
        for suffix in ("weight", "bias"):
            out[f"patch_embed.proj.{suffix}"] = require(state, f"patch_embed.proj.{suffix}")
            if cfg.get("patch_norm", True):
                out[f"patch_embed.norm.{suffix}"] = require(state, f"patch_embed.norm.{suffix}")
            out[f"norm.{suffix}"] = require(state, f"norm.{suffix}")
        if cfg.get("ape", False):
            out["absolute_pos_embed"] = require(state, "absolute_pos_embed")
        for i, depth in enumerate(depths):
            for j in range(depth):
                src = dst = f"layers.{i}.blocks.{j}."
                out.update(self.convert_attention(state, src, dst))
                for suffix in ("weight", "bias"):
                    for norm in ("norm1", "norm2"):
                        out[f"{dst}{norm}.{suffix}"] = require(state, f"{src}{norm}.{suffix}")
                    out[f"{dst}attn.proj.{suffix}"] = require(state, f"{src}attn.proj.{suffix}")
                    out[f"{dst}mlp.dense_h_to_4h.{suffix}"] = require(
                        state, f"{src}mlp.fc1.{suffix}"
                    )
                    out[f"{dst}mlp.dense_4h_to_h.{suffix}"] = require(
                        state, f"{src}mlp.fc2.{suffix}"
                    )
            if i < len(depths) - 1:
                src = f"layers.{i + shift}.downsample."
                out[f"layers.{i}.downsample.reduction.weight"] = require(
                    state, src + "reduction.weight"
                )
                for suffix in ("weight", "bias"):
                    out[f"layers.{i}.downsample.norm.{suffix}"] = require(
                        state, f"{src}norm.{suffix}"
                    )
        if cfg.num_classes > 0:
            prefix = "head.fc." if "head.fc.weight" in state else "head."
            for suffix in ("weight", "bias"):
                out[f"head.{suffix}"] = require(state, prefix + suffix)
        return out


class SwinV2LoaderHuggerFace(SwinLoaderHuggerFace):
    """``SwinTransformerV2`` from a local timm (or original) SwinV2 checkpoint directory."""

    patterns = _V2_PATTERNS
    renames = _V2_RENAMES
    family = "SwinV2"

    def convert_attention(self, state: dict, src: str, dst: str) -> dict:
        out = {f"{dst}attn.qkv.weight": require(state, f"{src}attn.qkv.weight")}
        if f"{src}attn.q_bias" in state:
            out[f"{dst}attn.q_bias"] = state[f"{src}attn.q_bias"]
            out[f"{dst}attn.v_bias"] = require(state, f"{src}attn.v_bias")
        scale = require(state, f"{src}attn.logit_scale")
        out[f"{dst}attn.logit_scale"] = scale.reshape(1, -1, 1, 1)  # timm: (heads, 1, 1)
        out[f"{dst}attn.cpb_mlp.0.weight"] = require(state, f"{src}attn.cpb_mlp.0.weight")
        out[f"{dst}attn.cpb_mlp.0.bias"] = require(state, f"{src}attn.cpb_mlp.0.bias")
        out[f"{dst}attn.cpb_mlp.2.weight"] = require(state, f"{src}attn.cpb_mlp.2.weight")
        return out
