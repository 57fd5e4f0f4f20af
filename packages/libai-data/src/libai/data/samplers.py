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

:class:`SingleRoundSampler` (evaluation) walks the dataset once in global batches, each
rank taking its slice of every global batch, and gives every rank the same number of
full batches: with several ranks the last global batch is completed by repeating the
last sample (one rank gets a short last batch), so the
padding is always the last rows of the last global batch and an evaluation that knows
``len(dataset)`` drops exactly those (``libai.evaluation.inference_on_dataset`` does).
Every sample is then counted exactly once, whatever the dataset's size, and no rank
waits for a batch its peers never send. (LiBai gives ranks contiguous shares of
different lengths, so with a size that does not divide evenly one rank runs one more
batch than the others and the run hangs in the collective that builds that batch.)
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
    """One pass over the dataset in global batches split over data-parallel ranks.

    Global batch ``b`` holds samples ``b * G .. (b + 1) * G - 1`` of the pass (``G =
    micro_batch_size * data_parallel_size``; shuffled with ``seed`` when ``shuffle``),
    and rank ``r`` yields its ``r``-th micro slice of it. With several ranks every
    rank yields ``ceil(len(dataset) / G)`` full batches: the last global batch is
    completed with copies of the pass's last sample (the padding is its last rows).
    One rank yields a short last batch instead, as LiBai. ``drop_last`` drops an
    incomplete last global batch. LiBai's arguments.
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

    @property
    def global_batch_size(self) -> int:
        return self.micro_batch_size * self.data_parallel_size

    def _my_indices(self) -> list[int]:
        order = (
            _permutation(self.data_size, self.seed) if self.shuffle else list(range(self.data_size))
        )
        needed = len(self) * self.global_batch_size
        if self.data_parallel_size == 1:
            needed = min(needed, len(order))  # one rank: a short last batch is fine
        elif needed > len(order) and order:
            order = order + [order[-1]] * (needed - len(order))  # padding: the last sample
        mine = []
        first = self.data_parallel_rank * self.micro_batch_size
        for begin in range(0, needed, self.global_batch_size):
            mine.extend(order[begin + first : begin + first + self.micro_batch_size])
        return mine

    def __iter__(self) -> Iterator[list[int]]:
        indices = self._my_indices()
        if getattr(self.dataset, "supports_prefetch", False):
            self.dataset.prefetch(sorted(set(indices)))
        for begin in range(0, len(indices), self.micro_batch_size):
            yield indices[begin : begin + self.micro_batch_size]

    def __len__(self) -> int:
        """Number of batches every rank yields."""
        if self.drop_last:
            return self.data_size // self.global_batch_size
        return -(-self.data_size // self.global_batch_size)
