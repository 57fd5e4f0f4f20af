"""Beam search bookkeeping with the semantics of ``transformers``' (vectorised) ``_beam_search``.

The state lives in numpy arrays shaped ``(batch, beams, ...)``: running sequences and
their accumulated log-probabilities, and the best finished hypotheses with their
length-penalised scores. :meth:`BeamSearch.step` takes the processed log-probabilities
of one step and returns which running beam each new beam continues, so the caller can
reorder the model's KV cache. Every quantity is computed as ``transformers`` does
(``_get_top_k_continuations``, ``_get_running_beams_for_next_iteration``,
``_update_finished_beams``, ``_check_early_stop_heuristic``), in float32.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Callable, Optional, Union

import numpy as np

_LARGE_NEGATIVE = np.float32(-1.0e9)


def _topk_indices(values: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest values per row, best first (ties: lower index first)."""
    return np.argsort(-values, axis=-1, kind="stable")[..., :k]


def _gather(tensor: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """``torch.take_along_dim(tensor, indices, dim=1)`` for 2D/3D ``tensor``."""
    while indices.ndim < tensor.ndim:
        indices = indices[..., None]
    return np.take_along_axis(tensor, indices, axis=1)


class BeamSearch:
    """The running and finished beams of a batch.

    Args:
        prompt: ``(batch * beams, prompt_len)`` ids, each prompt repeated ``beams`` times.
        num_beams, max_length, length_penalty, early_stopping: as in ``transformers``.
        eos_token_ids: end-of-sequence ids (may be empty).
        pad_token_id: fills positions after a finished sequence.
    """

    def __init__(
        self,
        prompt: np.ndarray,
        num_beams: int,
        max_length: int,
        length_penalty: float,
        early_stopping: Union[bool, str],
        eos_token_ids: Sequence[int],
        pad_token_id: Optional[int],
    ) -> None:
        flat_batch, cur_len = prompt.shape
        self.batch = flat_batch // num_beams
        self.num_beams = num_beams
        self.max_length = max_length
        self.length_penalty = float(length_penalty)
        self.early_stopping = early_stopping
        self.eos = np.asarray(list(eos_token_ids), dtype=np.int64)
        self.prompt_len = cur_len
        self.cur_len = cur_len
        self.beams_to_keep = max(2, 1 + len(self.eos)) * num_beams
        self.top_num_beam_mask = np.arange(self.beams_to_keep) < num_beams
        # transformers: `pad_token_id or eos_token_id[0] if eos_token_id is not None else -1`
        # (a pad id of 0 is falsy there, so eos fills instead).
        if len(self.eos):
            fill = pad_token_id if pad_token_id else int(self.eos[0])
        else:
            fill = -1
        total = max(max_length, cur_len + 1)
        self.running = np.full((self.batch, num_beams, total), fill, dtype=np.int64)
        self.running[:, :, :cur_len] = prompt.reshape(self.batch, num_beams, cur_len)
        self.sequences = self.running.copy()
        self.running_scores = np.zeros((self.batch, num_beams), dtype=np.float32)
        self.running_scores[:, 1:] = _LARGE_NEGATIVE
        self.scores = np.full((self.batch, num_beams), _LARGE_NEGATIVE, dtype=np.float32)
        self.finished = np.zeros((self.batch, num_beams), dtype=bool)
        self.improvable = np.ones((self.batch, 1), dtype=bool)
        self.hits_stop = np.zeros((self.batch, num_beams), dtype=bool)
        steps = max(total - cur_len, 1)
        self.running_indices = np.full((self.batch, num_beams, steps), -1, dtype=np.int64)
        self.indices = self.running_indices.copy()
        self.done = False

    def running_ids(self) -> np.ndarray:
        """The running sequences, flattened to ``(batch * beams, cur_len)``."""
        return self.running[:, :, : self.cur_len].reshape(self.batch * self.num_beams, -1)

    def step(
        self,
        log_probs: np.ndarray,
        sample: Optional[Callable[[np.ndarray, int], np.ndarray]] = None,
    ) -> np.ndarray:
        """Advance one token; return, per new running beam, the flat index of its parent.

        ``log_probs``: ``(batch * beams, vocab)`` processed log-probabilities.
        ``sample(scores, k)``: draw ``k`` candidates per row without replacement (beam
        sampling); ``None`` takes the top ``k``.
        """
        batch, beams, cur_len = self.batch, self.num_beams, self.cur_len
        vocab = log_probs.shape[-1]
        accumulated = log_probs.reshape(batch, beams, vocab) + self.running_scores[:, :, None]
        accumulated = accumulated.reshape(batch, beams * vocab).astype(np.float32)

        # c. the top-K continuations over all beams
        if sample is None:
            topk = _topk_indices(accumulated, self.beams_to_keep)
            topk_scores = np.take_along_axis(accumulated, topk, axis=1)
        else:
            topk = sample(accumulated, self.beams_to_keep)
            topk_scores = np.take_along_axis(accumulated, topk, axis=1)
            order = _topk_indices(topk_scores, self.beams_to_keep)
            topk_scores = np.take_along_axis(topk_scores, order, axis=1)
            topk = np.take_along_axis(topk, order, axis=1)
        parent = topk // vocab
        tokens = topk % vocab
        topk_running_indices = _gather(self.running_indices, parent)
        topk_running = _gather(self.running, parent)
        topk_running[:, :, cur_len] = tokens
        offset = np.arange(batch)[:, None] * beams
        topk_running_indices[:, :, cur_len - self.prompt_len] = parent + offset

        # d. which continuations stop here (end of sequence, or the maximum length)
        hits = np.isin(tokens, self.eos) if len(self.eos) else np.zeros_like(tokens, dtype=bool)
        if cur_len + 1 >= self.max_length:
            hits = np.ones_like(hits)
        self.hits_stop = hits

        # e. the running beams of the next step: the best that did not stop
        running_scores = topk_scores + hits.astype(np.float32) * _LARGE_NEGATIVE
        keep = _topk_indices(running_scores, beams)
        self.running = _gather(topk_running, keep)
        self.running_scores = _gather(running_scores, keep)
        self.running_indices = _gather(topk_running_indices, keep)

        # f. finished hypotheses: merge the ones that just stopped into the best kept
        just_finished = hits & self.top_num_beam_mask[None, :]
        penalised = topk_scores / np.float32((cur_len + 1 - self.prompt_len) ** self.length_penalty)
        full = self.finished.all(axis=-1, keepdims=True) & (self.early_stopping is True)
        penalised = penalised + full.astype(np.float32) * _LARGE_NEGATIVE
        penalised = penalised + (~self.improvable).astype(np.float32) * _LARGE_NEGATIVE
        penalised = penalised + (~just_finished).astype(np.float32) * _LARGE_NEGATIVE
        merged_scores = np.concatenate((self.scores, penalised.astype(np.float32)), axis=1)
        best = _topk_indices(merged_scores, beams)
        self.sequences = _gather(np.concatenate((self.sequences, topk_running), axis=1), best)
        self.scores = _gather(merged_scores, best)
        self.indices = _gather(np.concatenate((self.indices, topk_running_indices), axis=1), best)
        self.finished = _gather(np.concatenate((self.finished, just_finished), axis=1), best)

        parents = self.running_indices[:, :, cur_len - self.prompt_len].reshape(-1)
        self.cur_len = cur_len = cur_len + 1

        # g. can a running beam still beat the worst finished one?
        if self.early_stopping == "never" and self.length_penalty > 0.0:
            best_length = self.max_length - self.prompt_len
        else:
            best_length = cur_len - self.prompt_len
        best_running = self.running_scores[:, :1] / np.float32(best_length**self.length_penalty)
        worst_finished = np.where(
            self.finished, self.scores.min(axis=1, keepdims=True), _LARGE_NEGATIVE
        )
        self.improvable = self.improvable & np.any(best_running > worst_finished, axis=-1)[:, None]
        open_beams = not (self.finished.all() and self.early_stopping is True)
        self.done = not (self.improvable.any() and open_beams and not self.hits_stop.all())
        return parents

    def finalize(self, num_return_sequences: int) -> np.ndarray:
        """The ``num_return_sequences`` best finished sequences per input, flattened."""
        seqs = self.sequences[:, :num_return_sequences].reshape(
            self.batch * num_return_sequences, -1
        )
        idx = self.indices[:, :num_return_sequences].reshape(self.batch * num_return_sequences, -1)
        generated = int((idx + 1).astype(bool).sum(axis=1).max())
        return seqs[:, : self.prompt_len + generated]
