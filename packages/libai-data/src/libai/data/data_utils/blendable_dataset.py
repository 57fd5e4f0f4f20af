"""Blend several datasets so that samples come from each in proportion to a weight."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from .helpers import build_blending_indices

logger = logging.getLogger(__name__)


class BlendableDataset:
    """A dataset whose samples are drawn from ``datasets`` in the ratio of ``weights``.

    Megatron's blending: sample ``i`` comes from dataset ``dataset_index[i]``; each
    dataset gets ``round(weight * size)`` samples, spread evenly, and one read past the
    end of a dataset wraps around to its start.

    Args:
        datasets: map-style datasets (``len`` and ``[]``).
        weights: one non-negative weight per dataset (normalised here); ``None`` weighs
            by dataset length.
        size: number of samples; defaults to the total length of ``datasets``.

    Raises:
        ValueError: lengths differ, a weight is negative, or all weights are zero.
    """

    def __init__(
        self,
        datasets: Sequence[Any],
        weights: Sequence[float] | None = None,
        size: int | None = None,
    ) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("BlendableDataset needs at least one dataset")
        lengths = [len(d) for d in self.datasets]
        if weights is None:
            weights = lengths
        weights = [float(w) for w in weights]
        if len(weights) != len(self.datasets):
            raise ValueError(
                f"BlendableDataset: {len(self.datasets)} datasets but {len(weights)} weights"
            )
        if any(w < 0 for w in weights) or sum(weights) <= 0:
            raise ValueError(
                f"BlendableDataset: weights must be >= 0 with a positive sum, got {weights}"
            )
        for dataset, length, weight in zip(self.datasets, lengths, weights):
            if length == 0 and weight > 0:
                raise ValueError(
                    f"BlendableDataset: {type(dataset).__name__} is empty but has weight {weight}"
                )
        self.size = int(sum(lengths) if size is None else size)
        self.weights = np.asarray(weights) / sum(weights)
        self.dataset_index, self.dataset_sample_index = build_blending_indices(
            self.weights, self.size
        )
        self._lengths = lengths
        logger.info(
            "blended %d datasets into %d samples with weights %s",
            len(self.datasets),
            self.size,
            np.round(self.weights, 4).tolist(),
        )

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, idx: int) -> Any:
        if not -self.size <= idx < self.size:
            raise IndexError(f"sample {idx} out of range for a blend of {self.size} samples")
        d = int(self.dataset_index[idx])
        k = int(self.dataset_sample_index[idx]) % self._lengths[d]
        return self.datasets[d][k]
