"""Parallel-aware building blocks of LiBai's models.

Every parameter is a global tensor whose placement and sbp come from
:mod:`libai.utils.distributed`, so one model definition runs on one device, data
parallel, tensor parallel (``Linear(parallel="col"/"row")``, ``VocabEmbedding``) or
pipelined (``layer_idx`` picks the stage). Fused OneFlow kernels are used where the
device has them and exact fallbacks elsewhere (the CPU).
"""

from libai.layers.activation import build_activation
from libai.layers.attention import AttnMaskType, MultiheadAttention
from libai.layers.cross_entropy import ParallelCrossEntropyLoss
from libai.layers.droppath import DropPath
from libai.layers.embedding import Embedding, VocabEmbedding
from libai.layers.layer_norm import LayerNorm, RMSLayerNorm
from libai.layers.linear import Linear, Linear1D
from libai.layers.lm_logits import LMLogits
from libai.layers.mlp import MLP
from libai.layers.patch_embedding import PatchEmbedding
from libai.layers.transformer_layer import TransformerLayer

__all__ = [
    "MLP",
    "AttnMaskType",
    "DropPath",
    "Embedding",
    "LMLogits",
    "LayerNorm",
    "Linear",
    "Linear1D",
    "MultiheadAttention",
    "ParallelCrossEntropyLoss",
    "PatchEmbedding",
    "RMSLayerNorm",
    "TransformerLayer",
    "VocabEmbedding",
    "build_activation",
]
