"""Swin Transformer (Liu et al., 2021, https://arxiv.org/abs/2103.14030) on LiBai's layers.

Patches -> stages of window attention blocks (every second block shifts its windows
by half a window) joined by patch merging (2x2 neighbours -> one token of twice the
width) -> LayerNorm -> mean over tokens -> linear head. Parameter names follow
LiBai's (and the original) Swin: ``layers.{i}.blocks.{j}.attn.qkv``,
``layers.{i}.downsample`` at the end of stage ``i``, ``head``.

The window helpers, :class:`PatchMerging` and the private bases ``_WindowBlock`` (window
geometry, shift mask, shifted-window pass) and ``_SwinClassifier`` (embedding, stages,
norm, head, forward) are shared with :mod:`libai.models.swin_transformer_v2`.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

import libai.config.cfg_keys as cfg_keys
import numpy as np
from libai.config import configurable
from libai.layers import MLP, DropPath, LayerNorm, Linear, PatchEmbedding
from libai.models.utils.pipeline import set_activation_checkpoints, set_pipeline_stages
from libai.models.utils.vision import (
    accepts_mapping_cfg,
    add_leading_broadcast,
    broadcast_sbp,
    cfg_kwargs,
    classification_output,
    drop_path_rates,
    global_buffer,
    init_linear_and_norm,
    init_patch_embedding,
    to_model_input,
    trunc_normal_,
)
from libai.utils import distributed as dist
from libai.utils.oneflow_env import flow

nn = flow.nn


# -- window helpers ----------------------------------------------------------------
def window_partition(x: Any, window_size: int) -> Any:
    """(B, H, W, C) -> (B * windows, window_size * window_size, C), windows row-major per image."""
    b, h, w, c = x.shape
    x = x.view(b, h // window_size, window_size, w // window_size, window_size, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, window_size * window_size, c)


def window_reverse(windows: Any, window_size: int, height: int, width: int) -> Any:
    """Inverse of :func:`window_partition`: -> (B, H, W, C)."""
    c = windows.shape[-1]
    x = windows.view(-1, height // window_size, width // window_size, window_size, window_size, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, height, width, c)


def relative_position_index(window_size: int) -> np.ndarray:
    """(N, N) index into the (2w-1)^2 table of relative offsets between tokens of a window."""
    coords = np.stack(np.meshgrid(np.arange(window_size), np.arange(window_size), indexing="ij"))
    flat = coords.reshape(2, -1)
    rel = (flat[:, :, None] - flat[:, None, :]).transpose(1, 2, 0) + (window_size - 1)
    return (rel[:, :, 0] * (2 * window_size - 1) + rel[:, :, 1]).astype(np.int64)


def shifted_window_mask(height: int, width: int, window_size: int, shift: int) -> np.ndarray:
    """(windows, N, N) additive mask: -100 between tokens that the cyclic shift made neighbours."""
    regions = np.zeros((height, width), dtype=np.float32)
    cuts = (slice(0, -window_size), slice(-window_size, -shift), slice(-shift, None))
    label = 0
    for hs in cuts:
        for ws in cuts:
            regions[hs, ws] = label
            label += 1
    windows = (
        regions.reshape(height // window_size, window_size, width // window_size, window_size)
        .transpose(0, 2, 1, 3)
        .reshape(-1, window_size * window_size)
    )
    diff = windows[:, None, :] - windows[:, :, None]
    return np.where(diff != 0, -100.0, 0.0).astype(np.float32)


def window_mask_buffer(
    input_resolution: Sequence[int], window_size: int, shift: int, num_heads: int, layer_idx: int
) -> Optional[Any]:
    """The shift mask repeated per head, (windows, heads, N, N), as a global buffer (None
    without a shift). Stored per head so that adding it is a plain leading-axis broadcast."""
    if shift == 0:
        return None
    h, w = input_resolution
    mask = shifted_window_mask(h, w, window_size, shift)[:, None]
    mask = np.ascontiguousarray(np.broadcast_to(mask, (mask.shape[0], num_heads) + mask.shape[2:]))
    return global_buffer(flow.tensor(mask), layer_idx)


def add_window_mask(attn: Any, mask: Optional[Any]) -> Any:
    """Add the (windows, heads, N, N) shift mask to scores (B * windows, heads, N, N)."""
    if mask is None:
        return attn
    return add_leading_broadcast(attn, mask)


def block_window(input_resolution: Sequence[int], window_size: int, shift_size: int) -> tuple:
    """A stage smaller than the window attends over the whole stage, without shifting."""
    if min(input_resolution) <= window_size:
        return min(input_resolution), 0
    if not 0 <= shift_size < window_size:
        raise ValueError(f"shift_size={shift_size} must be in [0, window_size={window_size})")
    return window_size, shift_size


# -- blocks --------------------------------------------------------------------------
class WindowAttention(nn.Module):
    """Multi-head self-attention inside windows with a learned relative position bias."""

    def __init__(
        self,
        dim: int,
        window_size: int,
        num_heads: int,
        qkv_bias: bool = True,
        qk_scale: Optional[float] = None,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
        layer_idx: int = 0,
    ) -> None:
        super().__init__()
        self.dim = dim
        self.window_size = window_size
        self.num_heads = num_heads
        head_dim = dim // num_heads
        self.scale = qk_scale or head_dim**-0.5
        self.relative_position_bias_table = nn.Parameter(
            flow.zeros(
                (2 * window_size - 1) ** 2,
                num_heads,
                placement=dist.get_layer_placement(layer_idx),
                sbp=broadcast_sbp(),
            )
        )
        trunc_normal_(self.relative_position_bias_table, std=0.02)
        index = flow.tensor(relative_position_index(window_size).reshape(-1))
        self.register_buffer("relative_position_index", global_buffer(index, layer_idx))
        self.qkv = Linear(dim, dim * 3, bias=qkv_bias, layer_idx=layer_idx)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = Linear(dim, dim, layer_idx=layer_idx)
        self.proj_drop = nn.Dropout(proj_drop)

    def relative_bias(self) -> Any:
        """(1, heads, N, N) bias gathered from the table."""
        n = self.window_size * self.window_size
        bias = self.relative_position_bias_table[self.relative_position_index]
        return bias.view(n, n, -1).permute(2, 0, 1).unsqueeze(0)

    def forward(self, x: Any, mask: Optional[Any] = None) -> Any:
        """x: (B * windows, N, C); mask: (windows, N, N) additive, or None."""
        b, n, c = x.shape
        qkv = self.qkv(x).view(b, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = flow.matmul(q, k, transpose_b=True, alpha=self.scale)
        attn = add_window_mask(add_leading_broadcast(attn, self.relative_bias()), mask)
        attn = self.attn_drop(flow.softmax(attn, dim=-1))
        x = flow.matmul(attn, v).transpose(1, 2).reshape(b, n, c)
        return self.proj_drop(self.proj(x))


class _WindowBlock(nn.Module):
    """What V1 and V2 blocks share: window geometry, the shift mask buffer and the
    shifted-window attention pass. Each subclass creates its norms, attention and MLP in
    its own order (state_dict order depends on it) between :meth:`_init_window` and
    :meth:`_register_attn_mask`."""

    # Names the model in the error for a wrong token count.
    _label = "Swin"

    def _init_window(
        self,
        dim: int,
        input_resolution: Sequence[int],
        window_size: int,
        shift_size: int,
        layer_idx: int,
    ) -> None:
        self.dim = dim
        self.input_resolution = tuple(input_resolution)
        self.layer_idx = layer_idx
        self.window_size, self.shift_size = block_window(input_resolution, window_size, shift_size)

    def _register_attn_mask(self, num_heads: int) -> None:
        mask = window_mask_buffer(
            self.input_resolution, self.window_size, self.shift_size, num_heads, self.layer_idx
        )
        self.register_buffer("attn_mask", mask)

    def _to_layer(self, x: Any) -> Any:
        """Move the input onto this block's pipeline stage."""
        return x.to_global(placement=dist.get_layer_placement(self.layer_idx))

    def window_attention(self, x: Any) -> Any:
        """(B, H*W, C) -> shifted-window attention output of the same shape."""
        h, w = self.input_resolution
        b, length, c = x.shape
        if length != h * w:
            raise ValueError(
                f"{self._label} block expects {h}x{w}={h * w} tokens, got {length} "
                "(input_resolution mismatch)"
            )
        x = x.view(b, h, w, c)
        shift = self.shift_size
        if shift > 0:
            x = flow.roll(x, shifts=(-shift, -shift), dims=(1, 2))
        windows = self.attn(window_partition(x, self.window_size), self.attn_mask)
        x = window_reverse(windows, self.window_size, h, w)
        if shift > 0:
            x = flow.roll(x, shifts=(shift, shift), dims=(1, 2))
        return x.reshape(b, h * w, c)


class SwinTransformerBlock(_WindowBlock):
    """Pre-norm block: ``x + W-MSA(LN(x))`` then ``x + MLP(LN(x))`` on (B, H*W, C)."""

    def __init__(
        self,
        dim: int,
        input_resolution: Sequence[int],
        num_heads: int,
        window_size: int = 7,
        shift_size: int = 0,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        qk_scale: Optional[float] = None,
        drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
        layer_idx: int = 0,
    ) -> None:
        super().__init__()
        self._init_window(dim, input_resolution, window_size, shift_size, layer_idx)
        self.norm1 = LayerNorm(dim, layer_idx=layer_idx)
        self.attn = WindowAttention(
            dim,
            self.window_size,
            num_heads,
            qkv_bias=qkv_bias,
            qk_scale=qk_scale,
            attn_drop=attn_drop,
            proj_drop=drop,
            layer_idx=layer_idx,
        )
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = LayerNorm(dim, layer_idx=layer_idx)
        self.mlp = MLP(dim, int(dim * mlp_ratio), output_dropout_prob=drop, layer_idx=layer_idx)
        self._register_attn_mask(num_heads)

    def forward(self, x: Any) -> Any:
        x = self._to_layer(x)
        x = x + self.drop_path(self.window_attention(self.norm1(x)))
        return x + self.drop_path(self.mlp(self.norm2(x)))


def merge_patches(x: Any, input_resolution: Sequence[int]) -> Any:
    """(B, H*W, C) -> (B, H/2*W/2, 4C): each 2x2 neighbourhood concatenated (x00, x10, x01, x11)."""
    h, w = input_resolution
    b, length, c = x.shape
    if length != h * w or h % 2 or w % 2:
        raise ValueError(f"patch merging needs an even {h}x{w} grid of tokens, got {length} tokens")
    x = x.view(b, h, w, c)
    parts = [x[:, 0::2, 0::2, :], x[:, 1::2, 0::2, :], x[:, 0::2, 1::2, :], x[:, 1::2, 1::2, :]]
    return flow.cat(parts, dim=-1).view(b, -1, 4 * c)


class PatchMerging(nn.Module):
    """Halve the resolution, double the width: ``reduction(norm(merge(x)))`` (V1) or
    ``norm(reduction(merge(x)))`` (V2, ``post_norm=True``)."""

    def __init__(
        self, input_resolution: Sequence[int], dim: int, post_norm: bool = False, layer_idx: int = 0
    ) -> None:
        super().__init__()
        self.input_resolution = tuple(input_resolution)
        self.dim = dim
        self.post_norm = post_norm
        self.layer_idx = layer_idx
        self.reduction = Linear(4 * dim, 2 * dim, bias=False, layer_idx=layer_idx)
        self.norm = LayerNorm(2 * dim if post_norm else 4 * dim, layer_idx=layer_idx)

    def forward(self, x: Any) -> Any:
        x = merge_patches(x, self.input_resolution)
        if self.post_norm:
            return self.norm(self.reduction(x))
        return self.reduction(self.norm(x))


class BasicLayer(nn.Module):
    """One stage: ``depth`` blocks (odd ones shifted), then optional patch merging."""

    def __init__(
        self,
        block_factory: Callable[[int, int, float], nn.Module],
        depth: int,
        drop_path: Sequence[float],
        downsample: Optional[nn.Module],
        layer_id_offset: int = 0,
    ) -> None:
        super().__init__()
        self.depth = depth
        self.layer_id_offset = layer_id_offset
        self.blocks = nn.ModuleList(
            [block_factory(i, layer_id_offset + i, drop_path[i]) for i in range(depth)]
        )
        self.downsample = downsample

    def forward(self, x: Any) -> Any:
        for block in self.blocks:
            x = block(x)
        if self.downsample is not None:
            x = self.downsample(x)
        return x


def stage_resolutions(patches_resolution: Sequence[int], num_stages: int) -> list:
    return [
        (patches_resolution[0] // 2**i, patches_resolution[1] // 2**i) for i in range(num_stages)
    ]


def pooled_logits(model: Any, x: Any) -> Any:
    """Final norm, mean over tokens, head (Swin V1 and V2)."""
    x = model.norm(x).mean(dim=1)
    return model.head(x)


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
    "qk_scale",
    "drop_rate",
    "attn_drop_rate",
    "drop_path_rate",
    "ape",
    "patch_norm",
    "use_checkpoint",
    "loss_func",
]


class _SwinClassifier(nn.Module):
    """What Swin V1 and V2 classifiers share: patch embedding, optional absolute position
    embedding, stages of blocks joined by patch merging, final norm and head, and the
    forward pass. Subclasses validate their arguments, then call :meth:`_build` with a
    factory for their block type."""

    def _build(
        self,
        *,
        img_size: Any,
        patch_size: Any,
        in_chans: int,
        num_classes: int,
        embed_dim: int,
        depths: Sequence[int],
        window_size: int,
        drop_rate: float,
        drop_path_rate: float,
        ape: bool,
        patch_norm: bool,
        loss_func: Optional[Callable],
        block_type: type,
        block_kwargs: dict,
        stage_kwargs: Sequence[dict],
        merge_post_norm: bool,
    ) -> None:
        """Create every submodule in a fixed order (state_dict keys and the random
        initialisation order depend on it). Block ``j`` of stage ``i`` is
        ``block_type(dim, resolution, window_size=, shift_size=, drop_path=, layer_idx=,
        **block_kwargs, **stage_kwargs[i])``; odd blocks shift by half a window."""
        self.num_classes = num_classes
        self.num_layers = len(depths)
        self.embed_dim = embed_dim
        self.ape = ape
        self.num_features = int(embed_dim * 2 ** (self.num_layers - 1))
        self.loss_func = loss_func
        self.patch_embed = PatchEmbedding(
            img_size=img_size,
            patch_size=patch_size,
            in_chans=in_chans,
            embed_dim=embed_dim,
            norm_layer=(lambda d: LayerNorm(d, layer_idx=0)) if patch_norm else None,
        )
        self.patches_resolution = self.patch_embed.grid_size
        if ape:
            self.absolute_pos_embed = nn.Parameter(
                flow.zeros(
                    1,
                    self.patch_embed.num_patches,
                    embed_dim,
                    placement=dist.get_layer_placement(0),
                    sbp=broadcast_sbp(),
                )
            )
            trunc_normal_(self.absolute_pos_embed, std=0.02)
        self.pos_drop = nn.Dropout(p=drop_rate)

        rates = drop_path_rates(drop_path_rate, sum(depths))
        resolutions = stage_resolutions(self.patches_resolution, self.num_layers)
        self.layers = nn.ModuleList()
        offset = 0
        for i in range(self.num_layers):
            dim = int(embed_dim * 2**i)

            def block(j, layer_idx, dpr, i=i, dim=dim):
                return block_type(
                    dim,
                    resolutions[i],
                    window_size=window_size,
                    shift_size=0 if j % 2 == 0 else window_size // 2,
                    drop_path=dpr,
                    layer_idx=layer_idx,
                    **block_kwargs,
                    **stage_kwargs[i],
                )

            downsample = None
            if i < self.num_layers - 1:
                downsample = PatchMerging(
                    resolutions[i], dim, post_norm=merge_post_norm, layer_idx=offset + depths[i] - 1
                )
            self.layers.append(
                BasicLayer(block, depths[i], rates[offset : offset + depths[i]], downsample, offset)
            )
            offset += depths[i]
        self.norm = LayerNorm(self.num_features, layer_idx=-1)
        self.head = (
            Linear(self.num_features, num_classes, layer_idx=-1)
            if num_classes > 0
            else nn.Identity()
        )
        self.apply(init_linear_and_norm)
        init_patch_embedding(self.patch_embed)

    def forward_features(self, images: Any) -> Any:
        x = self.patch_embed(to_model_input(images))
        if self.ape:
            x = x + self.absolute_pos_embed
        x = self.pos_drop(x)
        for layer in self.layers:
            x = layer(x)
        return x

    def forward(self, images: Any, labels: Optional[Any] = None) -> dict:
        logits = pooled_logits(self, self.forward_features(images))
        return classification_output(logits, labels, self.loss_func, self.training)


class SwinTransformer(_SwinClassifier):
    """Swin classifier: ``forward(images (B, C, H, W), labels=None)``.

    Training with ``labels`` returns ``{"losses": loss}``; otherwise
    ``{"prediction_scores": logits}``. Args are LiBai's (``configs/common/models/swin/*.py``):
    img_size, patch_size, in_chans, num_classes, embed_dim, depths, num_heads,
    window_size, mlp_ratio, qkv_bias, qk_scale, drop_rate, attn_drop_rate,
    drop_path_rate, ape (absolute position embedding), patch_norm, use_checkpoint
    (accepted; use ``train.activation_checkpoint.enabled`` instead), loss_func.
    """

    # The Hugging Face loader (libai.inference pipelines, mode="huggingface").
    hf_loader = "libai.models.utils.model_loader:SwinLoaderHuggerFace"

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
        qk_scale: Optional[float] = None,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.1,
        ape: bool = False,
        patch_norm: bool = True,
        use_checkpoint: bool = False,
        loss_func: Optional[Callable] = None,
    ) -> None:
        super().__init__()
        depths, num_heads = list(depths), list(num_heads)
        if len(depths) != len(num_heads):
            raise ValueError(
                f"SwinTransformer: depths={depths} and num_heads={num_heads} need one entry per stage"
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
            block_type=SwinTransformerBlock,
            block_kwargs=dict(
                mlp_ratio=mlp_ratio,
                qkv_bias=qkv_bias,
                qk_scale=qk_scale,
                drop=drop_rate,
                attn_drop=attn_drop_rate,
            ),
            stage_kwargs=[dict(num_heads=heads) for heads in num_heads],
            merge_post_norm=False,
        )

    @classmethod
    def from_config(cls, cfg: Any) -> dict:
        return cfg_kwargs(cfg, _CFG_KEYS, "SwinTransformer")

    def no_weight_decay(self) -> set:
        return {"absolute_pos_embed", "relative_position_bias_table"}

    @staticmethod
    def set_pipeline_stage_id(model: Any) -> None:
        set_swin_pipeline_stages(model, SwinTransformerBlock)

    @staticmethod
    def set_activation_checkpoint(model: Any) -> None:
        set_activation_checkpoints(model, SwinTransformerBlock)


def set_swin_pipeline_stages(model: Any, block_type: type) -> None:
    """Patch embedding on the first stage, blocks and merges by index, norm and head on the last."""

    def layer_of(module: Any) -> Optional[int]:
        if isinstance(module, PatchEmbedding):
            return 0
        if isinstance(module, (block_type, PatchMerging)):
            return module.layer_idx
        return None

    set_pipeline_stages(model, layer_of)
    for name, idx in (("pos_drop", 0), ("norm", -1), ("head", -1)):
        getattr(model, name).to(nn.graph.GraphModule).set_stage(
            dist.get_layer_stage_id(idx), dist.get_layer_placement(idx)
        )


# The keys each model reads from LiBai's cfg= dict: `libai-engine check` reports any other.
cfg_keys.reads_cfg(extra=_CFG_KEYS)(SwinTransformer)
