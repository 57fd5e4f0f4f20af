"""Load local Hugging Face checkpoints (``config.json`` + ``model.safetensors`` or
``pytorch_model.bin``) into libai models, without torch.

LiBai's names are kept: ``BertLoaderHuggerFace(model, libai_cfg, pretrained_model_path,
**kwargs).load()``; :func:`load_hf_checkpoint` picks the loader from ``model``.
"""

from __future__ import annotations

from typing import Any, Optional

from libai.models.utils.model_loader.base_loader import (
    ModelLoaderHuggerFace,
    WeightLoadError,
    interleave_heads,
    load_converted,
)
from libai.models.utils.model_loader.bert_loader import (
    BertLoaderHuggerFace,
    RobertaLoaderHuggerFace,
)
from libai.models.utils.model_loader.checkpoint_files import CheckpointError
from libai.models.utils.model_loader.gpt_loader import GPT2LoaderHuggerFace
from libai.models.utils.model_loader.resmlp_loader import ResMLPLoaderHuggerFace
from libai.models.utils.model_loader.swin_loader import (
    SwinLoaderHuggerFace,
    SwinV2LoaderHuggerFace,
)
from libai.models.utils.model_loader.t5_loader import T5LoaderHuggerFace
from libai.models.utils.model_loader.vit_loader import ViTLoaderHuggerFace

__all__ = [
    "BertLoaderHuggerFace",
    "CheckpointError",
    "GPT2LoaderHuggerFace",
    "ModelLoaderHuggerFace",
    "ResMLPLoaderHuggerFace",
    "RobertaLoaderHuggerFace",
    "SwinLoaderHuggerFace",
    "SwinV2LoaderHuggerFace",
    "T5LoaderHuggerFace",
    "ViTLoaderHuggerFace",
    "WeightLoadError",
    "interleave_heads",
    "load_converted",
    "load_hf_checkpoint",
]

_BY_PREFIX = (
    ("Roberta", RobertaLoaderHuggerFace),
    ("Bert", BertLoaderHuggerFace),
    ("GPT", GPT2LoaderHuggerFace),
    ("T5", T5LoaderHuggerFace),
    ("VisionTransformer", ViTLoaderHuggerFace),
    ("SwinTransformerV2", SwinV2LoaderHuggerFace),
    ("SwinTransformer", SwinLoaderHuggerFace),
    ("ResMLP", ResMLPLoaderHuggerFace),
)


def load_hf_checkpoint(model: type, path: str, libai_cfg: Optional[Any] = None, **kwargs: Any):
    """Build ``model`` (a libai model class) from the HF checkpoint directory ``path``.

    Raises ``ValueError`` for a model class no loader handles.
    """
    for prefix, loader in _BY_PREFIX:
        if model.__name__.startswith(prefix):
            return loader(model, libai_cfg, path, **kwargs).load()
    raise ValueError(
        f"no Hugging Face loader for {model.__name__}; loaders exist for "
        "Bert*, Roberta*, GPT*, T5*, VisionTransformer, SwinTransformer(V2), ResMLP models"
    )
