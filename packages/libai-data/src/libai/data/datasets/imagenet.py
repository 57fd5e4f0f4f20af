"""ImageNet (or any image classification set) in the ImageFolder layout (no download).

::

    root/train/<class name>/<image>.JPEG      root/val/<class name>/<image>.JPEG

Classes are the sub-folder names in sorted order (index 0 is the first); images are
the files with a known image extension, in sorted order, decoded with Pillow as RGB.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Union

from libai.data.datasets.cifar import vision_sample
from libai.data.structures import Instance
from PIL import Image

__all__ = ["IMG_EXTENSIONS", "ImageNetDataset"]

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


class ImageNetDataset:
    """Images of ``root/train`` (or ``root/val``) as LiBai ``Instance`` samples.

    Attributes ``classes``, ``class_to_idx``, ``samples`` (``(path, class index)``
    pairs) and ``targets`` are the ImageFolder ones.
    """

    def __init__(
        self,
        root: Union[str, os.PathLike],
        train: bool = True,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
    ) -> None:
        self.root = Path(root).expanduser()
        self.train = train
        self.transform = transform
        self.target_transform = target_transform
        split = "train" if train else "val"
        folder = self.root / split
        layout = f"{self.root}/{split}/<class name>/<image file>"
        if not folder.is_dir():
            raise FileNotFoundError(
                f"ImageNetDataset: {folder} is not a directory; expected the ImageFolder "
                f"layout {layout} (this package never downloads data sets)"
            )
        self.classes = sorted(entry.name for entry in os.scandir(folder) if entry.is_dir())
        if not self.classes:
            raise FileNotFoundError(
                f"ImageNetDataset: {folder} has no class sub-folders; expected {layout}"
            )
        self.class_to_idx = {name: i for i, name in enumerate(self.classes)}
        self.samples = [
            (str(path), self.class_to_idx[name])
            for name in self.classes
            for path in sorted((folder / name).iterdir())
            if path.is_file() and path.suffix.lower() in IMG_EXTENSIONS
        ]
        if not self.samples:
            raise FileNotFoundError(
                f"ImageNetDataset: no image files ({', '.join(IMG_EXTENSIONS)}) under "
                f"{folder}; expected {layout}"
            )
        self.targets = [target for _, target in self.samples]

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> Instance:
        path, target = self.samples[index]
        with Image.open(path) as img:
            image = img.convert("RGB")
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return vision_sample(image, target)
