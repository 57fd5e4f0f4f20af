"""RoBERTa pretraining samples: masked language modelling on full sentences, no pairs."""

from __future__ import annotations

from typing import Any

import numpy as np
from libai.data.data_utils.dataset_utils import create_masked_lm_predictions

from ._common import make_instance
from .bert_dataset import BertDataset, create_tokens_and_tokentypes, pad_and_convert_to_numpy


class RobertaDataset(BertDataset):
    """``<s> tokens </s>`` samples of about ``max_seq_length - 2`` tokens, masked as BERT.

    Same arguments as :class:`BertDataset` without ``binary_head``. Samples are
    ``Instance``\\ s with ``input_ids``, ``attention_mask``, ``tokentype_ids``,
    ``lm_labels`` and ``loss_mask``.
    """

    def __init__(
        self,
        name: str = "roberta",
        tokenizer: Any = None,
        indexed_dataset: Any = None,
        data_prefix: str | None = None,
        max_num_samples: int | None = None,
        mask_lm_prob: float = 0.15,
        max_seq_length: int = 512,
        short_seq_prob: float = 0.0,
        seed: int = 1234,
        masking_style: str = "bert",
    ) -> None:
        super().__init__(
            name=name,
            tokenizer=tokenizer,
            indexed_dataset=indexed_dataset,
            data_prefix=data_prefix,
            max_num_samples=max_num_samples,
            mask_lm_prob=mask_lm_prob,
            max_seq_length=max_seq_length,
            short_seq_prob=short_seq_prob,
            seed=seed,
            binary_head=False,
            masking_style=masking_style,
        )

    def _num_special_tokens(self) -> int:
        return 2  # <s> tokens </s>

    def build_sample(self, idx: int) -> dict[str, np.ndarray]:
        sentences, target = self._sentences(idx)
        rng = np.random.RandomState(seed=(self.seed + idx) % 2**32)
        tokens = [t for sentence in sentences for t in sentence]
        while len(tokens) > target:  # cut from either end at random, as LiBai
            if rng.random() < 0.5:
                del tokens[0]
            else:
                tokens.pop()
        tokens, tokentypes = create_tokens_and_tokentypes(tokens, [], self.cls_id, self.sep_id)
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
        return pad_and_convert_to_numpy(
            tokens, tokentypes, positions, labels, self.pad_id, self.max_seq_length
        )

    def __getitem__(self, idx: int) -> Any:
        arrays = self.build_sample(idx)
        return make_instance(
            input_ids=(arrays["input_ids"], 0),
            attention_mask=(arrays["attention_mask"], 0),
            tokentype_ids=(arrays["tokentype_ids"], 0),
            lm_labels=(arrays["lm_labels"], -1),
            loss_mask=(arrays["loss_mask"], -1),
        )
