"""``LlamaTokenizer``: the tokenizers of Llama 2 (sentencepiece), Llama 3 and Qwen2 (``tokenizer.json``).

One class reads what a Hugging Face checkpoint directory ships:

* ``tokenizer.json`` (Llama 3, Qwen2, and the fast tokenizer of most Llama 2 copies): the
  Rust ``tokenizers`` library does everything, including never splitting added tokens and
  the post-processor that adds ``<|begin_of_text|>``;
* ``tokenizer.model`` (Llama 2's sentencepiece BPE with byte fallback): the
  ``sentencepiece`` library segments, and the special tokens are split out of the text
  first so that ``"</s>"`` in a text is the end-of-sequence id, as transformers does.

A directory holding both is read through ``tokenizer.json``, as transformers' default
(fast) class does. The special tokens come from the files, never from guesses:
``tokenizer_config.json`` first, then ``special_tokens_map.json``, then the ids of
``generation_config.json``, then (sentencepiece only) the model's own ``<s>``/``</s>``/
``<unk>`` pieces. Nothing is downloaded.

LiBai's API is kept: ``encode(text)`` adds no special tokens (as LiBai's ``encode``);
``encode(text, add_special_tokens=True)`` adds them as the files say (transformers'
default), and the ids are those of transformers' tokenizers (checked against fixtures
written by transformers itself).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Optional, Union

from libai.tokenizer import PreTrainedTokenizer

__all__ = ["LlamaTokenizer", "find_tokenizer_file"]

TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model")
_SIDE_FILES = ("tokenizer_config.json", "special_tokens_map.json", "generation_config.json")
_SPECIAL_KEYS = ("bos_token", "eos_token", "unk_token", "pad_token")


def find_tokenizer_file(path: Union[str, os.PathLike]) -> Path:
    """The tokenizer file that ``path`` names: itself, or ``tokenizer.json`` / ``tokenizer.model`` in it.

    Raises:
        FileNotFoundError: ``path`` does not exist, or is a directory with neither file
            (the message lists what the directory holds).
    """
    path = Path(os.fspath(path)).expanduser()
    if path.is_file():
        return path
    if path.is_dir():
        for name in TOKENIZER_FILES:
            if (path / name).is_file():
                return path / name
        found = sorted(p.name for p in path.iterdir())[:20]
        raise FileNotFoundError(
            f"LlamaTokenizer: the directory {str(path)!r} holds neither tokenizer.json (Llama 3, "
            f"Qwen2) nor tokenizer.model (Llama 2's sentencepiece model); it holds {found}"
        )
    raise FileNotFoundError(
        f"LlamaTokenizer: pretrained_model_path {str(path)!r} does not exist; pass a Hugging Face "
        "checkpoint directory or its tokenizer.json / tokenizer.model (nothing is downloaded)"
    )


def _read_json(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except json.JSONDecodeError as exc:
        raise ValueError(f"LlamaTokenizer: {path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"LlamaTokenizer: {path} must hold a JSON object, not {type(data).__name__}")
    return data


def _token_text(value: Any) -> Optional[str]:
    """A special token as written in the files: a str, ``{"content": str}`` or null."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("content"), str):
        return value["content"]
    raise ValueError(f"LlamaTokenizer: cannot read a special token from {value!r}")


class _SentencePieceBackend:
    """Llama 2's ``tokenizer.model``."""

    def __init__(self, path: Path) -> None:
        import sentencepiece as spm

        self.model = spm.SentencePieceProcessor()
        try:
            self.model.Load(str(path))
        except (OSError, RuntimeError) as exc:
            raise ValueError(
                f"LlamaTokenizer: {path} is not a sentencepiece model ({exc}); Llama 2 ships its "
                "tokenizer as tokenizer.model, Llama 3 and Qwen2 as tokenizer.json"
            ) from exc
        self.size = self.model.get_piece_size()

    def default_special(self, key: str) -> Optional[str]:
        index = {"bos_token": self.model.bos_id(), "eos_token": self.model.eos_id(),
                 "unk_token": self.model.unk_id(), "pad_token": self.model.pad_id()}[key]  # fmt: skip
        return self.model.id_to_piece(index) if index >= 0 else None

    def vocab(self) -> dict[str, int]:
        return {self.model.id_to_piece(i): i for i in range(self.size)}

    def token_to_id(self, token: str) -> Optional[int]:
        index = self.model.piece_to_id(token)
        return index if self.model.id_to_piece(index) == token else None

    def id_to_token(self, index: int) -> Optional[str]:
        return self.model.id_to_piece(index) if 0 <= index < self.size else None

    def encode(self, text: str) -> list[int]:
        return self.model.encode(text)

    def pieces(self, text: str) -> list[str]:
        return self.model.encode(text, out_type=str)

    def decode(self, ids: list[int]) -> str:
        return self.model.decode(ids)


class _JsonBackend:
    """A ``tokenizer.json`` read by the ``tokenizers`` library."""

    def __init__(self, path: Path) -> None:
        from tokenizers import Tokenizer

        try:
            self.model = Tokenizer.from_file(str(path))
        except Exception as exc:  # the Rust library raises a bare Exception
            raise ValueError(f"LlamaTokenizer: {path} is not a tokenizers JSON file: {exc}") from exc
        self.size = self.model.get_vocab_size(with_added_tokens=False)

    def default_special(self, key: str) -> Optional[str]:
        return None

    def vocab(self) -> dict[str, int]:
        return self.model.get_vocab(with_added_tokens=False)

    def token_to_id(self, token: str) -> Optional[int]:
        return self.model.token_to_id(token)

    def id_to_token(self, index: int) -> Optional[str]:
        return self.model.id_to_token(index)


class LlamaTokenizer(PreTrainedTokenizer):
    """The tokenizer of a Llama 2, Llama 3 or Qwen2 checkpoint, from local files.

    Args:
        pretrained_model_path: a Hugging Face checkpoint directory, or the path of its
            ``tokenizer.json`` or ``tokenizer.model``.
        add_bos_token, add_eos_token: whether ``encode(..., add_special_tokens=True)``
            adds BOS / EOS; ``None`` follows ``tokenizer_config.json`` (sentencepiece:
            BOS yes, EOS no, as Llama 2) or the ``tokenizer.json`` post-processor.
        bos_token, eos_token, unk_token, pad_token: override the files' special tokens.
        **kwargs: other special tokens (LiBai's ``eod_token``...), ignored otherwise.

    Raises:
        FileNotFoundError: no tokenizer file at ``pretrained_model_path``.
        ValueError: the file is not a sentencepiece model / tokenizers JSON, or a side
            file (``tokenizer_config.json``...) is malformed.
    """

    def __init__(
        self,
        pretrained_model_path: Union[str, os.PathLike, None] = None,
        add_bos_token: Optional[bool] = None,
        add_eos_token: Optional[bool] = None,
        **kwargs: Any,
    ) -> None:
        if pretrained_model_path is None:
            raise FileNotFoundError(
                "LlamaTokenizer: pretrained_model_path is not set; pass a Hugging Face checkpoint "
                "directory or its tokenizer.json / tokenizer.model"
            )
        self.tokenizer_file = find_tokenizer_file(pretrained_model_path)
        self.pretrained_model_path = str(pretrained_model_path)
        folder = self.tokenizer_file.parent
        config = _read_json(folder / "tokenizer_config.json")
        self.is_sentencepiece = self.tokenizer_file.suffix != ".json"
        self._model: Union[_SentencePieceBackend, _JsonBackend] = (
            _SentencePieceBackend(self.tokenizer_file)
            if self.is_sentencepiece
            else _JsonBackend(self.tokenizer_file)
        )
        specials = self._special_tokens(folder, config)
        for key, value in kwargs.items():
            if key in _SPECIAL_KEYS:
                specials[key] = value
        rest = {k: v for k, v in kwargs.items() if k not in _SPECIAL_KEYS}
        super().__init__(**specials, **rest)
        # Sentencepiece Llama 2 adds BOS and not EOS unless its config says otherwise;
        # a tokenizer.json adds what its post-processor adds.
        self.add_bos_token = self._flag(add_bos_token, config, "add_bos_token", True)
        self.add_eos_token = self._flag(add_eos_token, config, "add_eos_token", False)
        self._explicit_flags = add_bos_token is not None or add_eos_token is not None
        self._split_re: Optional[re.Pattern[str]] = None
        self._finish_init()

    # ------------------------------------------------------------------ the files
    def _special_tokens(self, folder: Path, config: dict) -> dict[str, Optional[str]]:
        """Special tokens as the files say: tokenizer_config > special_tokens_map > generation_config."""
        tokens_map = _read_json(folder / "special_tokens_map.json")
        generation = _read_json(folder / "generation_config.json")
        found: dict[str, Optional[str]] = {}
        for key in _SPECIAL_KEYS:
            if key in config:
                found[key] = _token_text(config[key])
            elif key in tokens_map:
                found[key] = _token_text(tokens_map[key])
            elif generation.get(f"{key}_id") is not None:
                index = generation[f"{key}_id"]
                index = index[0] if isinstance(index, list) else index
                found[key] = self._model.id_to_token(int(index))
            else:
                found[key] = self._model.default_special(key)
        generation_eos = generation.get("eos_token_id")
        self._generation_eos_ids = (
            [int(i) for i in generation_eos]
            if isinstance(generation_eos, list)
            else ([int(generation_eos)] if generation_eos is not None else [])
        )
        return found

    def _flag(self, given: Optional[bool], config: dict, key: str, sp_default: bool) -> bool:
        if given is not None:
            return bool(given)
        if key in config and config[key] is not None:
            return bool(config[key])
        return sp_default if self.is_sentencepiece else False

    @property
    def stop_token_ids(self) -> list[int]:
        """Ids that end a generated answer: the EOS id and any ``generation_config.json`` lists."""
        ids = [] if self.eos_token_id is None else [self.eos_token_id]
        return ids + [i for i in self._generation_eos_ids if i not in ids]

    # ------------------------------------------------------------------ base-class hooks
    @property
    def vocab_size(self) -> int:
        return self._model.size

    def get_base_vocab(self) -> dict[str, int]:
        return self._model.vocab()

    def _token_in_base_vocab(self, token: str) -> bool:
        index = self._model.token_to_id(token)
        return index is not None and index < self._model.size

    def _register_no_split(self, tokens: list[str], special: bool) -> dict[str, int]:
        self._split_re = None
        if self.is_sentencepiece:
            return super()._register_no_split(tokens, special)
        # tokenizers: the backend keeps its added tokens whole and gives their ids.
        from tokenizers import AddedToken

        added = [AddedToken(t, special=special, normalized=not special) for t in tokens]
        if special:
            self._model.model.add_special_tokens(added)
        else:
            self._model.model.add_tokens(added)
        return {
            t: self._model.token_to_id(t)
            for t in tokens
            if not self._token_in_base_vocab(t) and t not in self.added_tokens_encoder
        }

    def _convert_token_to_id(self, token: str) -> int:
        index = self._model.token_to_id(token)
        if index is None:
            unk = self._unk_token
            index = self._model.token_to_id(unk) if unk is not None else None
            if index is None:
                raise KeyError(f"LlamaTokenizer: {token!r} is not in the vocabulary")
        return index

    def _convert_id_to_token(self, index: int) -> str:
        token = self._model.id_to_token(index)
        if token is None:
            raise IndexError(f"LlamaTokenizer: id {index} is outside the vocabulary (size {len(self)})")
        return token

    def convert_tokens_to_string(self, tokens: list[str]) -> str:
        return self.decode(self.convert_tokens_to_ids(tokens))

    # ------------------------------------------------------------------ encoding
    def _chunks(self, text: str) -> list[tuple[bool, str]]:
        """Sentencepiece: ``(is_special, text)`` pieces, special/added tokens cut out whole."""
        if self._split_re is None:
            alternatives = sorted(set(self.unique_no_split_tokens), key=len, reverse=True)
            pattern = "|".join(re.escape(t) for t in alternatives) or r"(?!x)x"
            self._split_re = re.compile(f"({pattern})")
        parts = self._split_re.split(text)
        return [(i % 2 == 1, part) for i, part in enumerate(parts) if part]

    def _encode_plain(self, text: str) -> list[int]:
        if not text:
            return []
        if not self.is_sentencepiece:
            return self._model.model.encode(text, add_special_tokens=False).ids
        ids: list[int] = []
        for is_token, chunk in self._chunks(text):
            ids += [self._token_to_id(chunk)] if is_token else self._model.encode(chunk)
        return ids

    def _tokenize(self, text: str) -> list[str]:
        return [self._convert_id_to_token_any(i) for i in self._encode_plain(text)]

    def _convert_id_to_token_any(self, index: int) -> str:
        return self.added_tokens_decoder.get(index) or self._convert_id_to_token(index)

    def encode(
        self, text: Union[str, list[str], list[int]], add_special_tokens: bool = False
    ) -> Union[list[int], list[list[int]]]:
        """Token ids of ``text``; with ``add_special_tokens`` the BOS/EOS the files ask for.

        A list of str gives one id list per text; a list of int is returned unchanged.
        """
        if isinstance(text, (list, tuple)) and text and all(isinstance(t, str) for t in text):
            return [self.encode(t, add_special_tokens) for t in text]
        if not isinstance(text, str):
            return super().encode(text)
        if not add_special_tokens:
            return self._encode_plain(text)
        if not self.is_sentencepiece and not self._explicit_flags:
            return self._model.model.encode(text, add_special_tokens=True).ids
        ids = self._encode_plain(text)
        if self.add_bos_token and self.bos_token_id is not None:
            ids = [self.bos_token_id] + ids
        if self.add_eos_token and self.eos_token_id is not None:
            ids = ids + [self.eos_token_id]
        return ids

    def decode(
        self,
        token_ids: Any,
        skip_special_tokens: bool = False,
        clean_up_tokenization_spaces: bool = False,
        **kwargs: Any,
    ) -> str:
        """Text of ``token_ids`` (the backend's own decoder: byte fallback, ``▁`` to spaces)."""
        if hasattr(token_ids, "tolist"):
            token_ids = token_ids.tolist()
        if isinstance(token_ids, int):
            token_ids = [token_ids]
        ids = [int(i) for i in token_ids]
        if skip_special_tokens:
            special = set(self.all_special_ids)
            ids = [i for i in ids if i not in special]
        if not self.is_sentencepiece:
            text = self._model.model.decode(ids, skip_special_tokens=skip_special_tokens)
        else:
            text = self._decode_sentencepiece(ids)
        return self.clean_up_tokenization(text) if clean_up_tokenization_spaces else text

    def _decode_sentencepiece(self, ids: list[int]) -> str:
        # Runs of ordinary ids go through sentencepiece; special and added tokens are
        # pasted verbatim (sentencepiece would decode <s> and </s> to nothing).
        verbatim = dict(zip(self.all_special_ids, self.all_special_tokens))
        verbatim.update(self.added_tokens_decoder)
        pieces: list[str] = []
        run: list[int] = []
        for index in ids:
            token = verbatim.get(index)
            if token is None and index >= self._model.size:
                raise IndexError(
                    f"LlamaTokenizer: id {index} is outside the vocabulary (size {len(self)})"
                )
            if token is None:
                run.append(index)
                continue
            if run:
                pieces.append(self._model.decode(run))
                run = []
            pieces.append(token)
        if run:
            pieces.append(self._model.decode(run))
        return "".join(pieces)

    def __repr__(self) -> str:
        kind = "sentencepiece" if self.is_sentencepiece else "tokenizer.json"
        return (
            f"LlamaTokenizer({str(self.tokenizer_file)!r}, {kind}, vocab_size={self.vocab_size}, "
            f"bos={self.bos_token!r}, eos={self.eos_token!r})"
        )
