"""Shared pieces of the NLP datasets: cached sample maps, masking, document splits.

The masking follows BERT/ALBERT's ``create_masked_lm_predictions`` as used by LiBai:
candidate positions are whole words (a ``##`` piece joins the word before it),
n-grams of up to ``max_ngrams`` words are chosen in a random order until
``round(len * masked_lm_prob)`` positions are covered, and each chosen position is
replaced by ``[MASK]`` 80% of the time, kept 10% and replaced by a random id 10%
(``masking_style="bert"``), or always by the mask id (``"t5"``, whose spans become
sentinels).
"""

from __future__ import annotations

import collections
import logging
import os
import re
import tempfile
from typing import Any, Callable

import numpy as np

from .helpers import build_mapping

logger = logging.getLogger(__name__)

MaskedLmInstance = collections.namedtuple("MaskedLmInstance", ["index", "label"])

_CHINESE_PIECE = re.compile("^##[\u4e00-\u9fa5]")
MASKING_STYLES = ("bert", "bert-cn-wwm", "t5")


def is_start_piece(piece: str) -> bool:
    """Whether a WordPiece token starts a word (continuations start with ``##``)."""
    return not piece.startswith("##")


def cached_array(path: str, build: Callable[[], np.ndarray]) -> np.ndarray:
    """Load ``path`` (.npy, memory-mapped) or build, save and load it.

    The file is written to a temporary name and renamed, so concurrent processes (ranks,
    DataLoader workers) never read a half-written file; they may both build it, and the
    results are identical because the builders are deterministic.
    """
    if not os.path.isfile(path):
        array = build()
        directory = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(prefix=".tmp_", suffix=".npy", dir=directory)
        try:
            with os.fdopen(fd, "wb") as f:
                np.save(f, array, allow_pickle=False)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise
        logger.info("built and saved %s (%d rows)", path, array.shape[0])
    return np.load(path, allow_pickle=False, mmap_mode="r")


def document_range_tag(doc_idx: np.ndarray) -> str:
    """A file-name tag for the sentences a (possibly split) dataset covers.

    LiBai names cached maps by dataset name and sample count only, so the train, valid
    and test parts of one corpus (same name) could share a file; the range keeps them apart.
    """
    return f"{int(doc_idx[0])}-{int(doc_idx[-1])}sent"


def get_samples_mapping(
    indexed_dataset: Any,
    data_prefix: str,
    num_epochs: int | None,
    max_num_samples: int | None,
    max_seq_length: int,
    short_seq_prob: float,
    seed: int,
    name: str,
    binary_head: bool,
) -> np.ndarray:
    """Sentence groups ``(start, end, target_length)`` for BERT-style samples, cached on disk.

    Without ``num_epochs`` and ``max_num_samples`` one epoch is built. The cache is
    ``{data_prefix}_{name}_indexmap[_{N}ep][_{N}mns]_{L}msl_{p}ssp_{seed}s_{range}.npy``.
    """
    if not num_epochs:
        num_epochs = 1 if not max_num_samples else np.iinfo(np.int32).max - 1
    if not max_num_samples:
        max_num_samples = np.iinfo(np.int64).max - 1
    doc_idx = np.asarray(indexed_dataset.doc_idx, dtype=np.int64)
    filename = f"{data_prefix}_{name}_indexmap"
    if num_epochs != np.iinfo(np.int32).max - 1:
        filename += f"_{num_epochs}ep"
    if max_num_samples != np.iinfo(np.int64).max - 1:
        filename += f"_{max_num_samples}mns"
    filename += (
        f"_{max_seq_length}msl_{short_seq_prob:0.2f}ssp_{seed}s_{document_range_tag(doc_idx)}.npy"
    )

    def build() -> np.ndarray:
        return build_mapping(
            doc_idx,
            np.asarray(indexed_dataset.sizes),
            num_epochs,
            max_num_samples,
            max_seq_length,
            short_seq_prob,
            seed,
            2 if binary_head else 1,
        )

    mapping = cached_array(filename, build)
    if mapping.shape[0] == 0:
        need = (
            "two sentences (binary_head=True: preprocess with --split-sentences)"
            if binary_head
            else "one sentence"
        )
        raise ValueError(
            f"dataset {name!r} at {data_prefix}: no document can make a sample; each needs at least "
            f"{need} and no sentence longer than 512 tokens in multi-sentence documents"
        )
    return mapping


def create_masked_lm_predictions(
    tokenizer: Any,
    tokens: list[int],
    vocab_id_list: list[int],
    vocab_id_to_token_dict: dict[int, str],
    masked_lm_prob: float,
    cls_id: int,
    sep_id: int,
    mask_id: int,
    max_predictions_per_seq: float,
    np_rng: np.random.RandomState,
    max_ngrams: int = 3,
    do_whole_word_mask: bool = True,
    favor_longer_ngram: bool = False,
    geometric_dist: bool = False,
    masking_style: str = "bert",
) -> tuple[list[int], list[int], list[int], list[int], list[MaskedLmInstance]]:
    """Mask ``tokens`` (ids) for the masked-LM objective.

    Returns:
        ``(output_tokens, masked_positions, masked_labels, token_boundary, masked_spans)``;
        positions are sorted, spans (``index`` list, ``label`` list) sorted by first index.

    Raises:
        ValueError: unknown ``masking_style``.
    """
    if masking_style not in MASKING_STYLES:
        raise ValueError(
            f"masking_style={masking_style!r}; choose from {', '.join(MASKING_STYLES)}"
        )

    def piece(token_id: int) -> str:
        return vocab_id_to_token_dict.get(int(token_id), "")

    cand_indexes: list[list[int]] = []
    token_boundary = [0] * len(tokens)
    for i, token in enumerate(tokens):
        if token == cls_id or token == sep_id:
            token_boundary[i] = 1
            continue
        if do_whole_word_mask and cand_indexes and not is_start_piece(piece(token)):
            cand_indexes[-1].append(i)
        else:
            cand_indexes.append([i])
            if is_start_piece(piece(token)):
                token_boundary[i] = 1

    # For Chinese whole-word masking the ## marks only group characters; the model sees
    # (and predicts) the plain character ids.
    plain = list(tokens)
    if masking_style == "bert-cn-wwm":
        plain = [_strip_chinese_marker(tokenizer, t, piece(t)) for t in tokens]
    output_tokens = list(plain)

    masked_lms: list[MaskedLmInstance] = []
    masked_spans: list[MaskedLmInstance] = []
    if masked_lm_prob == 0:
        return output_tokens, [], [], token_boundary, masked_spans

    num_to_predict = min(max_predictions_per_seq, max(1, int(round(len(tokens) * masked_lm_prob))))
    ngrams = np.arange(1, max_ngrams + 1, dtype=np.int64)
    pvals = 1.0 / np.arange(1, max_ngrams + 1)
    pvals /= pvals.sum(keepdims=True)
    if favor_longer_ngram:
        pvals = pvals[::-1]

    ngram_indexes = [
        [cand_indexes[idx : idx + n] for n in ngrams] for idx in range(len(cand_indexes))
    ]
    np_rng.shuffle(ngram_indexes)

    covered: set[int] = set()
    for cand_index_set in ngram_indexes:
        if len(masked_lms) >= num_to_predict:
            break
        if not cand_index_set:
            continue
        if geometric_dist:
            # SpanBERT's span lengths: geometric(p=0.2), clipped to max_ngrams.
            n = min(np_rng.geometric(0.2), max_ngrams)
        else:
            available = len(cand_index_set)
            n = np_rng.choice(
                ngrams[:available], p=pvals[:available] / pvals[:available].sum(keepdims=True)
            )
        index_set = sum(cand_index_set[n - 1], [])
        n -= 1
        # Shorter n-grams until the candidate fits in the remaining budget.
        while len(masked_lms) + len(index_set) > num_to_predict and n > 0:
            index_set = sum(cand_index_set[n - 1], [])
            n -= 1
        if len(masked_lms) + len(index_set) > num_to_predict:
            continue
        if any(index in covered for index in index_set):
            continue
        for index in index_set:
            covered.add(index)
            if masking_style == "t5":
                masked = mask_id
            elif np_rng.random() < 0.8:
                masked = mask_id
            elif np_rng.random() < 0.5:
                masked = plain[index]
            else:
                masked = vocab_id_list[np_rng.randint(0, len(vocab_id_list))]
            output_tokens[index] = masked
            masked_lms.append(MaskedLmInstance(index=index, label=plain[index]))
        masked_spans.append(MaskedLmInstance(index=index_set, label=[plain[i] for i in index_set]))

    masked_lms.sort(key=lambda x: x.index)
    masked_spans.sort(key=lambda x: x.index[0])
    return (
        output_tokens,
        [p.index for p in masked_lms],
        [p.label for p in masked_lms],
        token_boundary,
        masked_spans,
    )


def _strip_chinese_marker(tokenizer: Any, token_id: int, piece: str) -> int:
    if _CHINESE_PIECE.match(piece):
        return int(tokenizer.convert_tokens_to_ids(piece[2:]))
    return int(token_id)


def get_train_valid_test_split_(size: int, splits: list[float] | None = None) -> list[int]:
    """Boundaries ``[0, a, b, size]`` that split ``size`` documents by the ``splits`` weights.

    Raises:
        ValueError: the weights are negative or sum to zero.
    """
    splits = list(splits) if splits is not None else [0.8, 0.2, 0.0]
    splits = (splits + [0.0, 0.0, 0.0])[:3]
    if any(s < 0 for s in splits) or sum(splits) <= 0:
        raise ValueError(f"splits must be non-negative weights with a positive sum, got {splits}")
    total = float(sum(splits))
    index = [0]
    for split in splits:
        index.append(index[-1] + int(round(split / total * float(size))))
    diff = index[-1] - size
    index = [index[0]] + [i - diff for i in index[1:]]
    return index
