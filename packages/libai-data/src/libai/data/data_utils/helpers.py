"""Sample-index builders in vectorised numpy (LiBai and Megatron compile these in C++).

* :func:`build_sample_idx` (GPT): where each fixed-length window of the token stream
  starts, as ``(position in doc_idx, offset in that document)``; one ``cumsum`` and one
  ``searchsorted`` instead of a loop over samples.
* :func:`build_mapping` (BERT/RoBERTa/T5): groups consecutive sentences of a document
  into samples of about ``max_seq_length`` tokens (sometimes shorter, with probability
  ``short_seq_prob``). The rule is Megatron's ``build_mapping``; here all documents
  advance together, one sample per round, so the loop runs over rounds (samples per
  document) instead of over sentences.
* :func:`build_blending_indices`: which dataset and which of its samples each blended
  sample comes from, with exact integer shares of the weights.

The random draws differ from the C++ versions (numpy's generator, drawn per round),
so index files are not interchangeable with LiBai's, but they are deterministic for
a seed and follow the same rules.
"""

from __future__ import annotations

import numpy as np

# Megatron skips multi-sentence documents that contain a sentence longer than this.
LONG_SENTENCE_LEN = 512


def build_sample_idx(
    sizes: np.ndarray, doc_idx: np.ndarray, seq_length: int, num_epochs: int, tokens_per_epoch: int
) -> np.ndarray:
    """Start of every GPT sample in the stream of documents ``doc_idx`` (shape ``[n+1, 2]``).

    Sample ``i`` spans stream positions ``i*seq_length .. (i+1)*seq_length`` inclusive
    (``seq_length + 1`` tokens: inputs and shifted labels); row ``i`` holds the document
    position and offset of its first token and row ``i+1`` of its last one.
    """
    num_samples = (num_epochs * tokens_per_epoch - 1) // seq_length
    lengths = sizes[doc_idx].astype(np.int64)
    ends = np.cumsum(lengths)  # ends[k] = stream position just after document k
    positions = np.arange(num_samples + 1, dtype=np.int64) * seq_length
    # The document holding stream position p is the first whose end is beyond p
    # (empty documents have end == start and are skipped naturally).
    doc_pos = np.searchsorted(ends, positions, side="right")
    offsets = positions - (ends[doc_pos] - lengths[doc_pos])
    sample_idx = np.empty((num_samples + 1, 2), dtype=np.int32)
    sample_idx[:, 0] = doc_pos
    sample_idx[:, 1] = offsets
    return sample_idx


def _target_lengths(
    rng: np.random.RandomState, count: int, max_seq_length: int, short_seq_ratio: int
) -> np.ndarray:
    """Megatron's target sample lengths: usually ``max_seq_length``, 1 in ``ratio`` shorter."""
    if short_seq_ratio == 0:
        return np.full(count, max_seq_length, dtype=np.int64)
    draws = rng.randint(0, 2**32, size=count, dtype=np.uint64).astype(np.int64)
    short = draws % short_seq_ratio == 0
    return np.where(short, 2 + draws % (max_seq_length - 1), max_seq_length)


def build_mapping(
    docs: np.ndarray,
    sizes: np.ndarray,
    num_epochs: int,
    max_num_samples: int,
    max_seq_length: int,
    short_seq_prob: float,
    seed: int,
    min_num_sent: int,
) -> np.ndarray:
    """Group sentences into samples: rows ``(first sentence, end sentence, target length)``.

    Args:
        docs: document index (first sentence of every document, then the sentence count).
        sizes: tokens per sentence.
        num_epochs: passes over the documents at most.
        max_num_samples: stop after the epoch in which this many samples were reached.
        max_seq_length: target tokens per sample (special tokens excluded).
        short_seq_prob: probability of a shorter random target length.
        seed: seed of the target lengths and the final shuffle.
        min_num_sent: 2 for sentence-pair samples (BERT's binary head), else 1.

    Returns:
        ``int64`` array ``[num_samples, 3]``, shuffled.
    """
    docs = np.asarray(docs, dtype=np.int64)
    sizes = np.asarray(sizes, dtype=np.int64)
    first, last = docs[:-1], docs[1:]
    num_sent = last - first
    cum = np.zeros(sizes.shape[0] + 1, dtype=np.int64)
    np.cumsum(sizes, out=cum[1:])
    long_cum = np.zeros(sizes.shape[0] + 1, dtype=np.int64)
    np.cumsum(sizes > LONG_SENTENCE_LEN, out=long_cum[1:])
    has_long = (long_cum[last] - long_cum[first]) > 0
    usable = (num_sent >= max(min_num_sent, 1)) & ~(has_long & (num_sent > 1))
    doc_first, doc_last = first[usable], last[usable]

    short_seq_ratio = int(round(1.0 / short_seq_prob)) if short_seq_prob > 0 else 0
    rng = np.random.RandomState(seed % 2**32)
    chunks: list[np.ndarray] = []
    total = 0
    for _ in range(num_epochs):
        if total >= max_num_samples or doc_first.shape[0] == 0:
            break
        start = doc_first.copy()
        active = np.arange(start.shape[0])
        while active.shape[0]:
            s, end = start[active], doc_last[active]
            target = _target_lengths(rng, s.shape[0], max_seq_length, short_seq_ratio)
            # Smallest sentence i whose inclusion reaches the target ...
            reach = np.searchsorted(cum, cum[s] + target, side="left") - 1
            # ... that also holds min_num_sent sentences and leaves >= 2 sentences behind;
            # otherwise the sample takes the rest of the document.
            stop = np.maximum(reach, s + min_num_sent - 1)
            stop = np.where(stop <= end - 3, stop, end - 1)
            chunks.append(np.stack([s, stop + 1, target], axis=1))
            total += s.shape[0]
            start[active] = stop + 1
            active = active[stop + 1 < end]
    if not chunks:
        return np.zeros((0, 3), dtype=np.int64)
    mapping = np.concatenate(chunks)
    shuffle = np.random.RandomState((seed + 1) % 2**32).permutation(mapping.shape[0])
    return mapping[shuffle]


def build_blending_indices(weights: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Interleave datasets by ``weights``: ``(dataset_index, dataset_sample_index)`` arrays.

    Dataset ``d`` gets ``round(weights[d] * size)`` samples (largest remainders settle the
    rounding, so the counts add up to ``size``), spread evenly through the order.
    """
    weights = np.asarray(weights, dtype=np.float64)
    exact = weights / weights.sum() * size
    counts = np.floor(exact).astype(np.int64)
    remainder = size - int(counts.sum())
    if remainder:
        counts[np.argsort(-(exact - counts), kind="stable")[:remainder]] += 1
    dataset_index = np.repeat(np.arange(weights.shape[0], dtype=np.int64), counts)
    sample_index = (
        np.concatenate([np.arange(c, dtype=np.int64) for c in counts])
        if size
        else np.zeros(0, np.int64)
    )
    # Sample k of dataset d is due at (k + 0.5) / counts[d] of the way through.
    due = (sample_index + 0.5) / np.maximum(counts[dataset_index], 1)
    # dataset_index is ascending, so a stable sort breaks ties by dataset.
    order = np.argsort(due, kind="stable")
    return dataset_index[order].astype(
        np.uint8 if weights.shape[0] < 256 else np.int64
    ), sample_index[order]


def num_epochs_for(tokens_per_epoch: int, seq_length: int, num_samples: int | None) -> int:
    """Epochs of ``tokens_per_epoch`` tokens needed for ``num_samples`` windows of ``seq_length``."""
    if num_samples is None or num_samples <= 0:
        return 1
    if tokens_per_epoch <= 1:
        raise ValueError("the dataset has fewer than 2 tokens; a GPT sample needs at least 2")
    # Each sample needs seq_length + 1 tokens, overlapping the next one by one token.
    needed = num_samples * seq_length + 1
    return max(1, -(-needed // tokens_per_epoch))
