"""``PatchEmbedding``: image to a sequence of patch vectors (ViT, Swin, ResMLP)."""

from __future__ import annotations

from typing import Callable, Optional, Union

from libai.utils import distributed as dist
from libai.utils.oneflow_env import flow

nn = flow.nn


def _pair(value: Union[int, tuple]) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


class PatchEmbedding(nn.Module):
    """Cut an image into ``patch_size`` patches and project each to ``embed_dim``.

    Input ``(B, in_chans, H, W)``; output ``(B, num_patches, embed_dim)`` when
    ``flatten`` (else ``(B, embed_dim, H/p, W/p)``). Raises ``ValueError`` when the
    image size differs from ``img_size``.
    """

    def __init__(
        self,
        img_size: Union[int, tuple] = 224,
        patch_size: Union[int, tuple] = 16,
        in_chans: int = 3,
        embed_dim: int = 768,
        norm_layer: Optional[Callable] = None,
        flatten: bool = True,
        *,
        layer_idx: int = 0,
    ) -> None:
        super().__init__()
        self.img_size = _pair(img_size)
        self.patch_size = _pair(patch_size)
        self.grid_size = (
            self.img_size[0] // self.patch_size[0],
            self.img_size[1] // self.patch_size[1],
        )
        self.num_patches = self.grid_size[0] * self.grid_size[1]
        self.flatten = flatten
        self.layer_idx = layer_idx
        placement = dist.get_layer_placement(layer_idx)
        sbp = dist.get_nd_sbp([flow.sbp.broadcast, flow.sbp.broadcast])
        self.proj = nn.Conv2d(
            in_chans, embed_dim, kernel_size=self.patch_size, stride=self.patch_size
        ).to_global(placement=placement, sbp=sbp)
        self.norm = norm_layer(embed_dim) if norm_layer is not None else nn.Identity()

    def forward(self, x):
        _, _, height, width = x.shape
        if (height, width) != self.img_size:
            raise ValueError(
                f"PatchEmbedding got an image of {height}x{width}, but was built for "
                f"img_size={self.img_size[0]}x{self.img_size[1]}"
            )
        placement = self.proj.weight.placement
        if not x.is_global:
            x = x.to_global(placement=placement, sbp=dist.get_hidden_sbp())
        elif x.placement != placement:
            x = x.to_global(placement=placement)
        x = self.proj(x)
        if self.flatten:
            x = x.flatten(2).transpose(1, 2)  # (B, C, H', W') -> (B, H'W', C)
        return self.norm(x)
