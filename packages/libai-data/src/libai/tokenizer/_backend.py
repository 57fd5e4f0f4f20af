"""A :class:`PreTrainedTokenizer` whose splitting is done by a ``tokenizers.Tokenizer``.

The Rust ``tokenizers`` library does normalisation, pre-tokenisation, the WordPiece
or BPE model and the never-split handling of added tokens; this class only maps
LiBai's API onto it.
"""

from __future__ import annotations

from typing import Any, Union

from tokenizers import AddedToken, Tokenizer

from .tokenization_base import PreTrainedTokenizer


class TokenizersBackedTokenizer(PreTrainedTokenizer):
    """Base for the WordPiece and byte-level BPE tokenizers."""

    _backend: Tokenizer

    def _init_backend(self, backend: Tokenizer) -> None:
        self._backend = backend
        self._base_vocab = backend.get_vocab(with_added_tokens=False)
        self._base_size = backend.get_vocab_size(with_added_tokens=False)

    @property
    def backend_tokenizer(self) -> Tokenizer:
        """The underlying ``tokenizers.Tokenizer``."""
        return self._backend

    @property
    def vocab_size(self) -> int:
        return self._base_size

    def get_base_vocab(self) -> dict[str, int]:
        return dict(self._base_vocab)

    def _token_in_base_vocab(self, token: str) -> bool:
        return token in self._base_vocab

    def _added_token_options(self, token: str, special: bool) -> dict[str, Any]:
        """Options of ``tokenizers.AddedToken`` for ``token`` (subclasses adjust lstrip...)."""
        return {"special": special, "normalized": not special}

    def _register_no_split(self, tokens: list[str], special: bool) -> dict[str, int]:
        added = [AddedToken(t, **self._added_token_options(t, special)) for t in tokens]
        if special:
            self._backend.add_special_tokens(added)
        else:
            self._backend.add_tokens(added)
        assigned = {}
        for token in tokens:
            if token in self._base_vocab or token in self.added_tokens_encoder:
                continue
            index = self._backend.token_to_id(token)
            if index is not None:
                assigned[token] = index
        return assigned

    def _tokenize(self, text: str) -> list[str]:
        # Tokens via their ids: for an lstrip token the encoding's own token string
        # includes the stripped space (" <mask>"), which is not a vocabulary entry.
        ids = self._backend.encode(text, add_special_tokens=False).ids
        return [self._backend.id_to_token(i) for i in ids]

    def _convert_token_to_id(self, token: str) -> int:
        index = self._backend.token_to_id(token)
        if index is None:
            unk = self._unk_token
            index = self._backend.token_to_id(unk) if unk is not None else None
            if index is None:
                raise KeyError(
                    f"{type(self).__name__}: token {token!r} is not in the vocabulary and no "
                    "unk_token is set"
                )
        return index

    def _convert_id_to_token(self, index: int) -> str:
        token = self._backend.id_to_token(index)
        if token is None:
            if self._unk_token is None:
                raise IndexError(
                    f"{type(self).__name__}: id {index} is outside the vocabulary (size {len(self)})"
                )
            return self._unk_token
        return token

    def encode(self, text: Union[str, list[str], list[int]]) -> Union[list[int], list[list[int]]]:
        if isinstance(text, str):
            return self._encode_one(text)
        if isinstance(text, (list, tuple)) and text and all(isinstance(t, str) for t in text):
            return self.encode_batch(list(text))
        return super().encode(text)

    def _encode_one(self, text: str) -> list[int]:
        if not text:
            return []
        return self._backend.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        """Ids of many texts at once (the backend uses several threads)."""
        return [e.ids for e in self._backend.encode_batch(texts, add_special_tokens=False)]
