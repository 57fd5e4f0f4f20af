"""Batch samplers that know the data-parallel layout and can resume mid-epoch.

Both samplers yield lists of dataset indices (one micro batch for *this* data-parallel
rank) and are passed to ``DataLoader(batch_sampler=...)``.

:class:`CyclicSampler` (training) cuts the dataset into ``data_parallel_size`` equal,
contiguous buckets, one per rank, and walks its bucket forever, reshuffled every epoch
with ``seed + epoch``. An epoch is the largest multiple of the global batch
(``micro_batch_size * data_parallel_size``) that fits in the dataset; the remainder is
left out, so every rank sees the same number of batches. Given ``consumed_samples``
(samples already trained on, over all ranks) it starts with exactly the batch that
would have come next: ``consumed_samples`` is a multiple of the global batch, each rank
has contributed ``consumed_samples / data_parallel_size`` of them, in order.

(LiBai computes the epoch from the full dataset size instead of the size of an epoch
that drops the remainder, so its resumed runs drift when the dataset is not a multiple
of the global batch; here the two agree.)

:class:`SingleRoundSampler` (evaluation) walks the dataset once, each rank a contiguous
share, the last batch possibly short.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator, Sized
from typing import Any

import numpy as np
from libai.utils.oneflow_env import flow

__all__ = ["CyclicSampler", "SingleRoundSampler"]

_Sampler = flow.utils.data.Sampler


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_layout(micro_batch_size: Any, data_parallel_rank: Any, data_parallel_size: Any) -> None:
    if not _is_int(micro_batch_size) or micro_batch_size < 1:
        raise ValueError(f"micro_batch_size must be a positive int, got {micro_batch_size!r}")
    if not _is_int(data_parallel_size) or data_parallel_size < 1:
        raise ValueError(f"data_parallel_size must be a positive int, got {data_parallel_size!r}")
    if not _is_int(data_parallel_rank) or not 0 <= data_parallel_rank < data_parallel_size:
        raise ValueError(
            f"data_parallel_rank must be in [0, {data_parallel_size}), got {data_parallel_rank!r}"
        )


def _permutation(size: int, seed: int) -> list[int]:
    # numpy's legacy RandomState is stable across versions and platforms, so a resumed
    # run on another machine shuffles exactly as the original one did.
    return np.random.RandomState(seed % (2**32)).permutation(size).tolist()


class CyclicSampler(_Sampler):
    """Endless, resumable, data-parallel batch sampler for training (LiBai's arguments).

    :param dataset: a sized dataset.
    :param micro_batch_size: samples per batch on one rank.
    :param shuffle: reshuffle each rank's bucket every epoch (seed ``seed + epoch``).
    :param consumed_samples: samples already trained on by all ranks together; a
        multiple of ``micro_batch_size * data_parallel_size``.
    :param data_parallel_rank: this process's index on the data-parallel axis.
    :param data_parallel_size: number of data-parallel ranks.
    :param seed: base seed of the shuffle.
    """

    def __init__(
        self,
        dataset: Sized,
        micro_batch_size: int,
        shuffle: bool = False,
        consumed_samples: int = 0,
        data_parallel_rank: int = 0,
        data_parallel_size: int = 1,
        seed: int = 0,
    ) -> None:
        _check_layout(micro_batch_size, data_parallel_rank, data_parallel_size)
        self.dataset = dataset
        self.data_size = len(dataset)
        self.shuffle = shuffle
        self.micro_batch_size = micro_batch_size
        self.data_parallel_rank = data_parallel_rank
        self.data_parallel_size = data_parallel_size
        self.actual_batch_size = micro_batch_size * data_parallel_size
        self.remain_data_size = self.data_size % self.actual_batch_size
        self.active_data_size = self.data_size - self.remain_data_size
        if self.active_data_size == 0:
            raise ValueError(
                f"the dataset has {self.data_size} samples, fewer than one global batch "
                f"(micro_batch_size {micro_batch_size} x data_parallel_size "
                f"{data_parallel_size} = {self.actual_batch_size}); use a smaller batch "
                "or more data"
            )
        self.seed = seed
        self.set_consumed_samples(consumed_samples)

    def set_consumed_samples(self, consumed_samples: int) -> None:
        """Resume after ``consumed_samples`` samples (all ranks together)."""
        if not _is_int(consumed_samples) or consumed_samples < 0:
            raise ValueError(f"consumed_samples must be an int >= 0, got {consumed_samples!r}")
        if consumed_samples % self.actual_batch_size:
            raise ValueError(
                f"consumed_samples={consumed_samples} is not a multiple of the global batch "
                f"(micro_batch_size {self.micro_batch_size} x data_parallel_size "
                f"{self.data_parallel_size} = {self.actual_batch_size}): a resumed run must "
                "use the batch layout the checkpoint was trained with"
            )
        self.consumed_samples = int(consumed_samples)

    def set_epoch(self, epoch: int) -> None:
        """Restart at the beginning of ``epoch`` (LiBai's API)."""
        self.set_consumed_samples(epoch * self.active_data_size)

    @property
    def bucket_size(self) -> int:
        """Samples this rank sees per epoch."""
        return self.active_data_size // self.data_parallel_size

    def __iter__(self) -> Iterator[list[int]]:
        epoch, offset = divmod(self.consumed_samples, self.active_data_size)
        bucket_size = self.bucket_size
        start = self.data_parallel_rank * bucket_size
        position = offset // self.data_parallel_size
        while True:
            order = (
                _permutation(bucket_size, self.seed + epoch)
                if self.shuffle
                else list(range(bucket_size))
            )
            indices = [start + i for i in order[position:]]
            if getattr(self.dataset, "supports_prefetch", False):
                self.dataset.prefetch(indices)
            for begin in range(0, len(indices), self.micro_batch_size):
                # Counted before the yield so that a consumer that stops after this
                # batch sees the number of samples it actually received.
                self.consumed_samples += self.actual_batch_size
                yield indices[begin : begin + self.micro_batch_size]
            epoch += 1
            position = 0


class SingleRoundSampler(_Sampler):
    """One pass over the dataset, split over data-parallel ranks (LiBai's arguments).

    Rank ``r`` gets a contiguous share; the first ``len(dataset) % data_parallel_size``
    ranks get one sample more. The last batch is short unless ``drop_last``.
    """

    def __init__(
        self,
        dataset: Sized,
        micro_batch_size: int,
        shuffle: bool = False,
        data_parallel_rank: int = 0,
        data_parallel_size: int = 1,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        _check_layout(micro_batch_size, data_parallel_rank, data_parallel_size)
        self.dataset = dataset
        self.data_size = len(dataset)
        self.shuffle = shuffle
        self.micro_batch_size = micro_batch_size
        self.data_parallel_rank = data_parallel_rank
        self.data_parallel_size = data_parallel_size
        self.seed = seed
        self.drop_last = drop_last

    def _share(self) -> tuple[int, int]:
        base, remain = divmod(self.data_size, self.data_parallel_size)
        rank = self.data_parallel_rank
        start = rank * base + min(rank, remain)
        return start, base + (1 if rank < remain else 0)

    def __iter__(self) -> Iterator[list[int]]:
        start, size = self._share()
        order = _permutation(size, self.seed) if self.shuffle else list(range(size))
        indices = [start + i for i in order]
        if getattr(self.dataset, "supports_prefetch", False):
            self.dataset.prefetch(indices)
        for begin in range(0, size, self.micro_batch_size):
            batch = indices[begin : begin + self.micro_batch_size]
            if len(batch) < self.micro_batch_size and self.drop_last:
                return
            yield batch

    def __len__(self) -> int:
        """Number of batches this rank yields."""
        _, size = self._share()
        if self.drop_last:
            return size // self.micro_batch_size
        return -(-size // self.micro_batch_size)
