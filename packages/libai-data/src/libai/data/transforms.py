"""Standard image augmentation, built on flowvision's transforms.

LiBai's vision configs import ``flowvision.transforms`` directly, so this package
depends on flowvision and keeps that import path working. The release it pins is
``flowvision==0.2.1``: 0.2.2 fails to import with OneFlow 0.9.0 (its ``ops.boxes``
decorates functions with ``oneflow.jit._script_if_tracing``, which 0.9.0 lacks).

What this module adds:

* :func:`interpolation_mode` turns ``"bicubic"`` into flowvision's enum, so a config
  can say ``interpolation=LazyCall(interpolation_mode)(name="bicubic")`` and still be
  saved as YAML (an enum object cannot be);
* :func:`train_transform` / :func:`eval_transform`: the standard recipes (random
  resized crop + horizontal flip, resize + center crop; then to-tensor and normalize);
* the mean and std of the data sets this package reads.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

import libai.utils.oneflow_env  # noqa: F401  (OneFlow's import quirks before flowvision's)
from flowvision import transforms
from flowvision.transforms import InterpolationMode

__all__ = [
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "CIFAR100_MEAN",
    "CIFAR100_STD",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "MNIST_MEAN",
    "MNIST_STD",
    "interpolation_mode",
    "eval_transform",
    "train_transform",
    "transforms",
]

# Per-channel statistics of each training set (pixel values scaled to [0, 1]).
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
CIFAR100_MEAN = (0.5070751592371323, 0.48654887331495095, 0.4409178433670343)
CIFAR100_STD = (0.2673342858792401, 0.2564384629170883, 0.27615047132568404)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
MNIST_MEAN = (0.1307,)
MNIST_STD = (0.3081,)


def interpolation_mode(name: str) -> InterpolationMode:
    """Return flowvision's ``InterpolationMode`` called ``name`` (``"bilinear"``, ...).

    Raises ``ValueError`` naming the valid modes when ``name`` is not one.
    """
    if isinstance(name, InterpolationMode):
        return name
    valid = [mode.value for mode in InterpolationMode]
    key = str(name).lower()
    if key not in valid:
        close = difflib.get_close_matches(key, valid, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown interpolation {name!r}: expected one of {valid}{hint}")
    return InterpolationMode(key)


def train_transform(
    size: Any = 224,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
    scale: Sequence[float] = (0.08, 1.0),
    ratio: Sequence[float] = (3.0 / 4.0, 4.0 / 3.0),
    interpolation: str = "bicubic",
    hflip: float = 0.5,
) -> Any:
    """Random resized crop, horizontal flip, to-tensor, normalize (ImageNet recipe)."""
    return transforms.Compose(
        [
            transforms.RandomResizedCrop(
                size,
                scale=tuple(scale),
                ratio=tuple(ratio),
                interpolation=interpolation_mode(interpolation),
            ),
            transforms.RandomHorizontalFlip(p=hflip),
            transforms.ToTensor(),
            transforms.Normalize(mean=list(mean), std=list(std)),
        ]
    )


def eval_transform(
    size: Any = 224,
    resize: int | None = None,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
    interpolation: str = "bicubic",
) -> Any:
    """Resize the short side to ``resize`` (default ``size / 0.875``), center crop ``size``."""
    crop = size if isinstance(size, int) else tuple(size)
    short = resize if resize is not None else int(round(min(_pair(size)) / 0.875))
    return transforms.Compose(
        [
            transforms.Resize(short, interpolation=interpolation_mode(interpolation)),
            transforms.CenterCrop(crop),
            transforms.ToTensor(),
            transforms.Normalize(mean=list(mean), std=list(std)),
        ]
    )


def _pair(size: Any) -> tuple[int, int]:
    if isinstance(size, int):
        return size, size
    height, width = size
    return int(height), int(width)
