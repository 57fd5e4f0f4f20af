"""GPT-2 pretraining samples: fixed-length windows of the shuffled document stream.

As Megatron/LiBai: documents (the sequences of the indexed dataset) are shuffled per
epoch and concatenated; sample ``i`` is the window of ``max_seq_length + 1`` tokens
starting at ``i * max_seq_length``, giving ``input_ids = window[:-1]`` and
``labels = window[1:]``. The three index arrays (``doc_idx``, ``sample_idx``,
``shuffle_idx``) are cached as ``.npy`` files next to the data and reused.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from libai.data.data_utils.dataset_utils import cached_array, document_range_tag
from libai.data.data_utils.helpers import build_sample_idx, num_epochs_for

from ._common import flow, make_instance, resolve_indexed_dataset

logger = logging.getLogger(__name__)


class GPT2Dataset(flow.utils.data.Dataset):
    """Dataset of GPT-2 samples from a Megatron indexed dataset.

    Args:
        name: a name for the cached index files (``{data_prefix}_{name}_indexmap_...``).
        tokenizer: unused (kept for LiBai's signature; the trainer passes it).
        data_prefix: path prefix of the ``.bin``/``.idx`` pair; also where index files go.
        indexed_dataset: the opened dataset (``get_indexed_dataset(data_prefix, "mmap", ...)``);
            opened from ``data_prefix`` when ``None``.
        max_num_samples: samples to provide (more epochs are stacked when needed); one
            epoch when ``None``.
        max_seq_length: tokens per sample.
        seed: shuffling seed.

    Raises:
        FileNotFoundError: the data files do not exist (the message shows the layout).
        ValueError: the documents hold fewer than two tokens.
    """

    def __init__(
        self,
        name: str = "gpt-2",
        tokenizer: Any = None,
        data_prefix: str | None = None,
        indexed_dataset: Any = None,
        max_num_samples: int | None = None,
        max_seq_length: int = 1024,
        seed: int = 1234,
    ) -> None:
        self.name = name
        self.tokenizer = tokenizer
        self.seed = seed
        self.max_seq_length = int(max_seq_length)
        if self.max_seq_length < 1:
            raise ValueError(f"GPT2Dataset: max_seq_length must be >= 1, got {max_seq_length}")
        self.indexed_dataset, self.data_prefix = resolve_indexed_dataset(
            "GPT2Dataset", data_prefix, indexed_dataset
        )
        doc_idx = np.asarray(self.indexed_dataset.doc_idx)
        # Each sequence of the covered documents is one GPT "document" (LiBai/Megatron).
        documents = np.arange(int(doc_idx[0]), int(doc_idx[-1]), dtype=np.int32)
        self.doc_idx, self.sample_idx, self.shuffle_idx = _build_index_mappings(
            name,
            self.data_prefix,
            documents,
            np.asarray(self.indexed_dataset.sizes),
            max_num_samples,
            self.max_seq_length,
            seed,
            document_range_tag(doc_idx),
        )

    def __len__(self) -> int:
        # sample i spans sample_idx[i] .. sample_idx[i + 1]
        return self.shuffle_idx.shape[0]

    def get_tokens(self, idx: int) -> np.ndarray:
        """The ``max_seq_length + 1`` token ids of sample ``idx`` (int64)."""
        idx = int(self.shuffle_idx[idx])
        doc_f, offset_f = (int(v) for v in self.sample_idx[idx])
        doc_l, offset_l = (int(v) for v in self.sample_idx[idx + 1])
        if doc_f == doc_l:
            sample = self.indexed_dataset.get(
                int(self.doc_idx[doc_f]), offset=offset_f, length=offset_l - offset_f + 1
            )
        else:
            parts = [self.indexed_dataset.get(int(self.doc_idx[doc_f]), offset=offset_f)]
            parts.extend(
                self.indexed_dataset.get(int(self.doc_idx[i])) for i in range(doc_f + 1, doc_l)
            )
            parts.append(self.indexed_dataset.get(int(self.doc_idx[doc_l]), length=offset_l + 1))
            sample = np.concatenate(parts)
        return np.asarray(sample, dtype=np.int64)

    def __getitem__(self, idx: int) -> Any:
        tokens = self.get_tokens(idx)
        return make_instance(
            input_ids=(tokens[:-1], 0),
            labels=(tokens[1:], -1),
        )


def _build_index_mappings(
    name: str,
    data_prefix: str,
    documents: np.ndarray,
    sizes: np.ndarray,
    num_samples: int | None,
    seq_length: int,
    seed: int,
    range_tag: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``doc_idx``, ``sample_idx`` and ``shuffle_idx``, loaded from cache or built and saved."""
    tokens_per_epoch = int(np.sum(sizes[documents], dtype=np.int64))
    if tokens_per_epoch < 2:
        raise ValueError(
            f"GPT2Dataset {name!r}: the documents of {data_prefix} ({range_tag}) hold "
            f"{tokens_per_epoch} tokens; a sample needs at least 2"
        )
    if num_samples is None:
        num_samples = max(1, (tokens_per_epoch - 1) // seq_length)
    num_epochs = num_epochs_for(tokens_per_epoch, seq_length, num_samples)

    prefix = f"{data_prefix}_{name}_indexmap_{num_samples}ns_{seq_length}sl_{seed}s_{range_tag}"
    separate_last_epoch = False
    samples_before_last = 0
    if num_epochs > 1:
        # Megatron: when the last epoch contributes under 80% of an epoch's samples,
        # shuffle it separately so its samples are not spread over the whole run.
        samples_before_last = ((num_epochs - 1) * tokens_per_epoch - 1) // seq_length
        last_epoch_samples = num_samples - samples_before_last
        samples_per_epoch = (tokens_per_epoch - 1) // seq_length
        separate_last_epoch = last_epoch_samples < int(0.80 * samples_per_epoch)

    def build_doc_idx() -> np.ndarray:
        rng = np.random.RandomState(seed % 2**32)
        return _shuffled_documents(documents, num_epochs, rng, separate_last_epoch)

    doc_idx = cached_array(prefix + "_doc_idx.npy", build_doc_idx)

    def build_samples() -> np.ndarray:
        return build_sample_idx(
            sizes, np.asarray(doc_idx), seq_length, num_epochs, tokens_per_epoch
        )

    sample_idx = cached_array(prefix + "_sample_idx.npy", build_samples)

    def build_shuffle() -> np.ndarray:
        # A separate generator from doc_idx's so the two files can be rebuilt independently.
        rng = np.random.RandomState((seed + 1) % 2**32)
        total = sample_idx.shape[0] - 1
        first = samples_before_last if separate_last_epoch else total
        dtype = np.uint32 if total < np.iinfo(np.uint32).max - 1 else np.int64
        head = rng.permutation(np.arange(first, dtype=dtype))
        if first == total:
            return head
        tail = rng.permutation(np.arange(first, total, dtype=dtype))
        return np.concatenate([head, tail])

    shuffle_idx = cached_array(prefix + "_shuffle_idx.npy", build_shuffle)
    logger.info(
        "GPT2Dataset %s: %d samples over %d epoch(s)", name, shuffle_idx.shape[0], num_epochs
    )
    return doc_idx, sample_idx, shuffle_idx


def _shuffled_documents(
    documents: np.ndarray, num_epochs: int, rng: np.random.RandomState, separate_last_epoch: bool
) -> np.ndarray:
    """The documents repeated ``num_epochs`` times and shuffled (last epoch apart if asked)."""
    if not separate_last_epoch or num_epochs == 1:
        doc_idx = np.tile(documents.astype(np.int32), num_epochs)
        rng.shuffle(doc_idx)
        return doc_idx
    first = _shuffled_documents(documents, num_epochs - 1, rng, False)
    last = _shuffled_documents(documents, 1, rng, False)
    return np.concatenate([first, last])
