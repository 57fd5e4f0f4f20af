"""Functions shared by the evaluators: reading tensors, padding batches, printing results."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
from libai.utils import distributed as dist
from libai.utils.oneflow_env import flow

logger = logging.getLogger(__name__)


def is_rank_shard(value: Any) -> bool:
    """Whether ``value`` holds only this rank's share of the data.

    Global tensors are whole (every rank can read all of it); local tensors and
    arrays in a multi-process run are this rank's share.
    """
    if isinstance(value, flow.Tensor) and value.is_global:
        return False
    return dist.get_world_size() > 1


def to_numpy(value: Any) -> np.ndarray:
    """The whole value of a global tensor, a local tensor or an array-like, as numpy."""
    if isinstance(value, flow.Tensor):
        return dist.to_whole_local(value).numpy()
    return np.asarray(value)


def pad_batch(batch: Mapping[str, Any], batch_size: int) -> tuple:
    """Pad every tensor of a short last batch to ``batch_size`` rows by repeating row 0.

    A static graph is compiled for one batch size, so the last, shorter batch is
    padded; the caller keeps only the first ``valid`` rows of the outputs.
    Returns ``(padded_batch, valid)``.
    """
    tensors = {k: v for k, v in batch.items() if isinstance(v, flow.Tensor)}
    if not tensors:
        return dict(batch), 0
    sizes = {k: v.shape[0] for k, v in tensors.items()}
    valid = next(iter(sizes.values()))
    if any(n != valid for n in sizes.values()):
        raise ValueError(
            f"the tensors of one batch must have the same first dimension, got {sizes}"
        )
    if valid >= batch_size:
        return dict(batch), valid
    padded = dict(batch)
    for key, value in tensors.items():
        whole = dist.to_whole_local(value)
        filler = whole[:1].repeat(batch_size - valid, *([1] * (whole.ndim - 1)))
        full = flow.cat([whole, filler], dim=0)
        if value.is_global:
            full = full.to_global(
                placement=value.placement, sbp=[flow.sbp.broadcast] * len(value.sbp)
            )
            full = full.to_global(sbp=value.sbp)
        padded[key] = full
    return padded, valid


def print_csv_format(results: Mapping[str, Any]) -> None:
    """Log the metrics as comma-separated lines, easy to paste into a spreadsheet.

    ``results`` maps a task name to ``{metric: score}`` (or directly to a score).
    """
    if not isinstance(results, Mapping):
        raise TypeError(
            f"print_csv_format expects a mapping of results, got {type(results).__name__}"
        )
    for task, res in results.items():
        if isinstance(res, Mapping):
            # Metrics with "-" in their name are per-category details, rarely tracked.
            important = [(k, v) for k, v in res.items() if "-" not in k]
            logger.info("copypaste: Task: %s", task)
            logger.info("copypaste: %s", ",".join(k for k, _ in important))
            logger.info("copypaste: %s", ",".join(f"{v:.4f}" for _, v in important))
        else:
            logger.info("copypaste: %s=%s", task, res)


def flatten_results_dict(results: Mapping[str, Any]) -> dict:
    """Flatten ``{"a": {"b": 1}}`` into ``{"a/b": 1}`` (for scalar writers)."""
    flat: dict = {}
    for key, value in results.items():
        if isinstance(value, Mapping):
            for sub_key, sub_value in flatten_results_dict(value).items():
                flat[f"{key}/{sub_key}"] = sub_value
        else:
            flat[key] = value
    return flat
