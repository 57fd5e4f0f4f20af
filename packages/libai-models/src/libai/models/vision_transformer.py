"""Vision Transformer (Dosovitskiy et al., 2021, https://arxiv.org/abs/2010.11929) on LiBai's layers.

Image -> patches -> ``[CLS] + patches`` with learned positions -> pre-LN transformer
blocks -> LayerNorm -> linear head on the ``[CLS]`` state. The blocks are
:class:`libai.layers.TransformerLayer`, so tensor and pipeline parallelism work as for
the NLP models and parameter names match LiBai's ViT checkpoints.

Sizes ship as configs: ``get_config("common/models/vit/vit_tiny_patch16_224.py")`` (tiny,
small, base, large, huge, giant, gigantic). Hugging Face checkpoints load with
``libai.models.utils.model_loader.ViTLoaderHuggerFace``.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import libai.config.cfg_keys as cfg_keys
from libai.config import configurable
from libai.layers import LayerNorm, Linear, PatchEmbedding, TransformerLayer
from libai.models.utils.pipeline import set_activation_checkpoints, set_pipeline_stages
from libai.models.utils.vision import (
    accepts_mapping_cfg,
    add_leading_broadcast,
    broadcast_sbp,
    cfg_kwargs,
    classification_output,
    drop_path_rates,
    init_linear_and_norm,
    init_patch_embedding,
    to_model_input,
    trunc_normal_,
)
from libai.utils import distributed as dist
from libai.utils.oneflow_env import flow

nn = flow.nn

_CFG_KEYS = [
    "img_size",
    "patch_size",
    "in_chans",
    "embed_dim",
    "depth",
    "num_heads",
    "mlp_ratio",
    "drop_rate",
    "attn_drop_rate",
    "drop_path_rate",
    "num_classes",
    "loss_func",
    "layernorm_epsilon",
]


class VisionTransformer(nn.Module):
    """ViT classifier: ``forward(images (B, C, H, W), labels=None)``.

    Training with ``labels`` returns ``{"losses": loss}``; otherwise
    ``{"prediction_scores": logits (B, num_classes)}``.

    Args (LiBai's): img_size, patch_size, in_chans, embed_dim, depth, num_heads,
        mlp_ratio, drop_rate, attn_drop_rate, drop_path_rate, num_classes (0: no head,
        the ``[CLS]`` features are returned as scores), loss_func (``None``: cross
        entropy, soft-target cross entropy for mixup's float labels).
    Extra: ``layernorm_epsilon`` (Hugging Face ViT uses 1e-12, timm 1e-6, LiBai 1e-5).
    """

    # The Hugging Face loader (libai.inference pipelines, mode="huggingface").
    hf_loader = "libai.models.utils.model_loader:ViTLoaderHuggerFace"

    @accepts_mapping_cfg
    @configurable
    def __init__(
        self,
        img_size: Any = 224,
        patch_size: Any = 16,
        in_chans: int = 3,
        embed_dim: int = 192,
        depth: int = 12,
        num_heads: int = 3,
        mlp_ratio: float = 4.0,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        num_classes: int = 1000,
        loss_func: Optional[Callable] = None,
        layernorm_epsilon: float = 1e-5,
    ) -> None:
        super().__init__()
        if embed_dim % num_heads != 0:
            raise ValueError(
                f"VisionTransformer: embed_dim={embed_dim} is not divisible by num_heads={num_heads}"
            )
        self.img_size = img_size
        self.num_classes = num_classes
        self.embed_dim = embed_dim
        self.loss_func = loss_func
        self.patch_embed = PatchEmbedding(
            img_size=img_size, patch_size=patch_size, in_chans=in_chans, embed_dim=embed_dim
        )
        num_patches = self.patch_embed.num_patches
        placement = dist.get_layer_placement(0)
        self.cls_token = nn.Parameter(
            flow.zeros(1, 1, embed_dim, placement=placement, sbp=broadcast_sbp())
        )
        self.pos_embed = nn.Parameter(
            flow.zeros(1, num_patches + 1, embed_dim, placement=placement, sbp=broadcast_sbp())
        )
        self.pos_drop = nn.Dropout(p=drop_rate)
        rates = drop_path_rates(drop_path_rate, depth)
        self.blocks = nn.Sequential(
            *[
                TransformerLayer(
                    hidden_size=embed_dim,
                    ffn_hidden_size=int(embed_dim * mlp_ratio),
                    num_attention_heads=num_heads,
                    attention_dropout_prob=attn_drop_rate,
                    output_dropout_prob=drop_rate,
                    drop_path_prob=rates[i],
                    layernorm_epsilon=layernorm_epsilon,
                    layer_idx=i,
                )
                for i in range(depth)
            ]
        )
        self.norm = LayerNorm(embed_dim, eps=layernorm_epsilon, layer_idx=-1)
        self.head = (
            Linear(embed_dim, num_classes, layer_idx=-1) if num_classes > 0 else nn.Identity()
        )

        trunc_normal_(self.pos_embed, std=0.02)
        trunc_normal_(self.cls_token, std=0.02)
        self.apply(init_linear_and_norm)
        init_patch_embedding(self.patch_embed)

    @classmethod
    def from_config(cls, cfg: Any) -> dict:
        return cfg_kwargs(cfg, _CFG_KEYS, "VisionTransformer")

    def no_weight_decay(self) -> set:
        """Parameters LiBai's ViT recipe keeps out of weight decay."""
        return {"pos_embed", "cls_token"}

    def forward_features(self, images: Any) -> Any:
        """(B, C, H, W) -> the final token states (B, 1 + patches, embed_dim), before the norm."""
        x = self.patch_embed(to_model_input(images))
        cls_token = self.cls_token.expand(x.shape[0], -1, -1).to_global(sbp=x.sbp)
        x = flow.cat((cls_token, x), dim=1)
        x = self.pos_drop(add_leading_broadcast(x, self.pos_embed))
        return self.blocks(x)

    def forward_head(self, x: Any) -> Any:
        x = self.norm(x)
        return self.head(x[:, 0])

    def forward(self, images: Any, labels: Optional[Any] = None) -> dict:
        logits = self.forward_head(self.forward_features(images))
        return classification_output(logits, labels, self.loss_func, self.training)

    @staticmethod
    def set_pipeline_stage_id(model: Any) -> None:
        """Patch embedding and positions on the first stage, blocks by index, head on the last."""

        def layer_of(module: Any) -> Optional[int]:
            if isinstance(module, PatchEmbedding):
                return 0
            if isinstance(module, TransformerLayer):
                return module.layer_idx
            return None

        set_pipeline_stages(model, layer_of)
        for name, idx in (("pos_drop", 0), ("norm", -1), ("head", -1)):
            getattr(model, name).to(nn.graph.GraphModule).set_stage(
                dist.get_layer_stage_id(idx), dist.get_layer_placement(idx)
            )

    @staticmethod
    def set_activation_checkpoint(model: Any) -> None:
        set_activation_checkpoints(model, TransformerLayer)


# The keys each model reads from LiBai's cfg= dict: `libai-engine check` reports any other.
cfg_keys.reads_cfg(extra=_CFG_KEYS)(VisionTransformer)
