"""Embedding tables as global tensors.

``VocabEmbedding`` splits its table over the vocabulary for tensor parallelism (each
rank looks up the ids it owns; the partial sums are made whole); ``Embedding`` keeps
the table whole (position and token-type embeddings are small).
"""

from __future__ import annotations

from typing import Callable, Optional

from libai.layers._global import as_global
from libai.utils import distributed as dist
from libai.utils.oneflow_env import flow

nn = flow.nn


def to_global_ids(ids, layer_idx: int = 0):
    """Return ``ids`` as a global tensor on layer ``layer_idx``'s placement, batch split."""
    return as_global(ids, dist.get_layer_placement(layer_idx))


class VocabEmbedding(nn.Module):
    """Token embedding whose table is split over the vocabulary axis (sbp ``[B, S(0)]``).

    Args:
        num_embeddings: vocabulary size.
        embedding_dim: hidden size.
        padding_idx: the row kept at zero (its gradient is masked too).
        init_method: initialiser of the table.
        amp_enabled: accepted for LiBai configs; the table stays float32.
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: Optional[int] = None,
        init_method: Callable = nn.init.xavier_normal_,
        amp_enabled: bool = False,
    ) -> None:
        super().__init__()
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = padding_idx
        self.amp_enabled = amp_enabled
        self.weight = nn.Parameter(
            flow.empty(
                (num_embeddings, embedding_dim),
                placement=dist.get_layer_placement(0),
                sbp=dist.get_nd_sbp([flow.sbp.broadcast, flow.sbp.split(0)]),
            )
        )
        init_method(self.weight)
        if padding_idx is not None:
            with flow.no_grad():
                self.weight[padding_idx] = 0.0

    def forward(self, input_ids):
        input_ids = to_global_ids(input_ids, 0)
        # A split table gives partial sums [S(0), P]; the hidden sbp makes them whole.
        embeds = flow._C.gather(self.weight, input_ids, axis=0)
        return embeds.to_global(sbp=dist.get_hidden_sbp())

    def extra_repr(self) -> str:
        return f"num_embeddings={self.num_embeddings}, embedding_dim={self.embedding_dim}"


class Embedding(nn.Module):
    """Embedding with a whole (broadcast) table, e.g. for positions and token types."""

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: Optional[int] = None,
        init_method: Callable = nn.init.xavier_normal_,
        amp_enabled: bool = False,
        *,
        layer_idx: int = 0,
    ) -> None:
        super().__init__()
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = padding_idx
        self.amp_enabled = amp_enabled
        self.layer_idx = layer_idx
        self.weight = nn.Parameter(
            flow.empty(
                (num_embeddings, embedding_dim),
                placement=dist.get_layer_placement(layer_idx),
                sbp=dist.get_nd_sbp([flow.sbp.broadcast, flow.sbp.broadcast]),
            )
        )
        init_method(self.weight)
        if padding_idx is not None:
            with flow.no_grad():
                self.weight[padding_idx] = 0.0

    def forward(self, input_ids):
        input_ids = to_global_ids(input_ids, self.layer_idx)
        return flow._C.gather(self.weight, input_ids, axis=0)

    def extra_repr(self) -> str:
        return f"num_embeddings={self.num_embeddings}, embedding_dim={self.embedding_dim}"
