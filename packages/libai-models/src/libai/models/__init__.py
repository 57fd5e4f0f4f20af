"""LiBai's model zoo: BERT, RoBERTa, GPT and T5 (vision models are added beside them).

Model classes are imported on first use (PEP 562) so ``import libai.models`` is cheap;
``from libai.models import GPTForPreTraining`` works as in LiBai.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "BertModel": "libai.models.bert_model",
    "BertForPreTraining": "libai.models.bert_model",
    "BertForClassification": "libai.models.bert_model",
    "RobertaModel": "libai.models.roberta_model",
    "RobertaForPreTraining": "libai.models.roberta_model",
    "RobertaForCausalLM": "libai.models.roberta_model",
    "GPTModel": "libai.models.gpt_model",
    "GPTForPreTraining": "libai.models.gpt_model",
    "T5Model": "libai.models.t5_model",
    "T5ForPreTraining": "libai.models.t5_model",
    "VisionTransformer": "libai.models.vision_transformer",
    "SwinTransformer": "libai.models.swin_transformer",
    "SwinTransformerV2": "libai.models.swin_transformer_v2",
    "ResMLP": "libai.models.resmlp",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'libai.models' has no attribute {name!r}")
