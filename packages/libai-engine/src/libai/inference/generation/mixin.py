"""``GenerationMixin``: ``model.generate`` for any model that implements one decoding step.

A model that generates subclasses ``GenerationMixin`` (with ``flow.nn.Module``) and
implements::

    def generation_forward(self, input_ids, *, attention_mask, position_ids,
                           past_key_values, use_cache,
                           encoder_hidden_states=None, encoder_attention_mask=None):
        # -> (logits [B, T_new, vocab], new past_key_values or None)

``input_ids`` is ``[B, T_new]`` (the whole prompt first, then the new token when
``use_cache``, or the whole sequence again when not); ``attention_mask`` is
``[B, T_past + T_new]`` (1 = real token, 0 = left padding); ``position_ids`` is
``cumsum(attention_mask) - 1`` with padded positions 0, sliced to the new tokens;
``past_key_values`` is ``None`` or a tuple over layers of tuples of tensors whose
dim 0 is the batch (so beam search can reorder it). Inputs are global int64 tensors
broadcast on the placement of layer 0.

Encoder-decoder models set ``is_encoder_decoder = True`` and implement
``generation_encode(input_ids, attention_mask) -> encoder_hidden_states``; decoding
then starts from ``decoder_start_token_id``.

The search itself (logits processors, sampling, beam bookkeeping) runs on the host in
numpy with ``transformers``' semantics: the last-position logits of each step are
broadcast to every rank (:func:`libai.utils.distributed.to_whole_local`), and every rank
draws from an identically seeded generator, so every rank picks the same tokens under
tensor or pipeline parallelism.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional

import numpy as np
from libai.inference.generation import logits_process as lp
from libai.inference.generation.beam_search import BeamSearch
from libai.inference.generation.config import GenerationConfig, resolve_generation_config

__all__ = ["GenerationMixin", "as_broadcast_global", "reorder_cache"]


def _flow():
    from libai.utils.oneflow_env import flow

    return flow


def _to_numpy(value: Any, name: str) -> np.ndarray:
    """A 2D int64 array from a list, numpy array, or (local or global) OneFlow tensor."""
    flow = _flow()
    if isinstance(value, flow.Tensor):
        from libai.utils import distributed as dist

        value = dist.to_whole_local(value).numpy()
    array = np.asarray(value)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2:
        raise ValueError(f"generate: {name} must be [batch, length], got shape {array.shape}")
    if array.shape[1] == 0:
        raise ValueError(f"generate: {name} is empty (no prompt tokens)")
    return array.astype(np.int64)


def as_broadcast_global(array: np.ndarray) -> Any:
    """A host array as a global tensor broadcast on the placement of layer 0."""
    flow = _flow()
    from libai.utils import distributed as dist

    placement = dist.get_layer_placement(0)
    sbp = [flow.sbp.broadcast] * len(placement.ranks.shape)
    return flow.tensor(np.ascontiguousarray(array)).to_global(placement=placement, sbp=sbp)


def _last_logits(logits) -> np.ndarray:
    """The last position's logits ``[B, vocab]`` as float32, the same on every rank."""
    from libai.utils import distributed as dist

    return dist.to_whole_local(logits[:, -1, :]).numpy().astype(np.float32)


def reorder_cache(past_key_values: Any, rows: np.ndarray) -> Any:
    """Pick the batch rows ``rows`` of every tensor of a (nested tuple) cache."""
    if past_key_values is None:
        return None
    flow = _flow()
    index_by_placement: dict = {}

    def pick(tensor):
        key = str(tensor.placement)
        if key not in index_by_placement:
            sbp = [flow.sbp.broadcast] * len(tensor.placement.ranks.shape)
            index_by_placement[key] = flow.tensor(rows, dtype=flow.int64).to_global(
                placement=tensor.placement, sbp=sbp
            )
        return flow.index_select(tensor, 0, index_by_placement[key])

    def walk(item):
        if isinstance(item, (tuple, list)):
            return tuple(walk(x) for x in item)
        return pick(item)

    return walk(past_key_values)


def _position_ids(mask: np.ndarray) -> np.ndarray:
    positions = np.cumsum(mask, axis=-1) - 1
    positions[mask == 0] = 0
    return positions.astype(np.int64)


class _Stepper:
    """Runs the model one step at a time and keeps the KV cache between steps."""

    def __init__(self, model: Any, config: GenerationConfig, encoder: Optional[tuple]) -> None:
        self.model = model
        self.use_cache = bool(config.use_cache)
        self.encoder = encoder  # (hidden states, attention mask tensor) or None
        self.past = None
        self.seen = 0  # tokens already in the cache

    def logits(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        start = self.seen if self.use_cache else 0
        new_ids = ids[:, start:]
        positions = _position_ids(mask)[:, start:]
        kwargs = {}
        if self.encoder is not None:
            kwargs = dict(
                encoder_hidden_states=self.encoder[0], encoder_attention_mask=self.encoder[1]
            )
        logits, past = self.model.generation_forward(
            as_broadcast_global(new_ids),
            attention_mask=as_broadcast_global(mask),
            position_ids=as_broadcast_global(positions),
            past_key_values=self.past if self.use_cache else None,
            use_cache=self.use_cache,
            **kwargs,
        )
        if self.use_cache:
            if past is None:
                raise TypeError(
                    f"{type(self.model).__name__}.generation_forward returned no "
                    "past_key_values with use_cache=True"
                )
            self.past = past
            self.seen = ids.shape[1]
        return _last_logits(logits)

    def reorder(self, rows: np.ndarray) -> None:
        self.past = reorder_cache(self.past, rows)


def _seed_for(config: GenerationConfig) -> int:
    """The sampling seed: ``config.seed``, else one drawn on rank 0 and shared."""
    if config.seed is not None:
        return int(config.seed)
    from libai.utils import distributed as dist

    drawn = int(np.random.SeedSequence().entropy % (2**63))
    return int(dist.all_gather_object(drawn)[0])


class GenerationMixin:
    """Adds ``generate`` (Hugging Face's names and semantics) to a model; see the module doc."""

    is_encoder_decoder: bool = False

    def generation_forward(
        self,
        input_ids: Any,
        *,
        attention_mask: Any,
        position_ids: Any,
        past_key_values: Any,
        use_cache: bool,
        encoder_hidden_states: Any = None,
        encoder_attention_mask: Any = None,
    ) -> tuple:
        """One decoding step; returns ``(logits [B, T_new, vocab], past_key_values | None)``."""
        raise NotImplementedError(
            f"{type(self).__name__} cannot generate: it does not implement generation_forward"
        )

    def generation_encode(self, input_ids: Any, attention_mask: Any) -> Any:
        """Encoder-decoder models: run the encoder once, return its hidden states."""
        raise NotImplementedError(
            f"{type(self).__name__} sets is_encoder_decoder but has no generation_encode"
        )

    def generation_max_positions(self) -> Optional[int]:
        """The longest sequence the model can attend to, if it has a limit (else ``None``)."""
        return None

    # -------------------------------------------------------------------- generate
    def generate(self, input_ids: Any, attention_mask: Any = None, **kwargs: Any) -> Any:
        """Continue ``input_ids`` (``[B, L]``, left-padded) and return the token ids.

        Keywords are ``transformers``' (``max_new_tokens``, ``do_sample``, ``top_k``,
        ``num_beams``, ``eos_token_id``...; see :class:`GenerationConfig`), plus
        ``seed`` for reproducible sampling. Returns a local int64 tensor, the same on
        every rank: ``[B * num_return_sequences, L + new]`` for a decoder-only model
        (prompt and continuation), ``[B * num_return_sequences, 1 + new]`` for an
        encoder-decoder one (decoder start token and continuation). Rows that end
        early are padded with ``pad_token_id``.
        """
        flow = _flow()
        config = resolve_generation_config(self, kwargs)
        ids = _to_numpy(input_ids, "input_ids")
        eos = config.eos_token_ids
        pad = config.pad_token_id
        if pad is None and eos:
            pad = eos[0]
        if attention_mask is None:
            mask = np.ones_like(ids)
            if pad is not None and (ids == pad).any() and pad not in eos:
                mask = (ids != pad).astype(np.int64)
        else:
            mask = _to_numpy(attention_mask, "attention_mask")
            if mask.shape != ids.shape:
                raise ValueError(
                    f"generate: attention_mask {mask.shape} does not match input_ids {ids.shape}"
                )
        repeat = max(config.num_beams, config.num_return_sequences)
        was_training = getattr(self, "training", False)
        if hasattr(self, "eval"):
            self.eval()
        try:
            with flow.no_grad():
                out = self._generate(ids, mask, config, eos, pad, repeat)
        finally:
            if was_training:
                self.train(True)
        return flow.tensor(out, dtype=flow.int64)

    def _generate(
        self,
        ids: np.ndarray,
        mask: np.ndarray,
        config: GenerationConfig,
        eos: Sequence[int],
        pad: Optional[int],
        repeat: int,
    ) -> np.ndarray:
        encoder = None
        prompt_mask = mask
        if self.is_encoder_decoder:
            start = config.decoder_start_token_id
            if start is None:
                start = config.bos_token_id
            if start is None:
                raise ValueError(
                    "generate: an encoder-decoder model needs decoder_start_token_id "
                    "(or bos_token_id) in its cfg or as a keyword"
                )
            enc_mask = as_broadcast_global(mask)
            states = self.generation_encode(as_broadcast_global(ids), enc_mask)
            rows = np.repeat(np.arange(ids.shape[0]), repeat)
            if repeat > 1:
                states = reorder_cache(states, rows)
                enc_mask = as_broadcast_global(np.repeat(mask, repeat, axis=0))
            encoder = (states, enc_mask)
            ids = np.full((ids.shape[0], 1), start, dtype=np.int64)
            mask = np.ones_like(ids)
            prompt_mask = None  # transformers passes no decoder_attention_mask
        elif not mask.all():
            prompt_mask = mask
        else:
            prompt_mask = None
        ids = np.repeat(ids, repeat, axis=0)
        mask = np.repeat(mask, repeat, axis=0)
        if prompt_mask is not None:
            prompt_mask = np.repeat(prompt_mask, repeat, axis=0)
        prompt_len = ids.shape[1]
        max_length = config.max_length
        if config.max_new_tokens is not None:
            max_length = prompt_len + config.max_new_tokens
        limit = self.generation_max_positions()
        if limit is not None and not self.is_encoder_decoder and max_length > limit:
            max_length = limit
            if prompt_len >= limit:
                raise ValueError(
                    f"generate: the prompt has {prompt_len} tokens; the model attends to at "
                    f"most {limit} positions"
                )
        min_length = config.min_length
        min_new = config.min_new_tokens or 0
        # transformers ignores the left padding of the prompt for the repetition penalty.
        ignore = None if prompt_mask is None else (prompt_mask != 0).argmax(axis=1)

        def processed(seq: np.ndarray, scores: np.ndarray) -> np.ndarray:
            penal_ids = seq
            if ignore is not None and config.repetition_penalty != 1.0:
                vocab = scores.shape[1]
                cols = np.arange(seq.shape[1])[None, :]
                penal_ids = np.where(cols < ignore[:, None], vocab, seq)
                padded = np.concatenate([scores, np.zeros((len(scores), 1), scores.dtype)], 1)
                penal = lp.repetition_penalty(penal_ids, padded, config.repetition_penalty)
                scores = penal[:, :vocab]
                penalty = 1.0
            else:
                penalty = config.repetition_penalty
            return lp.process(
                seq,
                scores,
                new_tokens=seq.shape[1] - prompt_len,
                eos_token_ids=eos,
                repetition_penalty_value=penalty,
                no_repeat_ngram_size=config.no_repeat_ngram_size,
                min_length=min_length,
                min_new_tokens=min_new,
            )

        rng = np.random.default_rng(_seed_for(config)) if config.do_sample else None
        stepper = _Stepper(self, config, encoder)
        if config.num_beams > 1:
            return self._beam_search(
                ids, mask, config, eos, pad, max_length, stepper, processed, rng
            )
        return self._greedy_or_sample(
            ids, mask, config, eos, pad, max_length, stepper, processed, rng
        )

    @staticmethod
    def _greedy_or_sample(ids, mask, config, eos, pad, max_length, stepper, processed, rng):
        unfinished = np.ones(ids.shape[0], dtype=bool)
        eos_arr = np.asarray(eos, dtype=np.int64)
        while True:
            scores = processed(ids, stepper.logits(ids, mask))
            if rng is not None:
                scores = lp.warp(
                    scores,
                    temperature_value=config.temperature,
                    top_k_value=config.top_k,
                    top_p_value=config.top_p,
                )
                probs = lp.softmax(scores).astype(np.float64)
                probs /= probs.sum(axis=-1, keepdims=True)
                tokens = np.array([rng.choice(p.size, p=p) for p in probs], dtype=np.int64)
            else:
                tokens = scores.argmax(axis=-1).astype(np.int64)
            if len(eos_arr):
                tokens = np.where(unfinished, tokens, pad)
            ids = np.concatenate([ids, tokens[:, None]], axis=1)
            mask = np.concatenate([mask, np.ones((len(mask), 1), dtype=mask.dtype)], axis=1)
            if len(eos_arr):
                unfinished &= ~np.isin(tokens, eos_arr)
            if ids.shape[1] >= max_length or not unfinished.any():
                return ids

    @staticmethod
    def _beam_search(ids, mask, config, eos, pad, max_length, stepper, processed, rng):
        search = BeamSearch(
            ids,
            config.num_beams,
            max_length,
            config.length_penalty,
            config.early_stopping,
            eos,
            pad,
        )
        sample = None
        if rng is not None:
            keep_min = len(eos) + 1 if eos else 2

            def sample(scores: np.ndarray, k: int) -> np.ndarray:
                probs = lp.softmax(scores).astype(np.float64)
                probs /= probs.sum(axis=-1, keepdims=True)
                return np.stack(
                    [rng.choice(p.size, size=k, replace=False, p=p) for p in probs]
                ).astype(np.int64)

        while True:
            seq = search.running_ids()
            step_mask = np.concatenate(
                [mask, np.ones((len(mask), seq.shape[1] - mask.shape[1]), dtype=mask.dtype)], 1
            )
            log_probs = processed(seq, lp.log_softmax(stepper.logits(seq, step_mask)))
            if rng is not None:
                log_probs = lp.warp(
                    log_probs,
                    temperature_value=config.temperature,
                    top_k_value=config.top_k,
                    top_p_value=config.top_p,
                    min_tokens_to_keep=keep_min,
                )
            parents = search.step(log_probs, sample)
            if search.done:
                return search.finalize(config.num_return_sequences)
            stepper.reorder(parents)
