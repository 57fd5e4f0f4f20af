"""Batch-size and schedule arithmetic of the ``train`` namespace (pure Python).

``global_batch_size = train_micro_batch_size * num_accumulation_steps * data_parallel_size``:
any two of the three given determine the third; all three given must agree.
:func:`check_batch_size` fills the missing one in the config or raises
:class:`BatchSizeError` showing the arithmetic. :func:`scale_schedule` turns
``train_epoch`` and ``warmup_ratio`` into iterations.
"""

from __future__ import annotations

import math
from typing import Any, Optional

from libai.config import try_get_key

__all__ = ["BatchSizeError", "check_batch_size", "resolve_batch_sizes", "scale_schedule"]


class BatchSizeError(ValueError):
    """The ``train`` batch sizes do not fit together; the message shows the arithmetic."""


def _opt_positive(name: str, value: Any) -> Optional[int]:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or int(value) != value
        or value < 1
    ):
        raise BatchSizeError(f"train.{name} must be a positive integer or None, got {value!r}")
    return int(value)


def resolve_batch_sizes(
    micro: Optional[int], global_: Optional[int], acc: Optional[int], dp: int
) -> tuple[int, int, int]:
    """Return ``(train_micro_batch_size, global_batch_size, num_accumulation_steps)``.

    Raises:
        BatchSizeError: fewer than two given (and ``micro`` missing), a size
            that does not divide, or three values that disagree.
    """
    micro = _opt_positive("train_micro_batch_size", micro)
    global_ = _opt_positive("global_batch_size", global_)
    acc = _opt_positive("num_accumulation_steps", acc)
    if micro is not None and global_ is not None and acc is not None:
        if micro * acc * dp != global_:
            raise BatchSizeError(
                "train.global_batch_size must equal train_micro_batch_size * "
                "num_accumulation_steps * data_parallel_size, but "
                f"{micro} * {acc} * {dp} = {micro * acc * dp} != {global_}. "
                "Set one of the three to None to have it derived."
            )
        return micro, global_, acc
    if micro is not None and global_ is not None:
        if global_ % (micro * dp):
            raise BatchSizeError(
                f"train.global_batch_size ({global_}) is not a multiple of "
                f"train_micro_batch_size * data_parallel_size = {micro} * {dp} = {micro * dp}, "
                "so num_accumulation_steps = global_batch_size / (train_micro_batch_size * "
                f"data_parallel_size) = {global_ / (micro * dp):g} is not an integer"
            )
        return micro, global_, global_ // (micro * dp)
    if micro is not None:
        acc = acc or 1
        return micro, micro * acc * dp, acc
    if global_ is not None:
        acc = acc or 1
        if global_ % (acc * dp):
            raise BatchSizeError(
                f"train.global_batch_size ({global_}) is not a multiple of "
                f"num_accumulation_steps * data_parallel_size = {acc} * {dp} = {acc * dp}, "
                f"so train_micro_batch_size = {global_} / {acc * dp} = {global_ / (acc * dp):g} "
                "is not an integer"
            )
        return global_ // (acc * dp), global_, acc
    raise BatchSizeError(
        "train.train_micro_batch_size and train.global_batch_size are both None: set at least "
        "one of them (global_batch_size = train_micro_batch_size * num_accumulation_steps * "
        "data_parallel_size)"
    )


def check_batch_size(cfg: Any, data_parallel_size: int) -> None:
    """Fill ``train.{train_micro_batch_size, global_batch_size, num_accumulation_steps}``
    and ``train.samples`` (= ``train_iter * global_batch_size``) in ``cfg``."""
    micro, global_, acc = resolve_batch_sizes(
        try_get_key(cfg, "train.train_micro_batch_size"),
        try_get_key(cfg, "train.global_batch_size"),
        try_get_key(cfg, "train.num_accumulation_steps"),
        data_parallel_size,
    )
    cfg.train.train_micro_batch_size = micro
    cfg.train.global_batch_size = global_
    cfg.train.num_accumulation_steps = acc
    cfg.train.samples = int(try_get_key(cfg, "train.train_iter", default=0) or 0) * global_


def scale_schedule(
    train_iter: int,
    train_epoch: float,
    warmup_ratio: float,
    dataset_len: Optional[int],
    global_batch_size: int,
) -> tuple[int, int, Optional[int]]:
    """Return ``(train_iter, warmup_iter, iters_per_epoch)``.

    ``train_iter = max(train_iter, train_epoch * iters_per_epoch)`` with
    ``iters_per_epoch = ceil(len(dataset) / global_batch_size)``;
    ``warmup_iter = ceil(train_iter * warmup_ratio)``.

    Raises:
        ValueError: ``warmup_ratio`` outside [0, 1), or ``train_epoch`` set for a
            dataset without a length.
    """
    if not 0 <= warmup_ratio < 1:
        raise ValueError(
            f"train.warmup_ratio must be in [0, 1) (a fraction of train_iter), got {warmup_ratio}"
        )
    iters_per_epoch = math.ceil(dataset_len / global_batch_size) if dataset_len else None
    if train_epoch:
        if iters_per_epoch is None:
            raise ValueError(
                f"train.train_epoch={train_epoch} needs a training dataset with a length, but the "
                "train loader's dataset has none; set train.train_iter instead"
            )
        train_iter = max(int(train_iter), math.ceil(train_epoch * iters_per_epoch))
    if train_iter < 1:
        raise ValueError(
            f"train.train_iter must be at least 1 (or set train.train_epoch), got {train_iter}"
        )
    return int(train_iter), math.ceil(train_iter * warmup_ratio), iters_per_epoch
