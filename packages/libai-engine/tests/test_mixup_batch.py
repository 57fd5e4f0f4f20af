"""The train loader's ``mixup_func`` reaches ``get_batch`` (LiBai's image loaders set it)."""

from __future__ import annotations

import types

import numpy as np
from libai.engine.default import DefaultTrainer
from libai.utils.oneflow_env import flow


class _Field:
    """The part of LiBai's DistTensorData that get_batch uses."""

    def __init__(self, tensor):
        self.tensor = tensor

    def to_global(self, device_type="cpu"):
        return self


class _Batch:
    def __init__(self, **fields):
        self._fields = {k: _Field(v) for k, v in fields.items()}

    def get(self, key):
        return self._fields[key]

    def get_fields(self):
        return self._fields


def _mix(images, labels):
    # a stand-in mixup: images reversed in the batch, labels as one-hot floats
    return images.flip(0), flow.nn.functional.one_hot(labels, 3).to(flow.float32)


def test_train_batches_go_through_the_loaders_mixup_func():
    images = flow.tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    labels = flow.tensor([0, 2])
    fake = types.SimpleNamespace(
        train_loader=types.SimpleNamespace(mixup_func=_mix), get_batch=DefaultTrainer.get_batch
    )
    out = DefaultTrainer._get_train_batch(fake, _Batch(images=images, labels=labels))
    np.testing.assert_array_equal(out["images"].numpy(), [[3, 4, 5], [0, 1, 2]])
    np.testing.assert_array_equal(out["labels"].numpy(), [[1, 0, 0], [0, 0, 1]])


def test_without_mixup_func_the_batch_is_unchanged():
    images = flow.tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    labels = flow.tensor([0, 2])
    fake = types.SimpleNamespace(
        train_loader=types.SimpleNamespace(), get_batch=DefaultTrainer.get_batch
    )
    out = DefaultTrainer._get_train_batch(fake, _Batch(images=images, labels=labels))
    np.testing.assert_array_equal(out["images"].numpy(), images.numpy())
    np.testing.assert_array_equal(out["labels"].numpy(), [0, 2])
