"""What the NLP datasets share: OneFlow, sample construction and argument checks."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from libai.data.data_utils.indexed_dataset import EXPECTED_LAYOUT, get_indexed_dataset
from libai.data.structures import DistTensorData, Instance
from libai.utils.oneflow_env import flow

__all__ = ["flow", "make_instance", "require_tokenizer", "resolve_indexed_dataset"]


def make_instance(**fields: tuple[Any, int]) -> Instance:
    """An ``Instance`` of ``name=(array, placement_idx)`` fields as int64/bool OneFlow tensors."""
    values = {}
    for name, (array, placement_idx) in fields.items():
        array = np.asarray(array)
        dtype = flow.bool if array.dtype == np.bool_ else flow.long
        values[name] = DistTensorData(flow.tensor(array, dtype=dtype), placement_idx=placement_idx)
    return Instance(**values)


def resolve_indexed_dataset(
    owner: str, data_prefix: str | None, indexed_dataset: Any
) -> tuple[Any, str]:
    """``(indexed_dataset, data_prefix)``: open the data from ``data_prefix`` when not given.

    Raises:
        FileNotFoundError: no data_prefix, or its files do not exist (the layout is explained).
    """
    if data_prefix is None:
        path = getattr(indexed_dataset, "path", None)
        if path is None:
            raise FileNotFoundError(
                f"{owner}: data_prefix is not set; it is where the index files are cached and, "
                f"without indexed_dataset, where the data is read from ({EXPECTED_LAYOUT})"
            )
        data_prefix = path
    data_prefix = os.fspath(data_prefix)
    if indexed_dataset is None:
        indexed_dataset = get_indexed_dataset(data_prefix, "mmap", skip_warmup=True)
    if isinstance(indexed_dataset, (list, tuple)):
        raise TypeError(
            f"{owner}: aligned (word-boundary) indexed datasets are not supported; pass one dataset"
        )
    directory = os.path.dirname(os.path.abspath(data_prefix))
    if not os.path.isdir(directory):
        raise FileNotFoundError(
            f"{owner}: the directory of data_prefix {data_prefix!r} does not exist"
        )
    return indexed_dataset, data_prefix


def require_tokenizer(owner: str, tokenizer: Any, *attrs: str) -> Any:
    """Check that ``tokenizer`` is set and has the special tokens ``attrs`` (e.g. ``cls_token_id``).

    Raises:
        ValueError: no tokenizer, or one of the special tokens is not set.
    """
    if tokenizer is None:
        raise ValueError(
            f"{owner} needs a tokenizer: the trainer passes cfg.tokenization.tokenizer; when "
            "building the dataset yourself pass tokenizer=BertTokenizer(vocab_file=...)"
        )
    missing = [a for a in attrs if getattr(tokenizer, a, None) is None]
    if missing:
        raise ValueError(
            f"{owner}: the tokenizer {type(tokenizer).__name__} has no {', '.join(missing)}; set the "
            "special tokens in its config (e.g. bos_token='[BOS]', eos_token='[EOS]')"
        )
    return tokenizer
