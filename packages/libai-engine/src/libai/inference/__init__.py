"""LiBai's inference API: generation, and pipelines that build a model from a config.

``libai.inference.generation.GenerationMixin`` gives models ``generate``; the pipelines
(``TextGenerationPipeline``, ``TextClassificationPipeline``,
``ImageClassificationPipeline``) are imported on first use, so importing this package
stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "BasePipeline": "libai.inference.basic",
    "TextGenerationPipeline": "libai.inference.text_generation",
    "TextClassificationPipeline": "libai.inference.text_classification",
    "ImageClassificationPipeline": "libai.inference.image_classification",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'libai.inference' has no attribute {name!r}")
