"""T5's sentencepiece tokenizer with its ``<extra_id_N>`` sentinel tokens.

The sentencepiece library does the unigram segmentation; this class splits the
text around added/special tokens first (they are never cut), and gives the
sentinels the ids T5 uses: ``<extra_id_0>`` is the last id of the vocabulary,
``<extra_id_1>`` the one before, and so on.
"""

from __future__ import annotations

import re
from typing import Any, Union

import sentencepiece as spm

from ._files import require_file
from .tokenization_base import PreTrainedTokenizer

VOCAB_FILES_NAMES = {"vocab_file": "spiece.model"}


class T5Tokenizer(PreTrainedTokenizer):
    """Construct a T5 tokenizer from a local sentencepiece model file.

    Args:
        vocab_file: path of the sentencepiece ``.model`` file.
        eos_token, unk_token, pad_token: special tokens (pieces of the model).
        extra_ids: number of ``<extra_id_N>`` sentinel tokens appended to the vocabulary.
        additional_special_tokens: more special tokens; the sentinels are always included.
        **kwargs: other special tokens; unknown keys are ignored as in LiBai.

    Raises:
        FileNotFoundError: ``vocab_file`` does not exist (nothing is downloaded).
        ValueError: ``vocab_file`` is not a sentencepiece model.
    """

    vocab_files_names = VOCAB_FILES_NAMES

    def __init__(
        self,
        vocab_file: str,
        eos_token: str = "</s>",
        unk_token: str = "<unk>",
        pad_token: str = "<pad>",
        extra_ids: int = 100,
        additional_special_tokens: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        if isinstance(extra_ids, bool) or not isinstance(extra_ids, int) or extra_ids < 0:
            raise ValueError(f"T5Tokenizer: extra_ids must be an int >= 0, got {extra_ids!r}")
        self.extra_ids = extra_ids
        sentinels = [f"<extra_id_{i}>" for i in range(extra_ids)]
        specials = sentinels + [t for t in (additional_special_tokens or []) if t not in sentinels]
        super().__init__(
            eos_token=eos_token,
            unk_token=unk_token,
            pad_token=pad_token,
            additional_special_tokens=specials,
            **kwargs,
        )
        self.vocab_file = require_file(
            vocab_file,
            owner="T5Tokenizer",
            arg="vocab_file",
            content="a sentencepiece model, e.g. t5-small's spiece.model",
        )
        self.sp_model = spm.SentencePieceProcessor()
        try:
            self.sp_model.Load(self.vocab_file)
        except (OSError, RuntimeError) as exc:
            raise ValueError(
                f"T5Tokenizer: {self.vocab_file} is not a sentencepiece model: {exc}"
            ) from exc
        self._sp_size = self.sp_model.get_piece_size()
        self._sentinel_ids = {
            token: self._sp_size + extra_ids - 1 - i for i, token in enumerate(sentinels)
        }
        self._sentinel_tokens = {v: k for k, v in self._sentinel_ids.items()}
        self._split_re: re.Pattern[str] | None = None
        self._finish_init()

    @property
    def vocab_size(self) -> int:
        return self._sp_size + self.extra_ids

    def get_base_vocab(self) -> dict[str, int]:
        vocab = {self.sp_model.id_to_piece(i): i for i in range(self._sp_size)}
        vocab.update(self._sentinel_ids)
        return vocab

    def _token_in_base_vocab(self, token: str) -> bool:
        if token in self._sentinel_ids:
            return True
        index = self.sp_model.piece_to_id(token)
        return self.sp_model.id_to_piece(index) == token

    def _register_no_split(self, tokens: list[str], special: bool) -> dict[str, int]:
        assigned = super()._register_no_split(tokens, special)
        self._split_re = None  # rebuilt lazily with the new tokens
        return assigned

    def _splitter(self) -> re.Pattern[str]:
        if self._split_re is None:
            # Longest first so that "<extra_id_10>" wins over a shorter token it contains.
            alternatives = sorted(set(self.unique_no_split_tokens), key=len, reverse=True)
            pattern = "|".join(re.escape(t) for t in alternatives) or r"(?!x)x"
            self._split_re = re.compile(f"({pattern})")
        return self._split_re

    def _chunks(self, text: str) -> list[tuple[bool, str]]:
        """``(is_no_split_token, text)`` pieces of ``text``; whitespace near tokens is dropped."""
        parts = self._splitter().split(text)
        chunks = []
        for i, part in enumerate(parts):
            if i % 2 == 1:
                chunks.append((True, part))
            elif part.strip():
                chunks.append((False, part.strip()))
        return chunks

    def _tokenize(self, text: str) -> list[str]:
        tokens: list[str] = []
        for is_token, chunk in self._chunks(text):
            if is_token:
                tokens.append(chunk)
            else:
                tokens.extend(self.sp_model.encode(chunk, out_type=str))
        return tokens

    def encode(self, text: Union[str, list[str], list[int]]) -> Union[list[int], list[list[int]]]:
        if isinstance(text, str):
            ids: list[int] = []
            for is_token, chunk in self._chunks(text):
                if is_token:
                    ids.append(self._token_to_id(chunk))
                else:
                    ids.extend(self.sp_model.encode(chunk))
            return ids
        if isinstance(text, (list, tuple)) and text and all(isinstance(t, str) for t in text):
            return [self.encode(t) for t in text]
        return super().encode(text)

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        """Ids of many texts (one call per text; sentencepiece is already compiled)."""
        return [self.encode(t) for t in texts]

    def _convert_token_to_id(self, token: str) -> int:
        index = self._sentinel_ids.get(token)
        if index is not None:
            return index
        return self.sp_model.piece_to_id(token)

    def _convert_id_to_token(self, index: int) -> str:
        if index < self._sp_size:
            return self.sp_model.id_to_piece(index)
        token = self._sentinel_tokens.get(index)
        if token is None:
            raise IndexError(
                f"T5Tokenizer: id {index} is outside the vocabulary (size {len(self)})"
            )
        return token

    def convert_tokens_to_string(self, tokens: list[str]) -> str:
        return self.sp_model.decode_pieces(tokens)
