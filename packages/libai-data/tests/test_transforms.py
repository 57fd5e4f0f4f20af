"""Augmentation recipes (flowvision 0.2.1 under OneFlow 0.9.0) on real images."""

from __future__ import annotations

import numpy as np
import pytest
from libai.data.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    eval_transform,
    interpolation_mode,
    train_transform,
)
from libai.utils.oneflow_env import flow
from PIL import Image


def _gradient(width=40, height=30):
    x = np.tile(np.arange(width, dtype=np.uint8) * 6, (height, 1))
    return Image.fromarray(np.stack([x, x, x], axis=-1))


def test_interpolation_mode_names():
    assert interpolation_mode("bicubic").value == "bicubic"
    assert interpolation_mode("BILINEAR").value == "bilinear"
    with pytest.raises(ValueError, match="did you mean 'bicubic'"):
        interpolation_mode("bicubik")


def test_train_transform_crops_to_size_and_normalizes():
    flow.manual_seed(0)
    out = train_transform(size=16, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))(_gradient())
    assert isinstance(out, flow.Tensor)
    assert out.shape == (3, 16, 16)
    values = out.numpy()
    assert values.min() >= -1.0 - 1e-6 and values.max() <= 1.0 + 1e-6
    # The three channels of a gray image stay equal through crop, flip and normalize.
    np.testing.assert_allclose(values[0], values[2], atol=1e-6)


def test_train_transform_flip_mirrors_the_image():
    image = _gradient(8, 8)
    no_flip = train_transform(size=8, scale=(1.0, 1.0), ratio=(1.0, 1.0), hflip=0.0,
                              mean=(0, 0, 0), std=(1, 1, 1))(image)  # fmt: skip
    flip = train_transform(size=8, scale=(1.0, 1.0), ratio=(1.0, 1.0), hflip=1.0,
                           mean=(0, 0, 0), std=(1, 1, 1))(image)  # fmt: skip
    expected = np.asarray(image, dtype=np.float32)[:, :, 0] / 255.0
    np.testing.assert_allclose(no_flip.numpy()[0], expected, atol=1e-6)
    np.testing.assert_allclose(flip.numpy()[0], expected[:, ::-1], atol=1e-6)


def test_eval_transform_resizes_center_crops_and_normalizes():
    image = Image.fromarray(np.full((20, 20, 3), 200, dtype=np.uint8))
    out = eval_transform(size=8, resize=10)(image)
    assert out.shape == (3, 8, 8)
    expected = (200 / 255.0 - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)
    np.testing.assert_allclose(out.numpy()[:, 4, 4], expected, atol=1e-5)
