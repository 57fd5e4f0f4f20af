"""BERT pretraining samples: masked language modelling plus sentence order.

Consecutive sentences of a document are grouped into samples of about
``max_seq_length - 3`` tokens (cached sample map). With ``binary_head`` each sample is
cut into segments A and B at a random sentence boundary and, half of the time, the
two are swapped (``ns_labels = 1``: "B does not follow A"). About ``mask_lm_prob`` of
the tokens are chosen for prediction (whole words, n-grams up to 3) and replaced
80/10/10 by ``[MASK]`` / themselves / a random token. Every sample uses its own
``RandomState(seed + idx)``, so a sample is the same in every epoch and process.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from libai.data.data_utils.dataset_utils import create_masked_lm_predictions, get_samples_mapping

from ._common import flow, make_instance, require_tokenizer, resolve_indexed_dataset


class BertDataset(flow.utils.data.Dataset):
    """Sentence-pair masked-LM samples from a sentence-level indexed dataset.

    Args:
        name: a name for the cached sample map.
        tokenizer: supplies ``cls/sep/mask/pad`` ids and the vocabulary (the trainer passes it).
        indexed_dataset: the opened data (opened from ``data_prefix`` when ``None``).
        data_prefix: path prefix of the data; the sample map is cached next to it.
        max_num_samples: samples to provide (epochs are repeated); one epoch when ``None``.
        mask_lm_prob: share of tokens to predict.
        max_seq_length: padded length, ``[CLS]`` and two ``[SEP]`` included.
        short_seq_prob: probability of a shorter target length.
        seed: seed of the sample map and of each sample's masking.
        binary_head: build sentence pairs with the sentence-order label (needs documents
            of two or more sentences: preprocess with ``--split-sentences``).
        masking_style: ``"bert"``, or ``"bert-cn-wwm"`` for Chinese whole-word masking
            (with ``BertTokenizer(do_chinese_wwm=True)``).

    Each sample is an ``Instance`` with ``input_ids``, ``attention_mask``,
    ``tokentype_ids``, ``ns_labels``, ``lm_labels`` (-1 where nothing is predicted) and
    ``loss_mask``, as LiBai's ``BertForPreTraining`` takes them.
    """

    def __init__(
        self,
        name: str = "bert",
        tokenizer: Any = None,
        indexed_dataset: Any = None,
        data_prefix: str | None = None,
        max_num_samples: int | None = None,
        mask_lm_prob: float = 0.15,
        max_seq_length: int = 512,
        short_seq_prob: float = 0.0,
        seed: int = 1234,
        binary_head: bool = True,
        masking_style: str = "bert",
    ) -> None:
        self.name = name
        self.seed = seed
        self.masked_lm_prob = mask_lm_prob
        self.max_seq_length = max_seq_length
        self.binary_head = binary_head
        self.masking_style = masking_style
        if masking_style not in ("bert", "bert-cn-wwm"):
            raise ValueError(
                f"{type(self).__name__}: masking_style={masking_style!r}; use 'bert' or 'bert-cn-wwm'"
            )
        self.tokenizer = require_tokenizer(
            type(self).__name__,
            tokenizer,
            "cls_token_id",
            "sep_token_id",
            "mask_token_id",
            "pad_token_id",
        )
        self.indexed_dataset, self.data_prefix = resolve_indexed_dataset(
            type(self).__name__, data_prefix, indexed_dataset
        )
        self.samples_mapping = get_samples_mapping(
            self.indexed_dataset,
            self.data_prefix,
            None,
            max_num_samples,
            self.max_seq_length - self._num_special_tokens(),
            short_seq_prob,
            seed,
            name,
            self._binary(),
        )
        vocab = tokenizer.get_vocab()
        self.vocab_id_list = list(vocab.values())
        self.vocab_id_to_token_dict = {v: k for k, v in vocab.items()}
        self.cls_id = tokenizer.cls_token_id
        self.sep_id = tokenizer.sep_token_id
        self.mask_id = tokenizer.mask_token_id
        self.pad_id = tokenizer.pad_token_id

    def _num_special_tokens(self) -> int:
        return 3  # [CLS] A [SEP] B [SEP]

    def _binary(self) -> bool:
        return self.binary_head

    def __len__(self) -> int:
        return self.samples_mapping.shape[0]

    def _sentences(self, idx: int) -> tuple[list[list[int]], int]:
        start, end, target = (int(v) for v in self.samples_mapping[idx])
        return [
            list(np.asarray(self.indexed_dataset[i]).tolist()) for i in range(start, end)
        ], target

    def build_sample(self, idx: int) -> dict[str, np.ndarray]:
        """The numpy arrays of sample ``idx`` (what ``__getitem__`` turns into tensors)."""
        sentences, target = self._sentences(idx)
        # numpy's generator, not Python's: randint's upper bound is exclusive as in Megatron.
        rng = np.random.RandomState(seed=(self.seed + idx) % 2**32)
        if self.binary_head:
            tokens_a, tokens_b, is_next_random = get_a_and_b_segments(sentences, rng)
        else:
            tokens_a = [t for sentence in sentences for t in sentence]
            tokens_b, is_next_random = [], False
        truncate_segments(tokens_a, tokens_b, target, rng)
        tokens, tokentypes = create_tokens_and_tokentypes(
            tokens_a, tokens_b, self.cls_id, self.sep_id
        )
        tokens, positions, labels, _, _ = create_masked_lm_predictions(
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
            masking_style=self.masking_style,
        )
        arrays = pad_and_convert_to_numpy(
            tokens, tokentypes, positions, labels, self.pad_id, self.max_seq_length
        )
        arrays["ns_labels"] = np.array(int(is_next_random), dtype=np.int64)
        return arrays

    def __getitem__(self, idx: int) -> Any:
        arrays = self.build_sample(idx)
        return make_instance(
            input_ids=(arrays["input_ids"], 0),
            attention_mask=(arrays["attention_mask"], 0),
            tokentype_ids=(arrays["tokentype_ids"], 0),
            ns_labels=(arrays["ns_labels"], -1),
            lm_labels=(arrays["lm_labels"], -1),
            loss_mask=(arrays["loss_mask"], -1),
        )


def get_a_and_b_segments(
    sentences: list[list[int]], rng: np.random.RandomState
) -> tuple[list[int], list[int], bool]:
    """Cut the sentences into segments A and B; swap them half of the time (sentence order)."""
    if len(sentences) < 2:
        raise ValueError("a sentence-pair sample needs at least two sentences (binary_head=True)")
    a_end = rng.randint(1, len(sentences)) if len(sentences) >= 3 else 1
    tokens_a = [t for s in sentences[:a_end] for t in s]
    tokens_b = [t for s in sentences[a_end:] for t in s]
    is_next_random = False
    if rng.random() < 0.5:
        is_next_random = True
        tokens_a, tokens_b = tokens_b, tokens_a
    return tokens_a, tokens_b, is_next_random


def truncate_segments(
    tokens_a: list[int], tokens_b: list[int], max_num_tokens: int, rng: np.random.RandomState
) -> bool:
    """Drop tokens from the front or back of the longer segment until both fit; True if cut."""
    if len(tokens_a) + len(tokens_b) <= max_num_tokens:
        return False
    while len(tokens_a) + len(tokens_b) > max_num_tokens:
        tokens = tokens_a if len(tokens_a) > len(tokens_b) else tokens_b
        if rng.random() < 0.5:
            del tokens[0]
        else:
            tokens.pop()
    return True


def create_tokens_and_tokentypes(
    tokens_a: list[int], tokens_b: list[int], cls_id: int, sep_id: int
) -> tuple[list[int], list[int]]:
    """``[CLS] A [SEP] (B [SEP])`` and the matching token types (0 for A, 1 for B)."""
    tokens = [cls_id, *tokens_a, sep_id]
    tokentypes = [0] * len(tokens)
    if tokens_b:
        tokens += [*tokens_b, sep_id]
        tokentypes += [1] * (len(tokens_b) + 1)
    return tokens, tokentypes


def pad_and_convert_to_numpy(
    tokens: list[int],
    tokentypes: list[int],
    masked_positions: list[int],
    masked_labels: list[int],
    pad_id: int,
    max_seq_length: int,
) -> dict[str, np.ndarray]:
    """Pad to ``max_seq_length``; labels are -1 and loss_mask False where nothing is predicted."""
    num_tokens = len(tokens)
    padding = max_seq_length - num_tokens
    if padding < 0:
        raise ValueError(
            f"sample of {num_tokens} tokens does not fit max_seq_length={max_seq_length}"
        )
    input_ids = np.full(max_seq_length, pad_id, dtype=np.int64)
    input_ids[:num_tokens] = tokens
    # Padding gets token type 0 (LiBai pads with pad_id, out of range for RoBERTa's pad 1).
    tokentype_ids = np.zeros(max_seq_length, dtype=np.int64)
    tokentype_ids[:num_tokens] = tokentypes
    attention_mask = np.zeros(max_seq_length, dtype=np.bool_)
    attention_mask[:num_tokens] = True
    lm_labels = np.full(max_seq_length, -1, dtype=np.int64)
    loss_mask = np.zeros(max_seq_length, dtype=np.bool_)
    if masked_positions:
        lm_labels[masked_positions] = masked_labels
        loss_mask[masked_positions] = True
    return {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "tokentype_ids": tokentype_ids,
        "lm_labels": lm_labels,
        "loss_mask": loss_mask,
    }
