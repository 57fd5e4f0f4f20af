"""Turn user inputs into global tensors on the placement a layer needs."""

from __future__ import annotations

from typing import Any, Optional

from libai.utils import distributed as dist
from libai.utils.oneflow_env import flow


def as_global(tensor: Any, placement: Any, sbp: Optional[list] = None) -> Any:
    """Return ``tensor`` as a global tensor on ``placement``.

    A local tensor (as a user passes in a notebook or test) becomes global the way
    LiBai's data pipeline makes its batches: split on the batch axis over data
    parallelism (``sbp`` overrides that). A global tensor only changes placement.
    """
    if not tensor.is_global:
        if sbp is None:
            sbp = dist.get_nd_sbp([flow.sbp.split(0), flow.sbp.broadcast])
        return tensor.to_global(placement=placement, sbp=sbp)
    if tensor.placement != placement:
        return tensor.to_global(placement=placement)
    return tensor
