"""Top-k classification accuracy, in percent (LiBai's ``ClsEvaluator``)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from libai.evaluation.evaluator import DatasetEvaluator
from libai.evaluation.utils import to_numpy


def topk_correct(logits: np.ndarray, labels: np.ndarray, topk: Sequence[int]) -> list:
    """Number of samples whose label is among the ``k`` highest scores, for each ``k``.

    A ``k`` larger than the number of classes counts every sample as correct.
    """
    logits = logits.reshape(labels.shape[0], -1)
    labels = labels.astype(np.int64)
    num_classes = logits.shape[1]
    # The label's position in a stable descending sort (ties go to the lower class
    # index, like topk): O(classes) per sample instead of a full sort.
    label_score = logits[np.arange(labels.shape[0]), labels][:, None]
    ahead = (logits > label_score).sum(axis=1)
    ahead += ((logits == label_score) & (np.arange(num_classes) < labels[:, None])).sum(axis=1)
    return [int((ahead < min(k, num_classes)).sum()) for k in topk]


class ClsEvaluator(DatasetEvaluator):
    """``Acc@k`` for each ``k`` in ``topk`` (0 to 100), from ``outputs["prediction_scores"]``
    and ``inputs["labels"]``."""

    def __init__(self, topk: Sequence[int] = (1, 5)) -> None:
        topk = tuple(int(k) for k in topk)
        if not topk or any(k < 1 for k in topk):
            raise ValueError(f"ClsEvaluator: topk must be positive integers, got {topk}")
        self.topk = topk
        self.reset()

    def process(self, inputs: Mapping[str, Any], outputs: Mapping[str, Any]) -> None:
        self._note_inputs(inputs["labels"], outputs["prediction_scores"])
        labels = to_numpy(inputs["labels"]).reshape(-1)
        logits = to_numpy(outputs["prediction_scores"])
        self._records.append(
            {"correct": topk_correct(logits, labels, self.topk), "samples": labels.shape[0]}
        )

    def evaluate(self) -> dict:
        records = self._gather()
        samples = sum(r["samples"] for r in records)
        results: dict = OrderedDict()
        for i, k in enumerate(self.topk):
            correct = sum(r["correct"][i] for r in records)
            results[f"Acc@{k}"] = correct / samples * 100 if samples else 0.0
        return results
