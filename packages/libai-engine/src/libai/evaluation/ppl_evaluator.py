"""Perplexity of a language model: exp of the mean cross entropy over the target tokens."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import numpy as np
from libai.evaluation.evaluator import DatasetEvaluator
from libai.evaluation.utils import to_numpy
from libai.utils.oneflow_env import flow


def token_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> tuple:
    """Summed cross entropy and token count over the labels that are ``>= 0``.

    Negative labels (``-1``, ``-100``) mark padding and masked-out positions.
    """
    logits = logits.reshape(-1, logits.shape[-1]).astype(np.float64)
    labels = labels.reshape(-1).astype(np.int64)
    keep = labels >= 0
    logits, labels = logits[keep], labels[keep]
    if labels.size == 0:
        return 0.0, 0
    peak = logits.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(logits - peak).sum(axis=1)) + peak[:, 0]
    picked = logits[np.arange(labels.size), labels]
    return float((log_norm - picked).sum()), int(labels.size)


def _flow_token_cross_entropy(logits: Any, labels: Any) -> tuple:
    """:func:`token_cross_entropy` computed by OneFlow, where the tensors live.

    Only two scalars leave the device, so a large vocabulary (or one split over
    tensor-parallel ranks) is never gathered into one numpy array.
    """
    if logits.is_global != labels.is_global:
        raise ValueError(
            "PPLEvaluator: prediction_scores and labels must both be global or both local tensors"
        )
    logits = logits.reshape(-1, logits.shape[-1]).to(flow.float32)
    labels = labels.reshape(-1).to(flow.int64)
    keep = labels >= 0
    picked = flow.gather(logits, 1, labels.clamp(min=0).unsqueeze(1)).squeeze(1)
    per_token = (flow.logsumexp(logits, dim=-1) - picked).to(flow.float64)
    loss = (per_token * keep.to(flow.float64)).sum()
    tokens = keep.to(flow.int64).sum()
    return float(to_numpy(loss)), int(to_numpy(tokens))


class PPLEvaluator(DatasetEvaluator):
    """``PPL = exp(total cross entropy / number of target tokens)``.

    Reads ``outputs["prediction_scores"]`` (``[..., vocab]`` logits) and
    ``inputs["labels"]`` (the target ids, already aligned with the logits);
    negative labels are not counted.
    """

    def __init__(self) -> None:
        self.reset()

    def process(self, inputs: Mapping[str, Any], outputs: Mapping[str, Any]) -> None:
        logits, labels = outputs["prediction_scores"], inputs["labels"]
        self._note_inputs(labels, logits)
        if isinstance(logits, flow.Tensor) and isinstance(labels, flow.Tensor):
            loss, tokens = _flow_token_cross_entropy(logits, labels)
        else:
            loss, tokens = token_cross_entropy(to_numpy(logits), to_numpy(labels))
        self._records.append({"loss": loss, "tokens": tokens})

    def evaluate(self) -> dict:
        records = self._gather()
        tokens = sum(r["tokens"] for r in records)
        if tokens == 0:
            return OrderedDict(PPL=float("nan"))
        mean = sum(r["loss"] for r in records) / tokens
        return OrderedDict(PPL=math.exp(mean))
