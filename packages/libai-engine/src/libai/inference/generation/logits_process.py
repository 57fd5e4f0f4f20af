"""Logits processors and warpers with Hugging Face's semantics, on numpy arrays.

Each function takes the token ids generated so far, ``ids`` (``(N, L)`` int64, the
whole sequence including the prompt and any left padding, as ``transformers`` passes
it) and the scores of the next token ``scores`` (``(N, V)`` float32), and returns new
scores. They run on the host: the logits of one step are small next to a forward
pass, every rank computes the same values from the same broadcast logits, and numpy
makes the semantics easy to check against ``transformers.generation.logits_process``.

Order (``transformers``' ``_get_logits_processor``): repetition penalty, no-repeat
n-grams, minimum length, minimum new tokens; then, when sampling, temperature, top-k,
top-p.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

import numpy as np

NEG_INF = np.float32(-np.inf)


def repetition_penalty(ids: np.ndarray, scores: np.ndarray, penalty: float) -> np.ndarray:
    """Divide positive (multiply negative) scores of every token already in ``ids`` by ``penalty``.

    CTRL's penalty (Keskar et al., 2019), applied once per distinct token, as
    ``RepetitionPenaltyLogitsProcessor`` does.
    """
    if penalty == 1.0:
        return scores
    rows = np.arange(ids.shape[0])[:, None]
    picked = scores[rows, ids]
    picked = np.where(picked < 0, picked * penalty, picked / penalty).astype(scores.dtype)
    out = scores.copy()
    out[rows, ids] = picked
    return out


def banned_ngram_tokens(ids: np.ndarray, ngram_size: int) -> list[list[int]]:
    """For each row, the tokens that would repeat an n-gram of size ``ngram_size``."""
    cur_len = ids.shape[1]
    if cur_len + 1 < ngram_size:
        return [[] for _ in range(ids.shape[0])]
    banned = []
    for row in ids.tolist():
        seen: dict[tuple, list[int]] = {}
        for start in range(cur_len - ngram_size + 1):
            gram = row[start : start + ngram_size]
            seen.setdefault(tuple(gram[:-1]), []).append(gram[-1])
        banned.append(seen.get(tuple(row[cur_len + 1 - ngram_size :]), []))
    return banned


def no_repeat_ngram(ids: np.ndarray, scores: np.ndarray, ngram_size: int) -> np.ndarray:
    """Forbid any token that would complete an n-gram already present in the row."""
    if not ngram_size:
        return scores
    out = scores
    for row, tokens in enumerate(banned_ngram_tokens(ids, ngram_size)):
        if tokens:
            if out is scores:
                out = scores.copy()
            out[row, tokens] = NEG_INF
    return out


def forbid_eos(scores: np.ndarray, eos_token_ids: Sequence[int]) -> np.ndarray:
    """Set the scores of the end-of-sequence tokens to -inf (minimum length not reached)."""
    out = scores.copy()
    out[:, [i for i in eos_token_ids if 0 <= i < scores.shape[1]]] = NEG_INF
    return out


def temperature(scores: np.ndarray, value: float) -> np.ndarray:
    """Divide the scores by ``value`` (``TemperatureLogitsWarper``)."""
    if value == 1.0:
        return scores
    return (scores / np.float32(value)).astype(scores.dtype)


def top_k(scores: np.ndarray, k: int, min_tokens_to_keep: int = 1) -> np.ndarray:
    """Keep the ``k`` best scores per row, ties with the k-th included (``TopKLogitsWarper``)."""
    k = min(max(k, min_tokens_to_keep), scores.shape[-1])
    kth = -np.sort(-scores, axis=-1)[:, k - 1 : k]
    return np.where(scores < kth, NEG_INF, scores)


def top_p(scores: np.ndarray, p: float, min_tokens_to_keep: int = 1) -> np.ndarray:
    """Nucleus filtering (``TopPLogitsWarper``): drop the tail whose mass is ``<= 1 - p``.

    Sorted ascending, a token is removed when the cumulative probability up to and
    including it is at most ``1 - p``; the ``min_tokens_to_keep`` best always stay.
    """
    if p >= 1.0:
        return scores
    order = np.argsort(scores, axis=-1, kind="stable")
    sorted_scores = np.take_along_axis(scores, order, axis=-1)
    probs = softmax(sorted_scores)
    cumulative = np.cumsum(probs, axis=-1)
    remove_sorted = cumulative <= (1 - p)
    remove_sorted[:, -min_tokens_to_keep:] = False
    remove = np.zeros_like(remove_sorted)
    np.put_along_axis(remove, order, remove_sorted, axis=-1)
    return np.where(remove, NEG_INF, scores)


def softmax(scores: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float32; rows of all -inf give NaN, as torch's does."""
    shifted = scores - scores.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


def log_softmax(scores: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax in float32 (beam search scores)."""
    shifted = scores - scores.max(axis=-1, keepdims=True)
    return (shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))).astype(np.float32)


def process(
    ids: np.ndarray,
    scores: np.ndarray,
    *,
    new_tokens: int,
    eos_token_ids: Sequence[int],
    repetition_penalty_value: float = 1.0,
    no_repeat_ngram_size: int = 0,
    min_length: int = 0,
    min_new_tokens: int = 0,
) -> np.ndarray:
    """Apply the processors that shape a distribution (every decoding mode)."""
    scores = repetition_penalty(ids, scores, repetition_penalty_value)
    scores = no_repeat_ngram(ids, scores, no_repeat_ngram_size)
    if eos_token_ids and (ids.shape[1] < min_length or new_tokens < min_new_tokens):
        scores = forbid_eos(scores, eos_token_ids)
    return scores


def warp(
    scores: np.ndarray,
    *,
    temperature_value: float = 1.0,
    top_k_value: Optional[int] = None,
    top_p_value: float = 1.0,
    min_tokens_to_keep: int = 1,
) -> np.ndarray:
    """Apply the sampling warpers: temperature, then top-k, then top-p."""
    scores = temperature(scores, temperature_value)
    if top_k_value:
        scores = top_k(scores, top_k_value, min_tokens_to_keep)
    return top_p(scores, top_p_value, min_tokens_to_keep)
