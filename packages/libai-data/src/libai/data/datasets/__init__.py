"""LiBai's datasets: NLP pretraining datasets on Megatron indexed data, and vision datasets.

Only re-exports, resolved on first use (PEP 562), so listing the registry or
``import libai.data.datasets`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    # NLP (Megatron indexed datasets)
    "BertDataset": "libai.data.datasets.bert_dataset",
    "GPT2Dataset": "libai.data.datasets.gpt_dataset",
    "RobertaDataset": "libai.data.datasets.roberta_dataset",
    "T5Dataset": "libai.data.datasets.t5_dataset",
    "BlendableDataset": "libai.data.data_utils.blendable_dataset",
    # vision
    "CIFAR10Dataset": "libai.data.datasets.cifar",
    "CIFAR100Dataset": "libai.data.datasets.cifar",
    "ImageNetDataset": "libai.data.datasets.imagenet",
    "MNISTDataset": "libai.data.datasets.mnist",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'libai.data.datasets' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
