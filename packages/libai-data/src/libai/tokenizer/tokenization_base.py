"""The tokenizer base class: special tokens, added tokens, ids and LiBai's vocabulary padding.

It keeps the public API of LiBai's ``libai.tokenizer.PreTrainedTokenizer`` (which
itself follows transformers' slow tokenizers): ``tokenize``, ``encode`` (no special
tokens added, as in LiBai), ``decode``, ``convert_tokens_to_ids``,
``convert_ids_to_tokens``, the ``*_token`` / ``*_token_id`` properties (plus LiBai's
``eod_token``), ``add_tokens``, ``add_special_tokens``, ``vocab_size``, ``len()`` and
``padded_vocab_size``. The actual splitting is done by a compiled backend in each
subclass (``tokenizers`` for WordPiece/BPE, ``sentencepiece`` for T5).
"""

from __future__ import annotations

import logging
from typing import Any, Union

logger = logging.getLogger(__name__)

SPECIAL_TOKENS_ATTRIBUTES = (
    "bos_token",
    "eos_token",
    "unk_token",
    "sep_token",
    "pad_token",
    "cls_token",
    "mask_token",
    "eod_token",
    "additional_special_tokens",
)


def _special_token_property(name: str) -> property:
    """A read/write property for one special token (``bos_token`` ...) and its id twin."""

    def getter(self: PreTrainedTokenizer) -> str | None:
        value = getattr(self, "_" + name)
        return None if value is None else str(value)

    def setter(self: PreTrainedTokenizer, value: str | None) -> None:
        if value is not None and not isinstance(value, str):
            raise TypeError(f"{type(self).__name__}.{name} must be a str, got {type(value)}")
        setattr(self, "_" + name, value)
        if value is not None and getattr(self, "_ready", False):
            self.add_tokens([value], special_tokens=True)

    return property(getter, setter, doc=f"The {name.replace('_', ' ')} (``None`` when unset).")


def _special_id_property(name: str) -> property:
    def getter(self: PreTrainedTokenizer) -> int | None:
        token = getattr(self, "_" + name)
        return None if token is None else self.convert_tokens_to_ids(token)

    return property(getter, doc=f"Id of the {name.replace('_', ' ')} (``None`` when unset).")


class PreTrainedTokenizer:
    """Base class of LiBai's tokenizers.

    Subclasses implement ``vocab_size``, ``get_base_vocab``, ``_tokenize``,
    ``_convert_token_to_id``, ``_convert_id_to_token``, ``convert_tokens_to_string``
    and ``_register_no_split`` (tell the backend never to split some tokens).

    Unknown keyword arguments are accepted and ignored, as LiBai does, because
    LiBai's own configs pass e.g. ``do_lower_case`` to ``GPT2Tokenizer``.
    """

    SPECIAL_TOKENS_ATTRIBUTES = list(SPECIAL_TOKENS_ATTRIBUTES)

    bos_token = _special_token_property("bos_token")
    eos_token = _special_token_property("eos_token")
    unk_token = _special_token_property("unk_token")
    sep_token = _special_token_property("sep_token")
    pad_token = _special_token_property("pad_token")
    cls_token = _special_token_property("cls_token")
    mask_token = _special_token_property("mask_token")
    eod_token = _special_token_property("eod_token")

    bos_token_id = _special_id_property("bos_token")
    eos_token_id = _special_id_property("eos_token")
    unk_token_id = _special_id_property("unk_token")
    sep_token_id = _special_id_property("sep_token")
    pad_token_id = _special_id_property("pad_token")
    cls_token_id = _special_id_property("cls_token")
    mask_token_id = _special_id_property("mask_token")
    eod_token_id = _special_id_property("eod_token")

    def __init__(self, verbose: bool = True, **kwargs: Any) -> None:
        self._ready = False
        self.verbose = verbose
        for attr in SPECIAL_TOKENS_ATTRIBUTES:
            setattr(self, "_" + attr, None)
        self._additional_special_tokens: list[str] = []
        self.added_tokens_encoder: dict[str, int] = {}
        self.added_tokens_decoder: dict[int, str] = {}
        self.unique_no_split_tokens: list[str] = []
        self.init_kwargs = dict(kwargs)
        ignored = []
        for key, value in kwargs.items():
            if key == "additional_special_tokens":
                if value is not None:
                    if isinstance(value, str) or not all(isinstance(t, str) for t in value):
                        raise TypeError(
                            f"{type(self).__name__}: additional_special_tokens must be a list "
                            f"of str, got {value!r}"
                        )
                    self._additional_special_tokens = list(value)
            elif key in SPECIAL_TOKENS_ATTRIBUTES:
                if value is not None:
                    setattr(self, key, value)
            else:
                ignored.append(key)
        if ignored:
            logger.info("%s ignores the arguments %s", type(self).__name__, sorted(ignored))

    def _finish_init(self) -> None:
        """Register every special token with the backend (subclasses call this last)."""
        self._ready = True
        self.add_tokens(self.all_special_tokens, special_tokens=True)

    # ------------------------------------------------------------------ subclass hooks
    @property
    def vocab_size(self) -> int:
        """Size of the base vocabulary, without added tokens."""
        raise NotImplementedError

    def get_base_vocab(self) -> dict[str, int]:
        """The base vocabulary (token -> id), without added tokens."""
        raise NotImplementedError

    def _tokenize(self, text: str) -> list[str]:
        raise NotImplementedError

    def _convert_token_to_id(self, token: str) -> int:
        raise NotImplementedError

    def _convert_id_to_token(self, index: int) -> str:
        raise NotImplementedError

    def _register_no_split(self, tokens: list[str], special: bool) -> dict[str, int]:
        """Tell the backend not to split ``tokens``; return ids of tokens new to the vocab.

        The default assigns consecutive ids after the current vocabulary (LiBai's rule).
        """
        assigned = {}
        for token in tokens:
            if token in self.added_tokens_encoder or token in assigned:
                continue
            if self._token_in_base_vocab(token):
                continue
            assigned[token] = len(self) + len(assigned)
        return assigned

    def _token_in_base_vocab(self, token: str) -> bool:
        return token in self.get_base_vocab()

    def convert_tokens_to_string(self, tokens: list[str]) -> str:
        """Join tokens into text, undoing the sub-word markers."""
        return " ".join(tokens)

    # ------------------------------------------------------------------ vocabulary
    def __len__(self) -> int:
        """Size of the full vocabulary, added tokens included."""
        return self.vocab_size + len(self.added_tokens_encoder)

    def get_vocab(self) -> dict[str, int]:
        """The full vocabulary (token -> id), added tokens included."""
        vocab = dict(self.get_base_vocab())
        vocab.update(self.added_tokens_encoder)
        return vocab

    def get_added_vocab(self) -> dict[str, int]:
        return dict(self.added_tokens_encoder)

    def padded_vocab_size(
        self, make_vocab_size_divisible_by: int, tensor_parallel_size: int = 1
    ) -> int:
        """Vocabulary size rounded up to a multiple of ``divisible_by * tensor_parallel_size``.

        LiBai pads the embedding table with dummy rows so that it splits evenly across
        tensor-parallel ranks and has a GPU-friendly size; the trainer writes the result
        into the model config's ``vocab_size``.

        Raises:
            ValueError: a factor is not a positive integer.
        """
        for name, value in (
            ("make_vocab_size_divisible_by", make_vocab_size_divisible_by),
            ("tensor_parallel_size", tensor_parallel_size),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"padded_vocab_size: {name} must be a positive int, got {value!r}")
        multiple = make_vocab_size_divisible_by * tensor_parallel_size
        size = len(self)
        padded = -(-size // multiple) * multiple
        logger.debug(
            "padded vocab (size: %d) with %d dummy tokens (new size: %d)",
            size,
            padded - size,
            padded,
        )
        return padded

    def add_tokens(self, new_tokens: Union[str, list[str]], special_tokens: bool = False) -> int:
        """Add tokens that are never split; return how many were new to the vocabulary."""
        if not new_tokens:
            return 0
        if isinstance(new_tokens, str):
            new_tokens = [new_tokens]
        tokens = []
        for token in new_tokens:
            if not isinstance(token, str):
                raise TypeError(f"Token {token!r} is not a str but a {type(token).__name__}.")
            if not special_tokens and getattr(self, "do_lower_case", False):
                token = token.lower()
            tokens.append(token)
        assigned = self._register_no_split(tokens, special_tokens)
        for token, index in assigned.items():
            self.added_tokens_encoder[token] = index
            self.added_tokens_decoder[index] = token
        self.unique_no_split_tokens = sorted(set(self.unique_no_split_tokens) | set(tokens))
        return len(assigned)

    def add_special_tokens(self, special_tokens_dict: dict[str, Any]) -> int:
        """Set special tokens (``{"pad_token": "[PAD]"}``) and add them to the vocabulary."""
        added = 0
        for key, value in special_tokens_dict.items():
            if key not in SPECIAL_TOKENS_ATTRIBUTES:
                raise KeyError(
                    f"{key!r} is not a special token attribute; choose from "
                    f"{', '.join(SPECIAL_TOKENS_ATTRIBUTES)}"
                )
            if key == "additional_special_tokens":
                self._additional_special_tokens = list(value)
                added += self.add_tokens(list(value), special_tokens=True)
            else:
                setattr(self, "_" + key, value)
                added += self.add_tokens([value], special_tokens=True)
        return added

    # ------------------------------------------------------------------ special tokens
    @property
    def additional_special_tokens(self) -> list[str]:
        return [str(t) for t in self._additional_special_tokens]

    @additional_special_tokens.setter
    def additional_special_tokens(self, value: list[str]) -> None:
        self._additional_special_tokens = list(value)
        if self._ready:
            self.add_tokens(list(value), special_tokens=True)

    @property
    def additional_special_tokens_ids(self) -> list[int]:
        return self.convert_tokens_to_ids(self.additional_special_tokens)

    @property
    def special_tokens_map(self) -> dict[str, Union[str, list[str]]]:
        """Special token attributes that are set, mapped to their values."""
        result: dict[str, Union[str, list[str]]] = {}
        for attr in SPECIAL_TOKENS_ATTRIBUTES:
            value = getattr(self, "_" + attr)
            if value:
                result[attr] = list(value) if attr == "additional_special_tokens" else value
        return result

    @property
    def all_special_tokens(self) -> list[str]:
        """Every special token, once each, in attribute order."""
        seen: list[str] = []
        for value in self.special_tokens_map.values():
            for token in value if isinstance(value, list) else [value]:
                if token not in seen:
                    seen.append(token)
        return seen

    @property
    def all_special_ids(self) -> list[int]:
        return self.convert_tokens_to_ids(self.all_special_tokens)

    @property
    def start_token(self) -> str | None:
        """Common name for ``bos_token`` / ``cls_token`` (LiBai)."""
        return self.bos_token if self._bos_token is not None else self.cls_token

    @property
    def end_token(self) -> str | None:
        """Common name for ``eos_token`` / ``sep_token`` (LiBai)."""
        return self.eos_token if self._eos_token is not None else self.sep_token

    @property
    def start_token_id(self) -> int | None:
        token = self.start_token
        return None if token is None else self.convert_tokens_to_ids(token)

    @property
    def end_token_id(self) -> int | None:
        token = self.end_token
        return None if token is None else self.convert_tokens_to_ids(token)

    # ------------------------------------------------------------------ conversions
    def tokenize(self, text: str, **kwargs: Any) -> list[str]:
        """Split ``text`` into tokens; added and special tokens are kept whole."""
        if not isinstance(text, str):
            raise TypeError(f"tokenize() expects a str, got {type(text).__name__}")
        if not text:
            return []
        return self._tokenize(text)

    def convert_tokens_to_ids(
        self, tokens: Union[None, str, list[str]]
    ) -> Union[None, int, list[int]]:
        """Map a token (or a list of tokens) to its id; unknown tokens map to ``unk_token_id``."""
        if tokens is None:
            return None
        if isinstance(tokens, str):
            return self._token_to_id(tokens)
        return [self._token_to_id(t) for t in tokens]

    def _token_to_id(self, token: str) -> int:
        index = self.added_tokens_encoder.get(token)
        if index is not None:
            return index
        return self._convert_token_to_id(token)

    def convert_ids_to_tokens(
        self, ids: Union[int, list[int]], skip_special_tokens: bool = False
    ) -> Union[str, list[str]]:
        """Map an id (or a list of ids) back to tokens."""
        if isinstance(ids, int) or hasattr(ids, "__index__") and not hasattr(ids, "__len__"):
            index = int(ids)
            return self.added_tokens_decoder.get(index) or self._convert_id_to_token(index)
        special = set(self.all_special_ids) if skip_special_tokens else set()
        tokens = []
        for index in ids:
            index = int(index)
            if index in special:
                continue
            token = self.added_tokens_decoder.get(index)
            tokens.append(token if token is not None else self._convert_id_to_token(index))
        return tokens

    def encode(self, text: Union[str, list[str], list[int]]) -> Union[list[int], list[list[int]]]:
        """Token ids of ``text`` without special tokens (LiBai's ``encode``).

        A list of str gives a list of id lists; a list of ints is returned unchanged.

        Raises:
            ValueError: ``text`` is neither a str, a list of str nor a list of int.
        """
        if isinstance(text, str):
            return self.convert_tokens_to_ids(self.tokenize(text))
        if isinstance(text, (list, tuple)) and text and all(isinstance(t, str) for t in text):
            return [self.convert_tokens_to_ids(self.tokenize(t)) for t in text]
        if isinstance(text, (list, tuple)) and text and all(isinstance(t, int) for t in text):
            return list(text)
        raise ValueError(
            f"encode() takes a str, a list of str or a list of int, got {type(text).__name__}"
            + (" (empty)" if isinstance(text, (list, tuple)) else "")
        )

    def decode(
        self,
        token_ids: list[int],
        skip_special_tokens: bool = False,
        clean_up_tokenization_spaces: bool = True,
        spaces_between_special_tokens: bool = True,
    ) -> str:
        """Text of ``token_ids``; added tokens are kept verbatim between decoded runs."""
        if hasattr(token_ids, "tolist"):
            token_ids = token_ids.tolist()
        if isinstance(token_ids, int):
            token_ids = [token_ids]
        tokens = self.convert_ids_to_tokens(token_ids, skip_special_tokens=skip_special_tokens)
        kept_whole = set(self.added_tokens_encoder) | set(self.all_special_tokens)
        pieces: list[str] = []
        run: list[str] = []
        for token in tokens:
            if token in kept_whole:
                if run:
                    pieces.append(self.convert_tokens_to_string(run))
                    run = []
                pieces.append(token)
            else:
                run.append(token)
        if run:
            pieces.append(self.convert_tokens_to_string(run))
        text = (" " if spaces_between_special_tokens else "").join(pieces)
        return self.clean_up_tokenization(text) if clean_up_tokenization_spaces else text

    @staticmethod
    def clean_up_tokenization(out_string: str) -> str:
        """Remove the spaces that word-level tokenization leaves before punctuation."""
        return (
            out_string.replace(" .", ".")
            .replace(" ?", "?")
            .replace(" !", "!")
            .replace(" ,", ",")
            .replace(" ' ", "'")
            .replace(" n't", "n't")
            .replace(" 'm", "'m")
            .replace(" 's", "'s")
            .replace(" 've", "'ve")
            .replace(" 're", "'re")
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(vocab_size={self.vocab_size}, added={len(self.added_tokens_encoder)})"
