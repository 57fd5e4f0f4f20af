"""timm ResMLP checkpoints (``resmlp_12_224`` ...: ``model.safetensors`` or
``pytorch_model.bin`` + ``config.json``) -> libai's :class:`~libai.models.ResMLP`.

timm's names: ``stem.proj`` (patch embedding), ``blocks.{i}.linear_tokens`` (patch
mixing, libai's ``attn``), ``mlp_channels.fc1/fc2``, layer scales ``ls1``/``ls2``
(libai's ``gamma_1``/``gamma_2``) and Affine norms stored as ``(1, 1, dim)``.
"""

from __future__ import annotations

from typing import Any

from libai.models.utils.model_loader.timm_config import TimmConfigError, timm_cfg
from libai.models.utils.model_loader.vision_loader import VisionLoader, require

_PATTERNS = {
    r"resmlp_(12|24|36)_224(\..*)?": lambda m: dict(
        img_size=224, patch_size=16, embed_dim=384, depth=int(m.group(1))
    ),
    r"resmlp_big_24_224(\..*)?": lambda m: dict(
        img_size=224, patch_size=8, embed_dim=768, depth=24
    ),
}
_RENAMES = {
    "img_size": None,
    "patch_size": None,
    "in_chans": None,
    "embed_dim": None,
    "num_blocks": "depth",
    "mlp_ratio": None,
    "drop_rate": None,
    "drop_path_rate": None,
}
_HARMLESS = frozenset({"global_pool", "num_classes", "stem_norm"})


def _check(cfg: dict) -> None:
    ratio = cfg.pop("mlp_ratio", 4)
    if ratio != 4:
        raise TimmConfigError(f"config.json model_args.mlp_ratio={ratio}: ResMLP uses 4")


class ResMLPLoaderHuggerFace(VisionLoader):
    """``ResMLP`` from a local timm ResMLP checkpoint directory."""

    base_prefix = ""
    hf_prefix = ""

    def cfg_from_hf(self, hf: dict) -> dict:
        cfg = timm_cfg(hf, "ResMLP", _PATTERNS, _RENAMES, _HARMLESS, _check)
        cfg.setdefault("drop_rate", 0.0)
        cfg.setdefault("drop_path_rate", 0.0)
        return cfg

    def build_cfg(self) -> Any:
        cfg = super().build_cfg()
        if "num_classes" not in self.kwargs:
            head = self.read_state().get("head.weight")
            cfg.num_classes = 0 if head is None else int(head.shape[0])
        return cfg

    def convert(self, state: dict, cfg: Any) -> dict:
        out = {}
        for suffix in ("weight", "bias"):
            out[f"patch_embed.proj.{suffix}"] = require(state, f"stem.proj.{suffix}")
        for part in ("alpha", "beta"):
            out[f"norm.{part}"] = require(state, f"norm.{part}").reshape(-1)
        for i in range(cfg.depth):
            src = dst = f"blocks.{i}."
            out[dst + "gamma_1"] = require(state, src + "ls1")
            out[dst + "gamma_2"] = require(state, src + "ls2")
            for norm in ("norm1", "norm2"):
                for part in ("alpha", "beta"):
                    out[f"{dst}{norm}.{part}"] = require(state, f"{src}{norm}.{part}").reshape(-1)
            for suffix in ("weight", "bias"):
                out[f"{dst}attn.{suffix}"] = require(state, f"{src}linear_tokens.{suffix}")
                out[f"{dst}mlp.dense_h_to_4h.{suffix}"] = require(
                    state, f"{src}mlp_channels.fc1.{suffix}"
                )
                out[f"{dst}mlp.dense_4h_to_h.{suffix}"] = require(
                    state, f"{src}mlp_channels.fc2.{suffix}"
                )
        if cfg.num_classes > 0:
            for suffix in ("weight", "bias"):
                out[f"head.{suffix}"] = require(state, f"head.{suffix}")
        return out
