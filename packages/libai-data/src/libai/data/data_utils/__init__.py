"""Megatron-format indexed datasets and the helpers the NLP datasets share.

``get_indexed_dataset(data_prefix, data_impl, skip_warmup)`` opens ``PREFIX.bin`` +
``PREFIX.idx``; the builders write them; ``BlendableDataset`` mixes datasets by weight.
Importing this package does not import OneFlow.
"""

from .blendable_dataset import BlendableDataset
from .dataset_utils import (
    create_masked_lm_predictions,
    get_samples_mapping,
    get_train_valid_test_split_,
)
from .indexed_dataset import (
    IndexedCachedDataset,
    IndexedDataset,
    IndexedDatasetBuilder,
    IndexedDatasetError,
    MMapIndexedDataset,
    MMapIndexedDatasetBuilder,
    get_indexed_dataset,
    make_builder,
    make_dataset,
)

__all__ = [
    "BlendableDataset",
    "IndexedCachedDataset",
    "IndexedDataset",
    "IndexedDatasetBuilder",
    "IndexedDatasetError",
    "MMapIndexedDataset",
    "MMapIndexedDatasetBuilder",
    "create_masked_lm_predictions",
    "get_indexed_dataset",
    "get_samples_mapping",
    "get_train_valid_test_split_",
    "make_builder",
    "make_dataset",
]
