"""GPT-2's byte-level BPE tokenizer, backed by ``tokenizers``.

``ByteLevel`` pre-tokenisation applies GPT-2's regular expression and maps every
byte to a printable character, the ``BPE`` model applies the merges in rank order
and the ``ByteLevel`` decoder maps bytes back, exactly as OpenAI's encoder and
transformers' ``GPT2Tokenizer`` do.
"""

from __future__ import annotations

import json
from typing import Any

from tokenizers import Tokenizer, decoders, pre_tokenizers
from tokenizers.models import BPE

from ._backend import TokenizersBackedTokenizer
from ._files import require_file

VOCAB_FILES_NAMES = {"vocab_file": "vocab.json", "merges_file": "merges.txt"}


def _load_bpe(
    owner: str, vocab_file: str, merges_file: str
) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Read ``vocab.json`` and ``merges.txt``; errors name the file and the line."""
    vocab_file = require_file(
        vocab_file,
        owner=owner,
        arg="vocab_file",
        content="a BPE vocabulary as JSON, e.g. gpt2's vocab.json",
    )
    merges_file = require_file(
        merges_file,
        owner=owner,
        arg="merges_file",
        content="BPE merges, one 'a b' pair per line, e.g. gpt2's merges.txt",
    )
    try:
        with open(vocab_file, encoding="utf-8") as f:
            vocab = json.load(f)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{owner}: vocab_file {vocab_file} is not valid JSON: {exc}") from exc
    if not isinstance(vocab, dict):
        raise ValueError(f"{owner}: vocab_file {vocab_file} must hold a JSON object token -> id")
    merges = []
    with open(merges_file, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            line = line.rstrip("\n")
            if not line or (lineno == 1 and line.startswith("#version")):
                continue
            parts = line.split(" ")
            if len(parts) != 2:
                raise ValueError(
                    f"{owner}: {merges_file}:{lineno}: expected two symbols separated by one "
                    f"space, got {line!r}"
                )
            merges.append((parts[0], parts[1]))
    return vocab, merges


class GPT2Tokenizer(TokenizersBackedTokenizer):
    """Construct a GPT-2 byte-level BPE tokenizer from local ``vocab.json`` and ``merges.txt``.

    Args:
        vocab_file: path of the JSON vocabulary.
        merges_file: path of the merges (an optional ``#version`` first line is skipped).
        errors: how undecodable bytes are handled by ``decode`` (``bytes.decode``'s ``errors``).
        unk_token, bos_token, eos_token: special tokens (all ``<|endoftext|>`` for GPT-2).
        add_prefix_space: treat the text as if it started with a space.
        **kwargs: other special tokens; unknown keys (LiBai's configs pass
            ``do_lower_case``) are ignored.

    Raises:
        FileNotFoundError: a file does not exist (nothing is downloaded).
        ValueError: a file is malformed (the message names file and line).
    """

    vocab_files_names = VOCAB_FILES_NAMES

    def __init__(
        self,
        vocab_file: str,
        merges_file: str,
        errors: str = "replace",
        unk_token: str = "<|endoftext|>",
        bos_token: str = "<|endoftext|>",
        eos_token: str = "<|endoftext|>",
        add_prefix_space: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(bos_token=bos_token, eos_token=eos_token, unk_token=unk_token, **kwargs)
        owner = type(self).__name__
        self.encoder, merges = _load_bpe(owner, vocab_file, merges_file)
        self.vocab_file, self.merges_file = vocab_file, merges_file
        self.decoder = {v: k for k, v in self.encoder.items()}
        self.errors = errors
        self.add_prefix_space = add_prefix_space
        backend = Tokenizer(BPE(vocab=dict(self.encoder), merges=merges, fuse_unk=False))
        backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=add_prefix_space)
        backend.decoder = decoders.ByteLevel()
        self._init_backend(backend)
        self._finish_init()

    def get_base_vocab(self) -> dict[str, int]:
        return dict(self.encoder)

    def convert_tokens_to_string(self, tokens: list[str]) -> str:
        byte_decoder = _byte_decoder()
        data = bytearray()
        for token in tokens:
            for char in token:
                if char not in byte_decoder:
                    raise ValueError(f"{type(self).__name__}: {token!r} is not a byte-level token")
                data.append(byte_decoder[char])
        return data.decode("utf-8", errors=self.errors)


_BYTE_DECODER: dict[str, int] = {}


def _byte_decoder() -> dict[str, int]:
    """GPT-2's printable-character -> byte table (the inverse of its byte encoder)."""
    if not _BYTE_DECODER:
        printable = (
            list(range(ord("!"), ord("~") + 1))
            + list(range(ord("¡"), ord("¬") + 1))
            + list(range(ord("®"), ord("ÿ") + 1))
        )
        chars = printable[:]
        extra = 0
        for b in range(256):
            if b not in printable:
                printable.append(b)
                chars.append(256 + extra)
                extra += 1
        _BYTE_DECODER.update({chr(c): b for b, c in zip(printable, chars)})
    return _BYTE_DECODER
