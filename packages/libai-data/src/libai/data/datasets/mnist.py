"""MNIST read from its IDX files (no download).

The four files of the original release, plain or gzipped, in ``root``,
``root/MNIST/raw`` or ``root/raw``::

    train-images-idx3-ubyte  train-labels-idx1-ubyte    (60000 images)
    t10k-images-idx3-ubyte   t10k-labels-idx1-ubyte     (10000 images)

IDX format: a big-endian header (magic ``0x00000803`` = 2051 for ``uint8`` 3-D image
arrays, ``0x00000801`` = 2049 for ``uint8`` 1-D label arrays), then one ``uint32``
size per dimension, then the bytes.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Callable, Union

import numpy as np
from libai.data.datasets.cifar import vision_sample
from libai.data.structures import Instance
from PIL import Image

__all__ = ["MNISTDataset", "read_idx"]

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049


def read_idx(path: Union[str, os.PathLike], magic: int) -> np.ndarray:
    """Read a ``uint8`` IDX file (gzipped or not); raises ``ValueError`` if it is not one."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4:
        raise ValueError(f"{path} is too short to be an IDX file ({len(raw)} bytes)")
    found = int.from_bytes(raw[:4], "big")
    if found != magic:
        raise ValueError(
            f"{path}: IDX magic number is {found} (0x{found:08x}), expected {magic} "
            f"(0x{magic:08x}, uint8 with {magic & 0xFF} dimensions)"
        )
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape))
    if len(raw) - header != expected:
        raise ValueError(
            f"{path}: header says shape {shape} ({expected} bytes) but the file holds "
            f"{len(raw) - header} bytes of data"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


class MNISTDataset:
    """MNIST digits as LiBai ``Instance`` samples (``images``: 1xHxW, ``labels``)."""

    def __init__(
        self,
        root: Union[str, os.PathLike],
        train: bool = True,
        transform: Callable | None = None,
        download: bool = False,
        target_transform: Callable | None = None,
    ) -> None:
        self.root = Path(root).expanduser()
        self.train = train
        self.transform = transform
        self.target_transform = target_transform
        prefix = "train" if train else "t10k"
        images_path = self._find(f"{prefix}-images-idx3-ubyte", download)
        labels_path = self._find(f"{prefix}-labels-idx1-ubyte", download)
        self.data = read_idx(images_path, IMAGES_MAGIC)
        self.targets = read_idx(labels_path, LABELS_MAGIC).astype(np.int64)
        if len(self.data) != len(self.targets):
            raise ValueError(
                f"{images_path} holds {len(self.data)} images but {labels_path} holds "
                f"{len(self.targets)} labels"
            )

    def _find(self, name: str, download: bool) -> Path:
        folders = (self.root, self.root / "MNIST" / "raw", self.root / "raw")
        for folder in folders:
            for candidate in (folder / name, folder / f"{name}.gz"):
                if candidate.is_file():
                    return candidate
        how = " (download=True was given, but this package never downloads data sets)"
        raise FileNotFoundError(
            f"MNISTDataset: {name} (or {name}.gz) not found in any of "
            f"{', '.join(str(folder) for folder in folders)}{how if download else ''}. "
            "Put the four IDX files of the MNIST release (train-images-idx3-ubyte, "
            "train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte) "
            f"in {self.root}"
        )

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> Instance:
        image = Image.fromarray(self.data[index], mode="L")
        target = int(self.targets[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return vision_sample(image, target)
