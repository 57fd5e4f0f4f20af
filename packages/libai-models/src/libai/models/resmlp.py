"""ResMLP (Touvron et al., 2021, https://arxiv.org/abs/2105.03404) on LiBai's layers.

Patches -> blocks of (a linear layer mixing *patches*, then an MLP mixing *channels*),
each residual branch scaled by a learned per-channel factor and normalised by an
:class:`Affine` (``alpha * x + beta``) instead of a LayerNorm -> Affine -> mean over
patches -> linear head. Parameter names follow LiBai's ResMLP (``blocks.{i}.attn`` is the
patch-mixing layer, ``gamma_1``/``gamma_2`` the layer scales).
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import libai.config.cfg_keys as cfg_keys
from libai.config import configurable
from libai.layers import MLP, DropPath, Linear, PatchEmbedding
from libai.models.utils.pipeline import set_activation_checkpoints, set_pipeline_stages
from libai.models.utils.vision import (
    accepts_mapping_cfg,
    cfg_kwargs,
    classification_output,
    global_param,
    init_linear_and_norm,
    init_patch_embedding,
    to_model_input,
)
from libai.utils import distributed as dist
from libai.utils.oneflow_env import flow

nn = flow.nn


class Affine(nn.Module):
    """``alpha * x + beta`` per channel: ResMLP's normalisation (no statistics)."""

    def __init__(self, dim: int, *, layer_idx: int = 0) -> None:
        super().__init__()
        self.layer_idx = layer_idx
        self.alpha = global_param((dim,), 1.0, layer_idx)
        self.beta = global_param((dim,), 0.0, layer_idx)

    def forward(self, x: Any) -> Any:
        x = x.to_global(placement=self.alpha.placement)
        return self.alpha * x + self.beta


class ResMLPBlock(nn.Module):
    """``x + gamma_1 * attn(norm1(x)^T)^T`` (patch mixing), then ``x + gamma_2 * mlp(norm2(x))``."""

    def __init__(
        self,
        dim: int,
        drop: float = 0.0,
        drop_path: float = 0.0,
        init_values: float = 1e-4,
        num_patches: int = 196,
        *,
        layer_idx: int = 0,
    ) -> None:
        super().__init__()
        self.layer_idx = layer_idx
        self.norm1 = Affine(dim, layer_idx=layer_idx)
        self.attn = Linear(num_patches, num_patches, layer_idx=layer_idx)
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = Affine(dim, layer_idx=layer_idx)
        self.mlp = MLP(dim, 4 * dim, output_dropout_prob=drop, layer_idx=layer_idx)
        self.gamma_1 = global_param((dim,), init_values, layer_idx)
        self.gamma_2 = global_param((dim,), init_values, layer_idx)

    def forward(self, x: Any) -> Any:
        x = x.to_global(placement=dist.get_layer_placement(self.layer_idx))
        mixed = self.attn(self.norm1(x).transpose(1, 2)).transpose(1, 2)
        x = x + self.drop_path(self.gamma_1 * mixed)
        return x + self.drop_path(self.gamma_2 * self.mlp(self.norm2(x)))


# LiBai's name for the block.
layers_scale_mlp_blocks = ResMLPBlock

_CFG_KEYS = [
    "img_size",
    "patch_size",
    "in_chans",
    "embed_dim",
    "depth",
    "drop_rate",
    "drop_path_rate",
    "init_scale",
    "num_classes",
    "loss_func",
]


class ResMLP(nn.Module):
    """ResMLP classifier: ``forward(images (B, C, H, W), labels=None)``.

    Training with ``labels`` returns ``{"losses": loss}``; otherwise
    ``{"prediction_scores": logits}``. Args are LiBai's (``configs/common/models/resmlp/*.py``):
    img_size, patch_size, in_chans, embed_dim, depth, drop_rate, drop_path_rate (the
    same rate in every block, as the paper), init_scale (initial layer scale),
    num_classes, loss_func.
    """

    # The Hugging Face loader (libai.inference pipelines, mode="huggingface").
    hf_loader = "libai.models.utils.model_loader:ResMLPLoaderHuggerFace"

    @accepts_mapping_cfg
    @configurable
    def __init__(
        self,
        img_size: Any = 224,
        patch_size: Any = 16,
        in_chans: int = 3,
        embed_dim: int = 768,
        depth: int = 12,
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        init_scale: float = 1e-4,
        num_classes: int = 1000,
        loss_func: Optional[Callable] = None,
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.num_features = self.embed_dim = embed_dim
        self.loss_func = loss_func
        self.patch_embed = PatchEmbedding(
            img_size=img_size, patch_size=patch_size, in_chans=in_chans, embed_dim=embed_dim
        )
        num_patches = self.patch_embed.num_patches
        self.blocks = nn.ModuleList(
            [
                ResMLPBlock(
                    embed_dim,
                    drop=drop_rate,
                    drop_path=drop_path_rate,
                    init_values=init_scale,
                    num_patches=num_patches,
                    layer_idx=i,
                )
                for i in range(depth)
            ]
        )
        self.norm = Affine(embed_dim, layer_idx=-1)
        self.head = (
            Linear(embed_dim, num_classes, layer_idx=-1) if num_classes > 0 else nn.Identity()
        )
        self.apply(init_linear_and_norm)
        init_patch_embedding(self.patch_embed)

    @classmethod
    def from_config(cls, cfg: Any) -> dict:
        return cfg_kwargs(cfg, _CFG_KEYS, "ResMLP")

    def no_weight_decay(self) -> set:
        return {"alpha", "beta", "gamma_1", "gamma_2"}

    def forward_features(self, images: Any) -> Any:
        x = self.patch_embed(to_model_input(images))
        for block in self.blocks:
            x = block(x)
        return x

    def forward_head(self, x: Any) -> Any:
        return self.head(self.norm(x).mean(dim=1))

    def forward(self, images: Any, labels: Optional[Any] = None) -> dict:
        logits = self.forward_head(self.forward_features(images))
        return classification_output(logits, labels, self.loss_func, self.training)

    @staticmethod
    def set_pipeline_stage_id(model: Any) -> None:
        def layer_of(module: Any) -> Optional[int]:
            if isinstance(module, PatchEmbedding):
                return 0
            if isinstance(module, ResMLPBlock):
                return module.layer_idx
            return None

        set_pipeline_stages(model, layer_of)
        for name in ("norm", "head"):
            getattr(model, name).to(nn.graph.GraphModule).set_stage(
                dist.get_layer_stage_id(-1), dist.get_layer_placement(-1)
            )

    @staticmethod
    def set_activation_checkpoint(model: Any) -> None:
        set_activation_checkpoints(model, ResMLPBlock)


# The keys each model reads from LiBai's cfg= dict: `libai-engine check` reports any other.
cfg_keys.reads_cfg(extra=_CFG_KEYS)(ResMLP)
