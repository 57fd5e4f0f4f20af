"""``ImageClassificationPipeline``: images in, labels with scores out (ViT, Swin, SwinV2, ResMLP).

::

    pipeline = ImageClassificationPipeline("configs/vit_imagenet.py", model_path=..., mode="huggingface")
    pipeline("cat.png", top_k=5)

An input is an image path, a ``PIL.Image`` or a list of them. Each is prepared with the
config's evaluation transform (``dataloader.test[0].dataset.transform``, the data
package's eval transforms as the trainer uses them), else resized to the model's
``img_size`` with ImageNet's mean and std. Labels come from ``labels=[...]``, else
``LABEL_<i>``.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
from libai.config import instantiate, try_get_key
from libai.inference._classification import logits_of, top_labels
from libai.inference.basic import BasePipeline

__all__ = ["ImageClassificationPipeline"]

_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def _find_transform(cfg: Any) -> Any:
    for key in (
        "dataloader.test.0.dataset.transform",
        "dataloader.test.0.transform",
        "dataloader.train.dataset.0.transform",
    ):
        node = try_get_key(cfg, key)
        if node is not None:
            return node
    return None


class ImageClassificationPipeline(BasePipeline):
    """Classify images with the config's model; see the module docstring."""

    def __init__(self, *args: Any, labels: Optional[list] = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.labels = labels
        node = _find_transform(self.cfg)
        self.transform = instantiate(node) if node is not None else None
        size = try_get_key(self.cfg, "model.cfg.img_size") or try_get_key(
            self.cfg, "model.img_size"
        )
        self.img_size = int(size if isinstance(size, int) else (size or [224])[0])

    def _parse_parameters(self, top_k: Optional[int] = None, labels: Optional[list] = None):
        post = {}
        if top_k is not None:
            post["top_k"] = int(top_k)
        if labels is not None:
            post["labels"] = list(labels)
        return {}, {}, post

    def _pixels(self, image: Any) -> np.ndarray:
        from PIL import Image

        if not isinstance(image, Image.Image):
            image = Image.open(image)
        image = image.convert("RGB")
        if self.transform is not None:
            out = self.transform(image)
            return out.numpy() if hasattr(out, "numpy") else np.asarray(out, dtype=np.float32)
        image = image.resize((self.img_size, self.img_size), Image.BICUBIC)
        array = (np.asarray(image, dtype=np.float32) / 255.0 - _MEAN) / _STD
        return array.transpose(2, 0, 1)

    def preprocess(self, inputs: Any) -> dict:
        single = not isinstance(inputs, (list, tuple))
        images = [inputs] if single else list(inputs)
        return {"images": np.stack([self._pixels(i) for i in images]), "single": single}

    def forward(self, model_inputs: dict) -> dict:
        from libai.inference.generation.mixin import as_broadcast_global

        images = as_broadcast_global(model_inputs["images"].astype(np.float32))
        return {"logits": logits_of(self.model(images)), "single": model_inputs["single"]}

    def postprocess(
        self, model_outputs: dict, top_k: int = 1, labels: Optional[list] = None
    ) -> Any:
        rows = top_labels(model_outputs["logits"], labels or self.labels, top_k)
        rows = [row[0] if top_k == 1 else row for row in rows]
        return rows[0] if model_outputs["single"] else rows
