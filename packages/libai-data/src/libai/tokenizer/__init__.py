"""LiBai's tokenizers, backed by the ``tokenizers`` and ``sentencepiece`` libraries.

Every tokenizer is built from local files (nothing is downloaded) and offers
LiBai's API: ``tokenize``, ``encode``, ``decode``, ``convert_tokens_to_ids``,
``convert_ids_to_tokens``, the special tokens and their ids, ``vocab_size``,
``len()`` and ``padded_vocab_size(make_vocab_size_divisible_by, tensor_parallel_size)``.
"""

from .build import build_tokenizer
from .tokenization_base import PreTrainedTokenizer
from .tokenization_bert import BertTokenizer
from .tokenization_gpt2 import GPT2Tokenizer
from .tokenization_roberta import RobertaTokenizer
from .tokenization_t5 import T5Tokenizer

__all__ = [
    "BertTokenizer",
    "GPT2Tokenizer",
    "PreTrainedTokenizer",
    "RobertaTokenizer",
    "T5Tokenizer",
    "build_tokenizer",
]
