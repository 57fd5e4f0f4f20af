"""``ParallelCrossEntropyLoss``: token-level cross entropy on (possibly vocab-split) logits."""

from __future__ import annotations

from libai.layers._global import as_global
from libai.utils.oneflow_env import flow

nn = flow.nn


class ParallelCrossEntropyLoss(nn.Module):
    """Per-token loss of ``logits (B, S, V)`` against ``target (B, S)``, flattened to ``(B*S,)``.

    Negative targets (``-1``, LiBai's "ignore") are read as id 0; callers mask them
    with a ``loss_mask``. Raises ``ValueError`` on mismatched shapes.
    """

    def forward(self, logits, target):
        if logits.ndim != 3 or target.ndim != 2 or tuple(logits.shape[:2]) != tuple(target.shape):
            raise ValueError(
                "ParallelCrossEntropyLoss expects logits (B, S, V) and target (B, S), got "
                f"{tuple(logits.shape)} and {tuple(target.shape)}"
            )
        target = as_global(target, logits.placement)
        # sparse_softmax_cross_entropy rejects negative ids.
        target = target * (target >= 0).to(target.dtype)
        return flow._C.sparse_softmax_cross_entropy(
            logits.view(-1, logits.shape[-1]), target.view(-1)
        )
