"""``TextClassificationPipeline``: sentences in, labels with scores out (BERT, RoBERTa).

::

    pipeline = TextClassificationPipeline("my_bert_cls.py", model_path="output/bert_cls/model_final")
    pipeline(["a great film", "a dull film"], top_k=2)

Each text is encoded as ``[CLS] tokens [SEP]`` (the tokenizer's start/end tokens),
truncated to ``max_length`` and right-padded; the model is called as LiBai's
classifiers are, ``model(input_ids, attention_mask, tokentype_ids)``. Labels come from
``labels=[...]`` (constructor or call), else ``LABEL_<i>``. A string gives one dict,
a list one dict per text (a list of ``top_k`` dicts when ``top_k`` is above 1).
"""

from __future__ import annotations

from typing import Any, Optional, Union

import numpy as np
from libai.inference._classification import logits_of, top_labels
from libai.inference.basic import BasePipeline

__all__ = ["TextClassificationPipeline"]


class TextClassificationPipeline(BasePipeline):
    """Classify texts with the config's model; see the module docstring."""

    def _parse_parameters(
        self,
        labels: Optional[list] = None,
        top_k: Optional[int] = None,
        max_length: Optional[int] = None,
    ) -> tuple[dict, dict, dict]:
        pre = {} if max_length is None else {"max_length": int(max_length)}
        post = {}
        if labels is not None:
            post["labels"] = list(labels)
        if top_k is not None:
            post["top_k"] = int(top_k)
        return pre, {}, post

    def preprocess(self, inputs: Union[str, list], max_length: int = 512) -> dict:
        single = isinstance(inputs, str)
        texts = [inputs] if single else list(inputs)
        if self.tokenizer is None:
            raise ValueError(
                "TextClassificationPipeline needs tokenization.tokenizer in the config"
            )
        start = getattr(self.tokenizer, "start_token_id", None)
        end = getattr(self.tokenizer, "end_token_id", None)
        rows = []
        for text in texts:
            ids = list(self.tokenizer.encode(text))[: max_length - 2]
            rows.append(
                ([start] if start is not None else []) + ids + ([end] if end is not None else [])
            )
        width = max(len(r) for r in rows)
        pad = getattr(self.tokenizer, "pad_token_id", None) or 0
        ids = np.full((len(rows), width), pad, dtype=np.int64)
        mask = np.zeros_like(ids)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        return {"input_ids": ids, "attention_mask": mask, "single": single}

    def forward(self, model_inputs: dict) -> dict:
        from libai.inference.generation.mixin import as_broadcast_global

        ids = as_broadcast_global(model_inputs["input_ids"])
        mask = as_broadcast_global(model_inputs["attention_mask"])
        types = as_broadcast_global(np.zeros_like(model_inputs["input_ids"]))
        output = self.model(ids, mask, types)
        return {"logits": logits_of(output), "single": model_inputs["single"]}

    def postprocess(
        self, model_outputs: dict, labels: Optional[list] = None, top_k: int = 1
    ) -> Any:
        rows = top_labels(model_outputs["logits"], labels, top_k)
        rows = [row[0] if top_k == 1 else row for row in rows]
        return rows[0] if model_outputs["single"] else rows
