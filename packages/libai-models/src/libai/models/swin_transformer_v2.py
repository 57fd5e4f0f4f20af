"""Swin Transformer V2 (Liu et al., 2022, https://arxiv.org/abs/2111.09883) on LiBai's layers.

What changes from :mod:`libai.models.swin_transformer`: scaled cosine attention (a
learned per-head temperature ``logit_scale``), a continuous relative position bias
produced by a small MLP (``cpb_mlp``) from log-spaced coordinates, residual
post-norm blocks (``x + LN(attn(x))``), and patch merging that normalises after the
reduction. Parameter names follow LiBai's SwinV2.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Optional, Sequence

import libai.config.cfg_keys as cfg_keys
import numpy as np
from libai.config import configurable
from libai.layers import MLP, DropPath, LayerNorm, Linear
from libai.models.swin_transformer import (
    _SwinClassifier,
    _WindowBlock,
    add_window_mask,
    relative_position_index,
    set_swin_pipeline_stages,
)
from libai.models.utils.pipeline import set_activation_checkpoints
from libai.models.utils.vision import (
    accepts_mapping_cfg,
    add_leading_broadcast,
    cfg_kwargs,
    global_buffer,
    global_param,
)
from libai.utils.oneflow_env import flow

nn = flow.nn

# The temperature exp(logit_scale) is capped at 100 (the paper's clamp).
_MAX_LOGIT_SCALE = math.log(1.0 / 0.01)


def log_spaced_coords(window_size: int, pretrained_window_size: int) -> np.ndarray:
    """(1, 2w-1, 2w-1, 2) relative coordinates mapped to sign(x) * log2(1 + |8x|) / 3.

    Offsets are first scaled to [-1, 1] by the pre-training window (or this window),
    so a checkpoint transfers to a larger window.
    """
    span = np.arange(-(window_size - 1), window_size, dtype=np.float32)
    table = np.stack(np.meshgrid(span, span, indexing="ij")).transpose(1, 2, 0)[None]
    reference = pretrained_window_size if pretrained_window_size > 0 else window_size
    table = table / max(reference - 1, 1) * 8.0
    return (np.sign(table) * np.log2(np.abs(table) + 1.0) / math.log2(8.0)).astype(np.float32)


class WindowAttentionV2(nn.Module):
    """Scaled cosine window attention with a continuous position bias (``cpb_mlp``)."""

    def __init__(
        self,
        dim: int,
        window_size: int,
        num_heads: int,
        qkv_bias: bool = True,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
        pretrained_window_size: int = 0,
        layer_idx: int = 0,
    ) -> None:
        super().__init__()
        self.dim = dim
        self.window_size = window_size
        self.num_heads = num_heads
        self.logit_scale = global_param((1, num_heads, 1, 1), math.log(10.0), layer_idx)
        self.cpb_mlp = nn.Sequential(
            Linear(2, 512, bias=True, layer_idx=layer_idx),
            nn.ReLU(),
            Linear(512, num_heads, bias=False, layer_idx=layer_idx),
        )
        coords = flow.tensor(log_spaced_coords(window_size, pretrained_window_size))
        self.register_buffer("relative_coords_table", global_buffer(coords, layer_idx))
        index = flow.tensor(relative_position_index(window_size).reshape(-1))
        self.register_buffer("relative_position_index", global_buffer(index, layer_idx))
        self.qkv = Linear(dim, dim * 3, bias=False, layer_idx=layer_idx)
        if qkv_bias:
            self.q_bias = global_param((dim,), 0.0, layer_idx)
            self.v_bias = global_param((dim,), 0.0, layer_idx)
        else:
            self.q_bias = None
            self.v_bias = None
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = Linear(dim, dim, layer_idx=layer_idx)
        self.proj_drop = nn.Dropout(proj_drop)

    def relative_bias(self) -> Any:
        """(1, heads, N, N) bias in (0, 16) from the coordinate MLP."""
        n = self.window_size * self.window_size
        table = self.cpb_mlp(self.relative_coords_table).view(-1, self.num_heads)
        bias = table[self.relative_position_index].view(n, n, -1).permute(2, 0, 1)
        return 16.0 * flow.sigmoid(bias).unsqueeze(0)

    def forward(self, x: Any, mask: Optional[Any] = None) -> Any:
        b, n, c = x.shape
        qkv = self.qkv(x)
        if self.q_bias is not None:
            # The key projection has no bias (a constant shift of k cancels in the softmax).
            # `v_bias * 0` rather than a zeros factory: inside nn.Graph a factory op is not
            # registered with the block's pipeline stage.
            k_bias = self.v_bias.detach() * 0.0
            qkv = add_leading_broadcast(qkv, flow.cat([self.q_bias, k_bias, self.v_bias], dim=0))
        qkv = qkv.view(b, n, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        q = flow.nn.functional.normalize(q, dim=-1)
        k = flow.nn.functional.normalize(k, dim=-1)
        scale = flow.clamp(self.logit_scale, max=_MAX_LOGIT_SCALE).exp()
        attn = flow.matmul(q, k, transpose_b=True) * scale
        attn = add_window_mask(add_leading_broadcast(attn, self.relative_bias()), mask)
        attn = self.attn_drop(flow.softmax(attn, dim=-1))
        x = flow.matmul(attn, v).transpose(1, 2).reshape(b, n, c)
        return self.proj_drop(self.proj(x))


class SwinTransformerBlockV2(_WindowBlock):
    """Residual post-norm block: ``x + LN(W-MSA(x))`` then ``x + LN(MLP(x))``."""

    _label = "SwinV2"

    def __init__(
        self,
        dim: int,
        input_resolution: Sequence[int],
        num_heads: int,
        window_size: int = 7,
        shift_size: int = 0,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
        pretrained_window_size: int = 0,
        layer_idx: int = 0,
    ) -> None:
        super().__init__()
        self._init_window(dim, input_resolution, window_size, shift_size, layer_idx)
        self.attn = WindowAttentionV2(
            dim,
            self.window_size,
            num_heads,
            qkv_bias=qkv_bias,
            attn_drop=attn_drop,
            proj_drop=drop,
            pretrained_window_size=pretrained_window_size,
            layer_idx=layer_idx,
        )
        self.norm1 = LayerNorm(dim, layer_idx=layer_idx)
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.mlp = MLP(dim, int(dim * mlp_ratio), output_dropout_prob=drop, layer_idx=layer_idx)
        self.norm2 = LayerNorm(dim, layer_idx=layer_idx)
        self._register_attn_mask(num_heads)

    def forward(self, x: Any) -> Any:
        x = self._to_layer(x)
        x = x + self.drop_path(self.norm1(self.window_attention(x)))
        return x + self.drop_path(self.norm2(self.mlp(x)))


_CFG_KEYS = [
    "img_size",
    "patch_size",
    "in_chans",
    "num_classes",
    "embed_dim",
    "depths",
    "num_heads",
    "window_size",
    "mlp_ratio",
    "qkv_bias",
    "drop_rate",
    "attn_drop_rate",
    "drop_path_rate",
    "ape",
    "patch_norm",
    "pretrained_window_sizes",
    "use_checkpoint",
    "loss_func",
]


class SwinTransformerV2(_SwinClassifier):
    """SwinV2 classifier: ``forward(images, labels=None)`` as :class:`SwinTransformer`.

    Args are LiBai's (``configs/common/models/swinv2/*.py``): img_size, patch_size,
    in_chans, num_classes, embed_dim, depths, num_heads, window_size, mlp_ratio,
    qkv_bias, drop_rate, attn_drop_rate, drop_path_rate, ape, patch_norm,
    pretrained_window_sizes (one per stage, 0 or None: this window), use_checkpoint (accepted;
    use ``train.activation_checkpoint.enabled``), loss_func.
    """

    # The Hugging Face loader (libai.inference pipelines, mode="huggingface").
    hf_loader = "libai.models.utils.model_loader:SwinV2LoaderHuggerFace"

    @accepts_mapping_cfg
    @configurable
    def __init__(
        self,
        img_size: Any = 224,
        patch_size: Any = 4,
        in_chans: int = 3,
        num_classes: int = 1000,
        embed_dim: int = 96,
        depths: Sequence[int] = (2, 2, 6, 2),
        num_heads: Sequence[int] = (3, 6, 12, 24),
        window_size: int = 7,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.1,
        ape: bool = False,
        patch_norm: bool = True,
        pretrained_window_sizes: Optional[Sequence[int]] = None,
        use_checkpoint: bool = False,
        loss_func: Optional[Callable] = None,
    ) -> None:
        super().__init__()
        depths, num_heads = list(depths), list(num_heads)
        if pretrained_window_sizes is None:
            pretrained_window_sizes = [0] * len(depths)
        pretrained_window_sizes = list(pretrained_window_sizes)
        if not len(depths) == len(num_heads) == len(pretrained_window_sizes):
            raise ValueError(
                f"SwinTransformerV2: depths={depths}, num_heads={num_heads} and "
                f"pretrained_window_sizes={pretrained_window_sizes} need one entry per stage"
            )
        self._build(
            img_size=img_size,
            patch_size=patch_size,
            in_chans=in_chans,
            num_classes=num_classes,
            embed_dim=embed_dim,
            depths=depths,
            window_size=window_size,
            drop_rate=drop_rate,
            drop_path_rate=drop_path_rate,
            ape=ape,
            patch_norm=patch_norm,
            loss_func=loss_func,
            block_type=SwinTransformerBlockV2,
            block_kwargs=dict(
                mlp_ratio=mlp_ratio,
                qkv_bias=qkv_bias,
                drop=drop_rate,
                attn_drop=attn_drop_rate,
            ),
            stage_kwargs=[
                dict(num_heads=heads, pretrained_window_size=pws)
                for heads, pws in zip(num_heads, pretrained_window_sizes)
            ],
            merge_post_norm=True,
        )
        # Residual post-norms start at zero, so every block starts as the identity.
        for layer in self.layers:
            for blk in layer.blocks:
                for norm in (blk.norm1, blk.norm2):
                    nn.init.zeros_(norm.weight)
                    nn.init.zeros_(norm.bias)

    @classmethod
    def from_config(cls, cfg: Any) -> dict:
        return cfg_kwargs(cfg, _CFG_KEYS, "SwinTransformerV2")

    def no_weight_decay(self) -> set:
        return {"absolute_pos_embed", "cpb_mlp", "logit_scale"}

    @staticmethod
    def set_pipeline_stage_id(model: Any) -> None:
        set_swin_pipeline_stages(model, SwinTransformerBlockV2)

    @staticmethod
    def set_activation_checkpoint(model: Any) -> None:
        set_activation_checkpoints(model, SwinTransformerBlockV2)


# The keys each model reads from LiBai's cfg= dict: `libai-engine check` reports any other.
cfg_keys.reads_cfg(extra=_CFG_KEYS)(SwinTransformerV2)
