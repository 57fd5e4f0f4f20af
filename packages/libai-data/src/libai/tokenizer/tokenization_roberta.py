"""RoBERTa's tokenizer: GPT-2's byte-level BPE with BERT-like special tokens."""

from __future__ import annotations

from typing import Any

from .tokenization_gpt2 import GPT2Tokenizer


class RobertaTokenizer(GPT2Tokenizer):
    """Construct a RoBERTa tokenizer from local ``vocab.json`` and ``merges.txt``.

    Special tokens default to RoBERTa's: ``<s>`` (bos/cls), ``</s>`` (eos/sep),
    ``<unk>``, ``<pad>`` and ``<mask>``; like transformers, ``<mask>`` absorbs the
    space before it, so ``"a <mask>"`` masks the word ``" x"`` as pretraining did.

    Raises:
        FileNotFoundError: a file does not exist (nothing is downloaded).
    """

    def __init__(
        self,
        vocab_file: str,
        merges_file: str,
        errors: str = "replace",
        bos_token: str = "<s>",
        eos_token: str = "</s>",
        sep_token: str = "</s>",
        cls_token: str = "<s>",
        unk_token: str = "<unk>",
        pad_token: str = "<pad>",
        mask_token: str = "<mask>",
        add_prefix_space: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            vocab_file,
            merges_file,
            errors=errors,
            unk_token=unk_token,
            bos_token=bos_token,
            eos_token=eos_token,
            sep_token=sep_token,
            cls_token=cls_token,
            pad_token=pad_token,
            mask_token=mask_token,
            add_prefix_space=add_prefix_space,
            **kwargs,
        )

    def _added_token_options(self, token: str, special: bool) -> dict[str, Any]:
        options = super()._added_token_options(token, special)
        if token == self._mask_token:
            options["lstrip"] = True
        return options
