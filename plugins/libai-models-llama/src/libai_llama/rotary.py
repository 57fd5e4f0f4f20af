"""Rotary position embeddings (Su et al., 2021, "RoFormer") with Llama's scalings.

The inverse frequencies are computed in numpy float32 the way transformers computes them,
so cos/sin agree with Hugging Face to float32 rounding:

* default: ``1 / theta ** (2i / d)``;
* ``linear`` (position interpolation): frequencies divided by ``factor``;
* ``dynamic`` (NTK-aware): past ``original_max_position_embeddings`` the base grows with
  the sequence length, ``theta * (factor * L / L0 - (factor - 1)) ** (d / (d - 2))``;
* ``llama3``: long wavelengths divided by ``factor``, short ones kept, a smooth ramp between
  (``low_freq_factor``, ``high_freq_factor``, ``original_max_position_embeddings``).

Rotation pairs dimension ``j`` with ``j + d/2`` (transformers' ``rotate_half`` layout),
which is how Hugging Face Llama checkpoints store q and k.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np
from libai.utils import distributed as dist
from libai.utils.oneflow_env import flow

nn = flow.nn


def inv_frequencies(
    head_dim: int,
    rope_theta: float,
    rope_scaling: Optional[dict] = None,
    max_position_embeddings: int = 2048,
    seq_len: Optional[int] = None,
) -> np.ndarray:
    """The ``head_dim // 2`` inverse frequencies (float32) for a sequence of ``seq_len``.

    ``seq_len`` matters only for ``dynamic`` scaling.
    """
    exponents = np.arange(0, head_dim, 2, dtype=np.int64).astype(np.float32) / np.float32(head_dim)
    rope_type = (rope_scaling or {}).get("rope_type", "default")
    base = np.float32(rope_theta)
    if rope_type == "dynamic":
        original = rope_scaling.get("original_max_position_embeddings", max_position_embeddings)
        factor = float(rope_scaling["factor"])
        length = seq_len if seq_len is not None and seq_len > original else original
        base = np.float32(
            rope_theta
            * ((factor * length / original) - (factor - 1)) ** (head_dim / (head_dim - 2))
        )
    inv_freq = (np.float32(1.0) / (base**exponents)).astype(np.float32)
    if rope_type == "linear":
        inv_freq = (inv_freq / np.float32(rope_scaling["factor"])).astype(np.float32)
    elif rope_type == "llama3":
        inv_freq = _llama3(inv_freq, rope_scaling)
    return inv_freq


def _llama3(inv_freq: np.ndarray, scaling: dict) -> np.ndarray:
    factor = scaling["factor"]
    low, high = scaling["low_freq_factor"], scaling["high_freq_factor"]
    old_context = scaling["original_max_position_embeddings"]
    low_freq_wavelen = old_context / low
    high_freq_wavelen = old_context / high
    wavelen = np.float32(2 * math.pi) / inv_freq
    scaled = np.where(wavelen > low_freq_wavelen, inv_freq / np.float32(factor), inv_freq)
    smooth = (old_context / wavelen - low) / (high - low)
    smoothed = (1 - smooth) * scaled / factor + smooth * scaled
    medium = ~(wavelen < high_freq_wavelen) & ~(wavelen > low_freq_wavelen)
    return np.where(medium, smoothed, scaled).astype(np.float32)


class RotaryEmbedding(nn.Module):
    """``position_ids (B, T)`` -> ``(cos, sin)``, each ``(B, 1, T, head_dim)`` float32.

    The inverse frequencies are a non-persistent buffer on the first stage (not part of a
    checkpoint: they follow from the config).
    """

    def __init__(
        self,
        head_dim: int,
        rope_theta: float = 10000.0,
        rope_scaling: Optional[dict] = None,
        max_position_embeddings: int = 2048,
    ) -> None:
        super().__init__()
        self.head_dim = head_dim
        self.rope_theta = rope_theta
        self.rope_scaling = dict(rope_scaling) if rope_scaling else None
        self.max_position_embeddings = max_position_embeddings
        self.register_buffer(
            "inv_freq",
            self._to_global(
                inv_frequencies(head_dim, rope_theta, self.rope_scaling, max_position_embeddings)
            ),
            persistent=False,
        )

    @staticmethod
    def _to_global(array: np.ndarray):
        return flow.tensor(array, dtype=flow.float32).to_global(
            placement=dist.get_layer_placement(0),
            sbp=dist.get_nd_sbp([flow.sbp.broadcast, flow.sbp.broadcast]),
        )

    def _dynamic_length(self, seq_len: Optional[int]) -> Optional[int]:
        if (self.rope_scaling or {}).get("rope_type") != "dynamic" or seq_len is None:
            return None
        original = self.rope_scaling.get(
            "original_max_position_embeddings", self.max_position_embeddings
        )
        return seq_len if seq_len > original else None

    def forward(self, position_ids, seq_len: Optional[int] = None):
        """``seq_len``: the longest position + 1 (read only by ``dynamic`` scaling)."""
        inv_freq = self.inv_freq
        longer = self._dynamic_length(seq_len)
        if longer is not None:
            inv_freq = self._to_global(
                inv_frequencies(
                    self.head_dim,
                    self.rope_theta,
                    self.rope_scaling,
                    self.max_position_embeddings,
                    longer,
                )
            )
        positions = position_ids.to_global(placement=inv_freq.placement).to(flow.float32)
        freqs = positions.unsqueeze(-1) * inv_freq  # (B, T, d/2)
        emb = flow.cat((freqs, freqs), dim=-1).unsqueeze(1)  # (B, 1, T, d)
        return flow.cos(emb), flow.sin(emb)


def rotate_half(x):
    """``(x1, x2) -> (-x2, x1)`` on the last axis, halves as in transformers."""
    half = x.shape[-1] // 2
    return flow.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rotary(x, cos, sin):
    """Rotate ``x (B, H, T, d)`` by the angles whose ``cos``/``sin`` are ``(B, 1, T, d)``."""
    return x * cos + rotate_half(x) * sin
