"""Utilities for LiBai's models: initialisers, ``GraphBase`` (re-exported from the engine)
and the Hugging Face weight loaders.

``GraphBase`` and the loaders are imported on first use (PEP 562), so importing a model
does not import the engine's graph module or the loaders.
"""

from __future__ import annotations

import importlib
from typing import Any

from libai.models.utils.weight_init import init_method_normal, scaled_init_method_normal

_LAZY = {
    "GraphBase": "libai.engine.graph_base",
    "BertLoaderHuggerFace": "libai.models.utils.model_loader",
    "RobertaLoaderHuggerFace": "libai.models.utils.model_loader",
    "GPT2LoaderHuggerFace": "libai.models.utils.model_loader",
    "T5LoaderHuggerFace": "libai.models.utils.model_loader",
    "ViTLoaderHuggerFace": "libai.models.utils.model_loader",
    "SwinLoaderHuggerFace": "libai.models.utils.model_loader",
    "SwinV2LoaderHuggerFace": "libai.models.utils.model_loader",
    "ResMLPLoaderHuggerFace": "libai.models.utils.model_loader",
    "load_hf_checkpoint": "libai.models.utils.model_loader",
}

__all__ = ["init_method_normal", "scaled_init_method_normal", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'libai.models.utils' has no attribute {name!r}")
