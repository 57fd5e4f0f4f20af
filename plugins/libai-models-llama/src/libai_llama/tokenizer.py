"""``LlamaTokenizer``: the tokenizers of Llama 2 (sentencepiece), Llama 3 and Qwen2 (``tokenizer.json``).

One class reads what a Hugging Face checkpoint directory ships:

* ``tokenizer.json`` (Llama 3, Qwen2, and the fast tokenizer of most Llama 2 copies): the
  Rust ``tokenizers`` library does everything, including never splitting added tokens and
  the post-processor that adds ``<|begin_of_text|>``;
* ``tokenizer.model`` (Llama 2's sentencepiece BPE with byte fallback): read with the
  ``sentencepiece`` library and turned into the same ``tokenizers`` pipeline that
  transformers 5 builds from it (its ``LlamaTokenizer`` no longer runs sentencepiece
  itself), so a leading space or a ``"</s>"`` inside a text gives transformers' ids.

A directory holding both is read through ``tokenizer.json``, as transformers' default
(fast) class does. The special tokens come from the files, never from guesses:
``tokenizer_config.json`` first, then ``special_tokens_map.json``, then the ids of
``generation_config.json``, then (``tokenizer.model`` only) transformers' defaults
``<s>``/``</s>``/``<unk>``. Nothing is downloaded.

LiBai's API is kept: ``encode(text)`` adds no special tokens (as LiBai's ``encode``);
``encode(text, add_special_tokens=True)`` adds them as the files say (transformers'
default), and the ids are those of transformers' tokenizers (checked against fixtures
written by transformers itself).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Optional, Union

from libai.tokenizer import PreTrainedTokenizer

__all__ = ["LlamaTokenizer", "find_tokenizer_file"]

TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model")
_SIDE_FILES = ("tokenizer_config.json", "special_tokens_map.json", "generation_config.json")
_SPECIAL_KEYS = ("bos_token", "eos_token", "unk_token", "pad_token")
# transformers' LlamaTokenizer defaults, used for a tokenizer.model without side files.
_SENTENCEPIECE_DEFAULTS = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}


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
        raise ValueError(
            f"LlamaTokenizer: {path} must hold a JSON object, not {type(data).__name__}"
        )
    return data


def _token_text(value: Any) -> Optional[str]:
    """A special token as written in the files: a str, ``{"content": str}`` or null."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("content"), str):
        return value["content"]
    raise ValueError(f"LlamaTokenizer: cannot read a special token from {value!r}")


def _merges(vocab: dict[str, int]) -> list[tuple[str, str]]:
    """BPE merges implied by a sentencepiece vocabulary, in transformers' order.

    Every split of a piece into two pieces of the vocabulary is a merge; merges are ranked
    by the id of the merged piece, then by the ids and lengths of its halves (transformers'
    ``generate_merges``, which its Llama tokenizer uses for a ``tokenizer.model``).
    """
    merges = []
    for piece, rank in vocab.items():
        local = [
            (piece[:i], piece[i:], rank)
            for i in range(1, len(piece))
            if piece[:i] in vocab and piece[i:] in vocab
        ]
        merges += sorted(local, key=lambda m: (vocab[m[0]], vocab[m[1]]))
    merges.sort(key=lambda m: (m[2], len(m[0]), len(m[1])))
    return [(left, right) for left, right, _ in merges]


def _sentencepiece_to_tokenizers(path: Path, legacy: bool, add_prefix_space: bool) -> Any:
    """A ``tokenizers.Tokenizer`` equal to transformers' conversion of Llama 2's ``tokenizer.model``.

    Byte-fallback BPE over the model's pieces, no normaliser, a ``Metaspace`` pre-tokenizer
    that prepends ``▁`` to the first word only (``legacy: false``, Llama 2's setting and
    transformers 5's default) or to every text split (``legacy: true``), control pieces
    (``<s>``, ``</s>``) and ``<unk>`` as special tokens.

    Raises:
        ValueError: the file is not a sentencepiece model, or not a BPE one.
    """
    import sentencepiece as spm
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    sp = spm.SentencePieceProcessor()
    try:
        sp.Load(str(path))
    except (OSError, RuntimeError) as exc:
        raise ValueError(
            f"LlamaTokenizer: {path} is not a sentencepiece model ({exc}); Llama 2 ships its "
            "tokenizer as tokenizer.model, Llama 3 and Qwen2 as tokenizer.json"
        ) from exc
    size = sp.get_piece_size()
    vocab = {sp.id_to_piece(i): i for i in range(size)}
    normal = [i for i in range(size) if not (sp.is_control(i) or sp.is_unknown(i) or sp.is_byte(i))]
    # A BPE model scores its pieces by rank (0, -1, -2...); a unigram model by log-probability.
    if any(sp.get_score(i) != int(sp.get_score(i)) for i in normal):
        raise ValueError(
            f"LlamaTokenizer: {path} is a unigram sentencepiece model; Llama 2's tokenizer.model "
            "is a BPE model (for a T5 tokenizer use libai.tokenizer.T5Tokenizer)"
        )
    unk = sp.id_to_piece(sp.unk_id()) if sp.unk_id() >= 0 else None
    tok = Tokenizer(
        models.BPE(
            vocab=vocab, merges=_merges(vocab), unk_token=unk, fuse_unk=True, byte_fallback=True
        )
    )
    scheme = ("always" if legacy else "first") if add_prefix_space else "never"
    tok.pre_tokenizer = pre_tokenizers.Metaspace(
        replacement="\u2581", prepend_scheme=scheme, split=False
    )
    steps = [decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse()]
    if add_prefix_space:
        steps.append(decoders.Strip(content=" ", left=1))
    tok.decoder = decoders.Sequence(steps)
    specials = [i for i in range(size) if sp.is_control(i) or sp.is_unknown(i)]
    tok.add_special_tokens(
        [AddedToken(sp.id_to_piece(i), normalized=False, special=True) for i in specials]
    )
    return tok


def _load_tokenizer_json(path: Path) -> Any:
    from tokenizers import Tokenizer

    try:
        return Tokenizer.from_file(str(path))
    except Exception as exc:  # the Rust library raises a bare Exception
        raise ValueError(f"LlamaTokenizer: {path} is not a tokenizers JSON file: {exc}") from exc


class LlamaTokenizer(PreTrainedTokenizer):
    """The tokenizer of a Llama 2, Llama 3 or Qwen2 checkpoint, from local files.

    Args:
        pretrained_model_path: a Hugging Face checkpoint directory, or the path of its
            ``tokenizer.json`` or ``tokenizer.model``.
        add_bos_token, add_eos_token: whether ``encode(..., add_special_tokens=True)``
            adds BOS / EOS; ``None`` follows the files: ``tokenizer_config.json`` for a
            ``tokenizer.model`` (default BOS yes, EOS no, as Llama 2), the post-processor
            of a ``tokenizer.json``.
        bos_token, eos_token, unk_token, pad_token: override the files' special tokens.
        **kwargs: other special tokens (LiBai's ``eod_token``...), ignored otherwise.

    Raises:
        FileNotFoundError: no tokenizer file at ``pretrained_model_path``.
        ValueError: the file is not a BPE sentencepiece model / tokenizers JSON, or a
            side file (``tokenizer_config.json``...) is malformed.
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
        if self.is_sentencepiece:
            self._backend = _sentencepiece_to_tokenizers(
                self.tokenizer_file,
                legacy=bool(config.get("legacy", False)),
                add_prefix_space=bool(config.get("add_prefix_space", True)),
            )
        else:
            self._backend = _load_tokenizer_json(self.tokenizer_file)
        specials = self._special_tokens(folder, config)
        for key, value in kwargs.items():
            if key in _SPECIAL_KEYS:
                specials[key] = value
        rest = {k: v for k, v in kwargs.items() if k not in _SPECIAL_KEYS}
        super().__init__(**specials, **rest)
        # A tokenizer.model gets BOS/EOS from these flags (transformers builds its
        # post-processor from them); a tokenizer.json has its own post-processor.
        self.add_bos_token = self._flag(add_bos_token, config, "add_bos_token", True)
        self.add_eos_token = self._flag(add_eos_token, config, "add_eos_token", False)
        self._own_post_processor = not self.is_sentencepiece and (
            add_bos_token is None and add_eos_token is None
        )
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
                found[key] = self._backend.id_to_token(int(index))
            elif self.is_sentencepiece:
                found[key] = _SENTENCEPIECE_DEFAULTS.get(key)
            else:
                found[key] = None
        generation_eos = generation.get("eos_token_id")
        self._generation_eos_ids = (
            [int(i) for i in generation_eos]
            if isinstance(generation_eos, list)
            else ([int(generation_eos)] if generation_eos is not None else [])
        )
        return found

    def _flag(self, given: Optional[bool], config: dict, key: str, default: bool) -> bool:
        if given is not None:
            return bool(given)
        if config.get(key) is not None:
            return bool(config[key])
        return default

    @property
    def backend_tokenizer(self) -> Any:
        """The ``tokenizers.Tokenizer`` doing the work (converted, for a ``tokenizer.model``)."""
        return self._backend

    @property
    def stop_token_ids(self) -> list[int]:
        """Ids that end a generated answer: the EOS id and any ``generation_config.json`` list."""
        ids = [] if self.eos_token_id is None else [self.eos_token_id]
        return ids + [i for i in self._generation_eos_ids if i not in ids]

    # ------------------------------------------------------------------ base-class hooks
    @property
    def vocab_size(self) -> int:
        """Size of the files' vocabulary, their added tokens included (``len()`` of transformers)."""
        return self._base_size

    def get_base_vocab(self) -> dict[str, int]:
        return self._backend.get_vocab(with_added_tokens=True)

    def _token_in_base_vocab(self, token: str) -> bool:
        index = self._backend.token_to_id(token)
        return index is not None and index < self._base_size

    @property
    def _base_size(self) -> int:
        size = getattr(self, "_files_size", None)
        if size is None:
            size = self._files_size = self._backend.get_vocab_size(with_added_tokens=True)
        return size

    def _register_no_split(self, tokens: list[str], special: bool) -> dict[str, int]:
        from tokenizers import AddedToken

        added = [AddedToken(t, special=special, normalized=not special) for t in tokens]
        if special:
            self._backend.add_special_tokens(added)
        else:
            self._backend.add_tokens(added)
        return {
            t: self._backend.token_to_id(t)
            for t in tokens
            if not self._token_in_base_vocab(t) and t not in self.added_tokens_encoder
        }

    def _convert_token_to_id(self, token: str) -> int:
        index = self._backend.token_to_id(token)
        if index is None:
            unk = self._unk_token
            index = self._backend.token_to_id(unk) if unk is not None else None
            if index is None:
                raise KeyError(f"LlamaTokenizer: {token!r} is not in the vocabulary")
        return index

    def _convert_id_to_token(self, index: int) -> str:
        token = self._backend.id_to_token(index)
        if token is None:
            raise IndexError(
                f"LlamaTokenizer: id {index} is outside the vocabulary (size {len(self)})"
            )
        return token

    def convert_tokens_to_string(self, tokens: list[str]) -> str:
        return self.decode(self.convert_tokens_to_ids(tokens))

    # ------------------------------------------------------------------ encoding
    def _tokenize(self, text: str) -> list[str]:
        return self._backend.encode(text, add_special_tokens=False).tokens

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
        if not text and not add_special_tokens:
            return []
        if not add_special_tokens or self._own_post_processor:
            return self._backend.encode(text, add_special_tokens=add_special_tokens).ids
        ids = self._backend.encode(text, add_special_tokens=False).ids
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
        """Text of ``token_ids`` by the backend's decoder (byte fallback, ``▁`` to spaces)."""
        if hasattr(token_ids, "tolist"):
            token_ids = token_ids.tolist()
        if isinstance(token_ids, int):
            token_ids = [token_ids]
        ids = [int(i) for i in token_ids]
        if skip_special_tokens:
            special = set(self.all_special_ids)
            ids = [i for i in ids if i not in special]
        text = self._backend.decode(ids, skip_special_tokens=skip_special_tokens)
        return self.clean_up_tokenization(text) if clean_up_tokenization_spaces else text

    def __repr__(self) -> str:
        kind = "sentencepiece" if self.is_sentencepiece else "tokenizer.json"
        return (
            f"LlamaTokenizer({str(self.tokenizer_file)!r}, {kind}, vocab_size={self.vocab_size}, "
            f"bos={self.bos_token!r}, eos={self.eos_token!r})"
        )
