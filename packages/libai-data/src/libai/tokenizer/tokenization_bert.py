"""BERT's WordPiece tokenizer, with LiBai's Chinese whole-word-masking option.

Backed by ``tokenizers``: ``BertNormalizer`` (clean text, pad CJK characters,
lower-case and strip accents), ``BertPreTokenizer`` (whitespace and punctuation)
and the ``WordPiece`` model (greedy longest match, ``##`` continuation prefix),
which together give the same ids as transformers' Python ``BertTokenizer``.

With ``do_chinese_wwm=True`` every Chinese character that continues a word (found
by a word segmenter, ``jieba`` by default) is emitted as its ``##`` variant when
the vocabulary has one, as bert-base-chinese's does. The masking code then groups
``##`` pieces with the piece before them, so whole Chinese words are masked
together (``BertDataset(masking_style="bert-cn-wwm")`` maps them back to the plain
character ids).
"""

from __future__ import annotations

import collections
from collections.abc import Iterable
from typing import Any, Callable

from tokenizers import Tokenizer, normalizers, pre_tokenizers
from tokenizers.models import WordPiece

from ._backend import TokenizersBackedTokenizer
from ._files import require_file

VOCAB_FILES_NAMES = {"vocab_file": "vocab.txt"}


def load_vocab(vocab_file: str) -> dict[str, int]:
    """Read a one-token-per-line vocabulary into ``token -> line number``."""
    vocab: dict[str, int] = collections.OrderedDict()
    with open(vocab_file, encoding="utf-8") as reader:
        for index, line in enumerate(reader):
            vocab[line.rstrip("\n")] = index
    return vocab


def is_chinese_char(char: str) -> bool:
    """Whether ``char`` is in a CJK Unified Ideographs block (BERT's definition)."""
    cp = ord(char)
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2B73F
        or 0x2B740 <= cp <= 0x2B81F
        or 0x2B820 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
    )


def _default_segmenter() -> Callable[[str], Iterable[str]]:
    try:
        import jieba
    except ImportError as exc:
        raise ImportError(
            "BertTokenizer(do_chinese_wwm=True) met Chinese text and segments it into words "
            "with jieba, which is not installed. Install it (pip install jieba, or libai-data[wwm]), pass "
            "chinese_word_segmenter=<callable returning the words of a text>, or set "
            "do_chinese_wwm=False."
        ) from exc
    jieba.setLogLevel(60)  # jieba logs its dictionary loading at INFO on every process
    return jieba.lcut


class BertTokenizer(TokenizersBackedTokenizer):
    """Construct a BERT (WordPiece) tokenizer from a local ``vocab.txt``.

    Args:
        vocab_file: path of a one-token-per-line vocabulary.
        do_lower_case: lower-case (and strip accents from) the input.
        do_basic_tokenize: split on whitespace and punctuation before WordPiece.
        never_split: tokens that are never split (added to the no-split list).
        tokenize_chinese_chars: put spaces around CJK characters.
        do_chinese_wwm: mark word-internal Chinese characters with ``##`` (see module doc).
        chinese_word_segmenter: ``text -> words`` used by ``do_chinese_wwm``; ``jieba.lcut``
            when ``None``.
        strip_accents: ``None`` follows ``do_lower_case`` (transformers' rule).
        unk_token, sep_token, pad_token, cls_token, mask_token: special tokens.
        **kwargs: other special tokens (``bos_token``, ``eos_token``,
            ``additional_special_tokens``...); unknown keys are ignored as in LiBai.

    Raises:
        FileNotFoundError: ``vocab_file`` does not exist (nothing is downloaded).
    """

    vocab_files_names = VOCAB_FILES_NAMES

    def __init__(
        self,
        vocab_file: str,
        do_lower_case: bool = True,
        do_basic_tokenize: bool = True,
        never_split: list[str] | None = None,
        unk_token: str = "[UNK]",
        sep_token: str = "[SEP]",
        pad_token: str = "[PAD]",
        cls_token: str = "[CLS]",
        mask_token: str = "[MASK]",
        tokenize_chinese_chars: bool = True,
        do_chinese_wwm: bool = False,
        chinese_word_segmenter: Callable[[str], Iterable[str]] | None = None,
        strip_accents: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            unk_token=unk_token,
            sep_token=sep_token,
            pad_token=pad_token,
            cls_token=cls_token,
            mask_token=mask_token,
            **kwargs,
        )
        self.vocab_file = require_file(
            vocab_file,
            owner="BertTokenizer",
            arg="vocab_file",
            content="a WordPiece vocabulary, one token per line, e.g. bert-base-uncased's vocab.txt",
        )
        self.vocab = load_vocab(self.vocab_file)
        if unk_token not in self.vocab:
            raise ValueError(
                f"BertTokenizer: unk_token {unk_token!r} is not a line of {self.vocab_file}; "
                "WordPiece needs it for words it cannot split."
            )
        self.ids_to_tokens = {index: token for token, index in self.vocab.items()}
        self.do_lower_case = do_lower_case
        self.do_basic_tokenize = do_basic_tokenize
        self.tokenize_chinese_chars = tokenize_chinese_chars
        self.do_chinese_wwm = do_chinese_wwm
        self._segmenter = chinese_word_segmenter

        backend = Tokenizer(
            WordPiece(vocab=dict(self.vocab), unk_token=unk_token, max_input_chars_per_word=100)
        )
        if do_basic_tokenize:
            backend.normalizer = normalizers.Sequence(
                [
                    # transformers' BasicTokenizer composes characters (NFC) before splitting.
                    normalizers.NFC(),
                    normalizers.BertNormalizer(
                        clean_text=True,
                        handle_chinese_chars=tokenize_chinese_chars,
                        strip_accents=strip_accents,
                        lowercase=do_lower_case,
                    ),
                ]
            )
            backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        else:
            backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
        self._init_backend(backend)
        self._finish_init()
        if never_split:
            self.add_tokens([t for t in never_split if t in self.vocab], special_tokens=True)

    def get_base_vocab(self) -> dict[str, int]:
        return dict(self.vocab)

    def _convert_id_to_token(self, index: int) -> str:
        return self.ids_to_tokens.get(index, self.unk_token)

    def convert_tokens_to_string(self, tokens: list[str]) -> str:
        return " ".join(tokens).replace(" ##", "").strip()

    # -- whole word masking ---------------------------------------------------------
    def _tokenize(self, text: str) -> list[str]:
        encoding = self._backend.encode(text, add_special_tokens=False)
        tokens = [self._backend.id_to_token(i) for i in encoding.ids]
        if not self.do_chinese_wwm:
            return tokens
        return self._mark_word_pieces(text, tokens, encoding.offsets)

    def _encode_one(self, text: str) -> list[int]:
        if self.do_chinese_wwm:
            return self.convert_tokens_to_ids(self.tokenize(text))
        return super()._encode_one(text)

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        if self.do_chinese_wwm:
            return [self._encode_one(t) for t in texts]
        return super().encode_batch(texts)

    def _mark_word_pieces(
        self, text: str, tokens: list[str], offsets: list[tuple[int, int]]
    ) -> list[str]:
        if not any(is_chinese_char(c) for c in text):
            return tokens
        if self._segmenter is None:
            self._segmenter = _default_segmenter()
        inside: set[int] = set()  # character positions that continue a word
        position = 0
        for word in self._segmenter(text):
            start = text.find(word, position)
            if start < 0:  # a segmenter that normalises text: fall back to its length
                start = position
            inside.update(range(start + 1, start + len(word)))
            position = start + len(word)
        marked = list(tokens)
        for i, (token, (begin, end)) in enumerate(zip(tokens, offsets)):
            if end - begin == 1 and begin in inside and is_chinese_char(text[begin]):
                candidate = "##" + token
                if candidate in self.vocab:
                    marked[i] = candidate
        return marked
