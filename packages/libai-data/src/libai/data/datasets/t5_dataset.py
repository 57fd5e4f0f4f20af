"""T5 pretraining samples: span corruption with sentinel tokens.

Spans of consecutive tokens (geometric lengths, up to 10) covering about
``masked_lm_prob`` of the sample are cut out; the encoder sees the text with each
span replaced by one sentinel (``<extra_id_0>``, ``<extra_id_1>``, ...), the decoder
learns to produce ``sentinel span sentinel span ... eos``::

    tokens:          a b c d e f g
    encoder input:   a <X0> d e <X1> g
    decoder input:   bos <X0> b c <X1> f
    labels:          <X0> b c <X1> f eos
"""

from __future__ import annotations

import collections
from typing import Any

import numpy as np
from libai.data.data_utils.dataset_utils import create_masked_lm_predictions, get_samples_mapping

from ._common import flow, make_instance, require_tokenizer, resolve_indexed_dataset


class T5Dataset(flow.utils.data.Dataset):
    """Span-corruption samples for T5 from a sentence-level indexed dataset.

    Args:
        name: a name for the cached sample map.
        tokenizer: supplies ``eos``/``pad`` ids, ``bos`` (``pad`` when unset) and the
            sentinels (its ``additional_special_tokens``, e.g. ``<extra_id_0>``...).
        indexed_dataset: the opened data (opened from ``data_prefix`` when ``None``).
        data_prefix: path prefix of the data; the sample map is cached next to it.
        max_num_samples: samples to provide; one epoch when ``None``.
        masked_lm_prob: share of tokens inside corrupted spans.
        max_seq_length: padded encoder length.
        max_seq_length_dec: padded decoder length.
        short_seq_prob: probability of a shorter target length.
        seed: seed of the sample map and of each sample's spans.

    Samples are ``Instance``\\ s with ``encoder_input_ids``, ``decoder_input_ids``,
    ``encoder_attn_mask``, ``decoder_attn_mask`` (causal), ``encoder_decoder_attn_mask``,
    ``lm_labels`` (-1 on padding) and ``loss_mask``, as LiBai's T5 takes them.
    """

    def __init__(
        self,
        name: str = "t5",
        tokenizer: Any = None,
        indexed_dataset: Any = None,
        data_prefix: str | None = None,
        max_num_samples: int | None = None,
        masked_lm_prob: float = 0.15,
        max_seq_length: int = 512,
        max_seq_length_dec: int = 128,
        short_seq_prob: float = 0.1,
        seed: int = 1234,
    ) -> None:
        self.name = name
        self.seed = seed
        self.masked_lm_prob = masked_lm_prob
        self.max_seq_length = max_seq_length
        self.max_seq_length_dec = max_seq_length_dec
        self.tokenizer = require_tokenizer("T5Dataset", tokenizer, "eos_token_id", "pad_token_id")
        self.sentinel_tokens = list(tokenizer.additional_special_tokens_ids)
        if not self.sentinel_tokens:
            raise ValueError(
                "T5Dataset: the tokenizer has no additional_special_tokens to use as sentinels; "
                "give it additional_special_tokens=[f'<extra_id_{i}>' for i in range(100)]"
            )
        self.indexed_dataset, self.data_prefix = resolve_indexed_dataset(
            "T5Dataset", data_prefix, indexed_dataset
        )
        self.samples_mapping = get_samples_mapping(
            self.indexed_dataset,
            self.data_prefix,
            None,
            max_num_samples,
            max_seq_length - 2,  # room for sentinels merging into the encoder input
            short_seq_prob,
            seed,
            name,
            False,
        )
        vocab = tokenizer.get_vocab()
        self.vocab_id_list = list(vocab.values())
        self.vocab_id_to_token_dict = {v: k for k, v in vocab.items()}
        self.pad_id = tokenizer.pad_token_id
        self.eos_id = tokenizer.eos_token_id
        self.bos_id = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else self.pad_id
        # Span corruption never emits these; -1 when the tokenizer has none (T5Tokenizer).
        self.cls_id = _or_minus_one(getattr(tokenizer, "cls_token_id", None))
        self.sep_id = _or_minus_one(getattr(tokenizer, "sep_token_id", None))
        self.mask_id = _or_minus_one(getattr(tokenizer, "mask_token_id", None))

    def __len__(self) -> int:
        return self.samples_mapping.shape[0]

    def build_sample(self, idx: int) -> dict[str, np.ndarray]:
        """The numpy arrays of sample ``idx``."""
        start, end, target = (int(v) for v in self.samples_mapping[idx])
        tokens = [int(t) for i in range(start, end) for t in np.asarray(self.indexed_dataset[i])]
        tokens = tokens[:target]
        rng = np.random.RandomState(seed=(self.seed + idx) % 2**32)
        tokens, _, _, _, spans = create_masked_lm_predictions(
            self.tokenizer,
            tokens,
            self.vocab_id_list,
            self.vocab_id_to_token_dict,
            self.masked_lm_prob,
            self.cls_id,
            self.sep_id,
            self.mask_id,
            self.masked_lm_prob * target,
            rng,
            max_ngrams=10,
            do_whole_word_mask=False,
            geometric_dist=True,
            masking_style="t5",
        )
        return self._corrupt(tokens, spans)

    def _corrupt(self, tokens: list[int], spans: list[Any]) -> dict[str, np.ndarray]:
        if len(spans) > len(self.sentinel_tokens):
            raise ValueError(
                f"T5Dataset: a sample has {len(spans)} masked spans but the tokenizer has only "
                f"{len(self.sentinel_tokens)} sentinel tokens; add more extra ids"
            )
        sentinels = collections.deque(self.sentinel_tokens)
        encoder, decoder_in, decoder_out = [], [self.bos_id], []
        position = 0
        for span in spans:
            sentinel = sentinels.popleft()
            decoder_in += [sentinel, *span.label]
            decoder_out += [sentinel, *span.label]
            encoder += [*tokens[position : span.index[0]], sentinel]
            position = span.index[-1] + 1
        decoder_out.append(self.eos_id)
        encoder += tokens[position:]
        if len(encoder) > self.max_seq_length or len(decoder_in) > self.max_seq_length_dec:
            raise ValueError(
                f"T5Dataset: a sample needs {len(encoder)} encoder / {len(decoder_in)} decoder tokens, "
                f"more than max_seq_length={self.max_seq_length} / max_seq_length_dec="
                f"{self.max_seq_length_dec}; raise max_seq_length_dec or lower masked_lm_prob"
            )
        enc = np.full(self.max_seq_length, self.pad_id, dtype=np.int64)
        enc[: len(encoder)] = encoder
        dec = np.full(self.max_seq_length_dec, self.pad_id, dtype=np.int64)
        dec[: len(decoder_in)] = decoder_in
        labels = np.full(self.max_seq_length_dec, -1, dtype=np.int64)
        labels[: len(decoder_out)] = decoder_out
        enc_valid = np.arange(self.max_seq_length) < len(encoder)
        dec_valid = np.arange(self.max_seq_length_dec) < len(decoder_in)
        causal = np.tril(
            np.ones((self.max_seq_length_dec, self.max_seq_length_dec), dtype=np.bool_)
        )
        return {
            "encoder_input_ids": enc,
            "decoder_input_ids": dec,
            "encoder_attn_mask": enc_valid[:, None] & enc_valid[None, :],
            "decoder_attn_mask": dec_valid[:, None] & dec_valid[None, :] & causal,
            "encoder_decoder_attn_mask": dec_valid[:, None] & enc_valid[None, :],
            "lm_labels": labels,
            "loss_mask": dec_valid.copy(),
        }

    def __getitem__(self, idx: int) -> Any:
        arrays = self.build_sample(idx)
        placements = {"lm_labels": -1, "loss_mask": -1}
        return make_instance(**{k: (v, placements.get(k, 0)) for k, v in arrays.items()})


def _or_minus_one(value: int | None) -> int:
    return -1 if value is None else int(value)
