"""``LMLogits``: hidden states times the (tied) word-embedding table."""

from __future__ import annotations

from libai.utils import distributed as dist
from libai.utils.oneflow_env import flow

nn = flow.nn


class LMLogits(nn.Module):
    """Project ``(B, S, hidden)`` onto the vocabulary with the embedding table ``(V, hidden)``.

    With tensor parallelism the table is split over the vocabulary, so the logits come
    out split on their last axis ``[S(0), S(2)]`` and go straight into
    :class:`ParallelCrossEntropyLoss` without gathering the whole vocabulary.
    """

    def __init__(self, vocab_size: int, bias: bool = False) -> None:
        super().__init__()
        self.bias = (
            nn.Parameter(
                flow.zeros(
                    (vocab_size,),
                    placement=dist.get_layer_placement(-1),
                    sbp=dist.get_nd_sbp([flow.sbp.broadcast, flow.sbp.split(0)]),
                )
            )
            if bias
            else None
        )

    def forward(self, input, word_embeddings):
        # The table lives on the first stage; under pipeline parallelism it is
        # copied to the last stage here and its gradient flows back through the copy.
        weight = word_embeddings.to_global(placement=input.placement)
        if dist.get_tensor_parallel_size() > 1:
            input = input.to_global(grad_sbp=input.sbp)
        logits = flow.matmul(input, weight, transpose_b=True)
        if self.bias is not None:
            logits = logits + self.bias.to_global(placement=logits.placement)
        return logits
