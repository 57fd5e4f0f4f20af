"""``DropPath``: stochastic depth (Huang et al., 2016), dropping whole residual branches per sample."""

from __future__ import annotations

from libai.utils.oneflow_env import flow

nn = flow.nn


class DropPath(nn.Module):
    """Zero the input of a sample with probability ``drop_prob`` and rescale the survivors.

    Identity in eval mode or when ``drop_prob`` is 0. Works on global tensors: the
    keep mask has the batch axis of the input and ones elsewhere.
    """

    def __init__(self, drop_prob: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= drop_prob < 1.0:
            raise ValueError(f"DropPath(drop_prob={drop_prob}) must be in [0, 1)")
        self.drop_prob = drop_prob

    def forward(self, x):
        if self.drop_prob == 0.0 or not self.training:
            return x
        keep_prob = 1.0 - self.drop_prob
        shape = (x.shape[0],) + (1,) * (x.ndim - 1)
        if x.is_global:
            noise = flow.rand(*shape, dtype=x.dtype, placement=x.placement, sbp=x.sbp)
        else:
            noise = flow.rand(*shape, dtype=x.dtype, device=x.device)
        mask = (noise + keep_prob).floor()
        return x / keep_prob * mask

    def extra_repr(self) -> str:
        return f"drop_prob={self.drop_prob}"
