"""Regression quality: Pearson and Spearman correlation (LiBai's ``RegEvaluator``)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import numpy as np
from libai.evaluation.evaluator import DatasetEvaluator
from libai.evaluation.utils import to_numpy


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson's correlation coefficient (nan when either side is constant)."""
    x = np.asarray(x, dtype=np.float64) - np.mean(x)
    y = np.asarray(y, dtype=np.float64) - np.mean(y)
    denom = np.sqrt((x * x).sum() * (y * y).sum())
    return float((x * y).sum() / denom) if denom > 0 else float("nan")


def rankdata(values: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing their average rank (scipy's default)."""
    values = np.asarray(values)
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(values.size, dtype=np.float64)
    ordered = values[order]
    start = 0
    while start < values.size:
        end = start
        while end + 1 < values.size and ordered[end + 1] == ordered[start]:
            end += 1
        ranks[order[start : end + 1]] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation: Pearson's on the (tie-averaged) ranks."""
    return pearson(rankdata(x), rankdata(y))


class RegEvaluator(DatasetEvaluator):
    """``pearson``, ``spearman`` and their mean ``corr``, from
    ``outputs["prediction_scores"]`` (one score per sample) and ``inputs["labels"]``."""

    def __init__(self) -> None:
        self.reset()

    def process(self, inputs: Mapping[str, Any], outputs: Mapping[str, Any]) -> None:
        self._note_inputs(inputs["labels"], outputs["prediction_scores"])
        labels = to_numpy(inputs["labels"]).reshape(-1).astype(np.float64)
        preds = to_numpy(outputs["prediction_scores"]).reshape(labels.shape[0], -1)[:, 0]
        self._records.append({"preds": preds.astype(np.float64), "labels": labels})

    def evaluate(self) -> dict:
        records = self._gather()
        if not records:
            return OrderedDict(pearson=float("nan"), spearman=float("nan"), corr=float("nan"))
        preds = np.concatenate([r["preds"] for r in records])
        labels = np.concatenate([r["labels"] for r in records])
        p, s = pearson(preds, labels), spearman(preds, labels)
        return OrderedDict(pearson=p, spearman=s, corr=(p + s) / 2)
