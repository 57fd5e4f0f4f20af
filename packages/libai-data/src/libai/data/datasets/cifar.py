"""CIFAR-10 and CIFAR-100 read from the python pickle release (no download).

The files are the ones in ``cifar-10-python.tar.gz`` / ``cifar-100-python.tar.gz``,
unpacked under ``root``::

    root/cifar-10-batches-py/data_batch_1 ... data_batch_5, test_batch
    root/cifar-100-python/train, test

Each file is a pickled dict whose ``data`` is a ``uint8`` array ``(N, 3072)`` (the red,
green and blue 32x32 planes of each image, row-major) and whose labels are ``labels``
(CIFAR-10) or ``fine_labels`` / ``coarse_labels`` (CIFAR-100). ``root`` may also be
the unpacked folder itself.

A sample is an :class:`Instance` with ``images`` (the transformed image) and ``labels``
(a ``long`` scalar, placed on the last pipeline stage), as LiBai's vision models expect.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any, Callable, Union

import numpy as np
from libai.data.structures import DistTensorData, Instance
from libai.utils.oneflow_env import flow
from PIL import Image

__all__ = ["CIFAR10Dataset", "CIFAR100Dataset", "pil_to_tensor"]


def pil_to_tensor(image: Image.Image) -> Any:
    """A ``float32`` CHW tensor in [0, 1]: what a sample holds when no transform is given."""
    array = np.asarray(image, dtype=np.float32) / 255.0
    if array.ndim == 2:
        array = array[None]
    else:
        array = array.transpose(2, 0, 1)
    return flow.tensor(np.ascontiguousarray(array))


def vision_sample(image: Any, label: int) -> Instance:
    """Pack one image and its class index the way LiBai's vision models read them."""
    if not isinstance(image, flow.Tensor):
        if isinstance(image, Image.Image):
            image = pil_to_tensor(image)
        else:
            raise TypeError(
                f"the image transform returned {type(image).__name__}; it must end with "
                "ToTensor() so that samples can be batched"
            )
    return Instance(
        images=DistTensorData(image, placement_idx=0),
        labels=DistTensorData(flow.tensor(label, dtype=flow.long), placement_idx=-1),
    )


class _CifarBase:
    folder = ""
    train_files: tuple[str, ...] = ()
    test_files: tuple[str, ...] = ()
    label_key = ""

    def __init__(
        self,
        root: Union[str, os.PathLike],
        train: bool = True,
        transform: Callable | None = None,
        download: bool = False,
        target_transform: Callable | None = None,
        **kwargs: Any,
    ) -> None:
        if kwargs:
            raise TypeError(
                f"{type(self).__name__} got unexpected arguments {sorted(kwargs)}; it takes "
                "root, train, transform, target_transform, download"
            )
        self.root = Path(root).expanduser()
        self.train = train
        self.transform = transform
        self.target_transform = target_transform
        names = self.train_files if train else self.test_files
        base = self._find_folder(names, download)
        images, labels = [], []
        for name in names:
            data, file_labels = self._read_batch(base / name)
            images.append(data)
            labels.extend(file_labels)
        # (N, 3072) planes -> (N, 32, 32, 3) HWC, the layout PIL expects.
        self.data = np.concatenate(images).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        self.targets = [int(label) for label in labels]

    def _find_folder(self, names: tuple[str, ...], download: bool) -> Path:
        for candidate in (self.root / self.folder, self.root):
            if all((candidate / name).is_file() for name in names):
                return candidate
        missing = [name for name in names if not (self.root / self.folder / name).is_file()]
        how = (
            " download=True was given, but this package never downloads data sets:"
            if download
            else ""
        )
        raise FileNotFoundError(
            f"{type(self).__name__}: no {'training' if self.train else 'test'} files under "
            f"{self.root} (missing {self.root / self.folder}/{{{', '.join(missing)}}}).{how} "
            f"unpack the python version of the archive so that the layout is "
            f"{self.root}/{self.folder}/{{{', '.join(names)}}}"
        )

    def _read_batch(self, path: Path) -> tuple[np.ndarray, list]:
        try:
            with open(path, "rb") as f:
                entry = pickle.load(f, encoding="latin1")
        except (pickle.UnpicklingError, EOFError, ValueError) as exc:
            raise ValueError(f"{path} is not a CIFAR python pickle: {exc}") from exc
        # The official files were pickled by Python 2 (bytes keys read as str with
        # latin1); files written by Python 3 may still have bytes keys.
        entry = {k.decode() if isinstance(k, bytes) else k: v for k, v in entry.items()}
        if "data" not in entry or self.label_key not in entry:
            raise ValueError(
                f"{path}: expected the keys 'data' and {self.label_key!r}, found {sorted(entry)}"
            )
        data = np.asarray(entry["data"], dtype=np.uint8)
        if data.ndim != 2 or data.shape[1] != 3072:
            raise ValueError(f"{path}: 'data' must have shape (N, 3072), got {data.shape}")
        if len(entry[self.label_key]) != data.shape[0]:
            raise ValueError(
                f"{path}: {data.shape[0]} images but {len(entry[self.label_key])} labels"
            )
        return data, list(entry[self.label_key])

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> Instance:
        image = Image.fromarray(self.data[index])
        target = self.targets[index]
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return vision_sample(image, target)


class CIFAR10Dataset(_CifarBase):
    """CIFAR-10 (10 classes, 50000 train / 10000 test images) as LiBai ``Instance`` samples."""

    folder = "cifar-10-batches-py"
    train_files = tuple(f"data_batch_{i}" for i in range(1, 6))
    test_files = ("test_batch",)
    label_key = "labels"


class CIFAR100Dataset(_CifarBase):
    """CIFAR-100 as LiBai ``Instance`` samples: fine labels by default.

    ``label_type="coarse"`` uses the 20 super-class labels instead.
    """

    folder = "cifar-100-python"
    train_files = ("train",)
    test_files = ("test",)

    def __init__(
        self,
        root: Union[str, os.PathLike],
        train: bool = True,
        transform: Callable | None = None,
        download: bool = False,
        target_transform: Callable | None = None,
        label_type: str = "fine",
    ) -> None:
        if label_type not in ("fine", "coarse"):
            raise ValueError(f"label_type must be 'fine' or 'coarse', got {label_type!r}")
        self.label_key = f"{label_type}_labels"
        super().__init__(root, train, transform, download, target_transform)
