"""CyclicSampler / SingleRoundSampler: data-parallel shares, shuffling and exact resume."""

from __future__ import annotations

import itertools

import pytest
from libai.data.samplers import CyclicSampler, SingleRoundSampler


def _take(sampler, n):
    return list(itertools.islice(iter(sampler), n))


def _global_batches(size, micro, dp, consumed, n, shuffle=True, seed=7):
    """The next n global batches: each is the concatenation of every rank's micro batch."""
    per_rank = [
        _take(
            CyclicSampler(
                range(size),
                micro,
                shuffle=shuffle,
                consumed_samples=consumed,
                data_parallel_rank=rank,
                data_parallel_size=dp,
                seed=seed,
            ),
            n,
        )
        for rank in range(dp)
    ]
    return [sum((per_rank[r][i] for r in range(dp)), []) for i in range(n)]


def test_cyclic_ranks_get_disjoint_contiguous_buckets_without_shuffle():
    rank0 = _take(CyclicSampler(range(10), 2, data_parallel_rank=0, data_parallel_size=2), 3)
    rank1 = _take(CyclicSampler(range(10), 2, data_parallel_rank=1, data_parallel_size=2), 3)
    # 10 samples, global batch 4: an epoch is 8 samples, 4 per rank; sample 8 and 9 are left out.
    assert rank0 == [[0, 1], [2, 3], [0, 1]]
    assert rank1 == [[4, 5], [6, 7], [4, 5]]


def test_cyclic_shuffle_is_a_permutation_per_epoch_and_changes_between_epochs():
    sampler = CyclicSampler(range(12), 3, shuffle=True, seed=1)
    epochs = _take(sampler, 8)
    first = sum(epochs[:4], [])
    second = sum(epochs[4:], [])
    assert sorted(first) == list(range(12))
    assert sorted(second) == list(range(12))
    assert first != second
    assert first != list(range(12))


@pytest.mark.parametrize("size", [24, 27])  # 27 is not a multiple of the global batch
@pytest.mark.parametrize("consumed_batches", [0, 1, 3, 5, 7, 13])
def test_cyclic_resume_continues_with_the_exact_next_batch_for_two_ranks(size, consumed_batches):
    micro, dp = 3, 2
    global_batch = micro * dp
    reference = _global_batches(size, micro, dp, 0, 20)
    resumed = _global_batches(
        size, micro, dp, consumed_batches * global_batch, 20 - consumed_batches
    )
    assert resumed == reference[consumed_batches:]


def test_cyclic_counts_consumed_samples_and_resumes_from_its_own_count():
    sampler = CyclicSampler(range(20), 2, shuffle=True, data_parallel_size=2, seed=3)
    seen = _take(sampler, 7)
    assert sampler.consumed_samples == 7 * 4
    again = CyclicSampler(
        range(20), 2, shuffle=True, data_parallel_size=2, seed=3,
        consumed_samples=sampler.consumed_samples,
    )  # fmt: skip
    full = _take(CyclicSampler(range(20), 2, shuffle=True, data_parallel_size=2, seed=3), 10)
    assert seen == full[:7]
    assert _take(again, 3) == full[7:10]


def test_cyclic_rejects_a_partial_global_batch_and_a_tiny_dataset():
    with pytest.raises(ValueError, match="multiple of the global batch"):
        CyclicSampler(range(20), 2, data_parallel_size=2, consumed_samples=6)
    with pytest.raises(ValueError, match="fewer than one global batch"):
        CyclicSampler(range(3), 2, data_parallel_size=2)
    with pytest.raises(ValueError, match="data_parallel_rank"):
        CyclicSampler(range(8), 2, data_parallel_rank=2, data_parallel_size=2)


def test_single_round_covers_every_sample_once_across_ranks():
    shares = [
        list(SingleRoundSampler(range(11), 2, data_parallel_rank=r, data_parallel_size=3))
        for r in range(3)
    ]
    # Global batches of 6: [0..5] and [6..10] completed by repeating 10; each rank takes
    # its slice of each, so every rank yields 2 full batches.
    assert shares[0] == [[0, 1], [6, 7]]
    assert shares[1] == [[2, 3], [8, 9]]
    assert shares[2] == [[4, 5], [10, 10]]
    assert [len(SingleRoundSampler(range(11), 2, data_parallel_rank=r, data_parallel_size=3))
            for r in range(3)] == [2, 2, 2]  # fmt: skip


@pytest.mark.parametrize("size", [1, 7, 8, 9, 81, 100])
@pytest.mark.parametrize("layout", [(1, 1), (4, 2), (3, 3), (8, 2)])
def test_single_round_equal_batches_and_padding_only_at_the_end(size, layout):
    micro, dp = layout
    shares = [
        list(SingleRoundSampler(range(size), micro, data_parallel_rank=r, data_parallel_size=dp))
        for r in range(dp)
    ]
    # every rank: the same number of full batches (no rank waits for a missing one)
    assert {len(s) for s in shares} == {-(-size // (micro * dp))}
    if dp > 1:
        assert all(len(batch) == micro for s in shares for batch in s)
    # the global batches concatenated (rank order) are the dataset, then padding
    passes = [i for b in range(len(shares[0])) for r in range(dp) for i in shares[r][b]]
    assert passes[:size] == list(range(size))
    assert set(passes[size:]) <= {size - 1}


def test_single_round_drop_last_and_shuffle():
    sampler = SingleRoundSampler(range(7), 3, drop_last=True)
    assert list(sampler) == [[0, 1, 2], [3, 4, 5]]
    assert len(sampler) == 2
    # one rank: a short last batch; several: a full one, padded with the last sample
    assert list(SingleRoundSampler(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(SingleRoundSampler(range(7), 2, data_parallel_rank=1, data_parallel_size=2)) == [
        [2, 3],
        [6, 6],
    ]
    shuffled = sum(SingleRoundSampler(range(7), 3, shuffle=True, seed=5), [])
    assert sorted(shuffled) == list(range(7))
    assert shuffled != list(range(7))
