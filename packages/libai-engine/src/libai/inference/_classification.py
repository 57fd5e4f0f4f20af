"""What the classification pipelines share: logits to ``{"label", "score"}`` lists."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional

import numpy as np

__all__ = ["logits_of", "top_labels"]


def logits_of(output: Any) -> np.ndarray:
    """The model's class scores as a numpy ``(B, classes)`` array, the same on every rank.

    LiBai's classifiers return ``{"prediction_scores": logits}`` in eval mode.
    """
    from libai.utils import distributed as dist

    logits = output["prediction_scores"] if isinstance(output, dict) else output
    return dist.to_whole_local(logits).numpy().astype(np.float64)


def top_labels(
    logits: np.ndarray, labels: Optional[Sequence[str]], top_k: int = 1
) -> list[list[dict]]:
    """Per row, the ``top_k`` classes by softmax probability: ``{"label", "score"}``."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    probs = np.exp(shifted) / np.exp(shifted).sum(axis=-1, keepdims=True)
    rows = []
    for row in probs:
        best = np.argsort(-row, kind="stable")[:top_k]
        rows.append(
            [
                {
                    "label": labels[i] if labels is not None and i < len(labels) else f"LABEL_{i}",
                    "score": float(row[i]),
                }
                for i in best
            ]
        )
    return rows
