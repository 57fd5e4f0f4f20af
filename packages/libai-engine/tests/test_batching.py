"""Batch arithmetic and schedule scaling of the ``train`` namespace."""

import pytest
from libai.engine.batching import (
    BatchSizeError,
    check_batch_size,
    resolve_batch_sizes,
    scale_schedule,
)
from omegaconf import OmegaConf


@pytest.mark.parametrize(
    ("micro", "global_", "acc", "dp", "expected"),
    [
        (8, None, None, 1, (8, 8, 1)),  # micro only: acc defaults to 1
        (8, None, 3, 2, (8, 48, 3)),  # micro + acc -> global
        (8, 32, None, 2, (8, 32, 2)),  # micro + global -> acc
        (None, 32, 2, 2, (8, 32, 2)),  # global + acc -> micro
        (None, 32, None, 4, (8, 32, 1)),  # global only: acc 1
        (4, 16, 2, 2, (4, 16, 2)),  # all three, consistent
    ],
)
def test_any_two_determine_the_third(micro, global_, acc, dp, expected):
    assert resolve_batch_sizes(micro, global_, acc, dp) == expected


def test_inconsistent_values_show_the_arithmetic():
    with pytest.raises(BatchSizeError) as err:
        resolve_batch_sizes(4, 20, 2, 2)
    assert "4 * 2 * 2 = 16 != 20" in str(err.value)


def test_global_not_divisible_shows_the_arithmetic():
    with pytest.raises(BatchSizeError) as err:
        resolve_batch_sizes(8, 20, None, 2)
    msg = str(err.value)
    assert "8 * 2 = 16" in msg and "1.25" in msg


def test_micro_not_derivable_shows_the_arithmetic():
    with pytest.raises(BatchSizeError, match=r"2 \* 3 = 6"):
        resolve_batch_sizes(None, 20, 2, 3)


def test_nothing_given_is_an_error():
    with pytest.raises(BatchSizeError, match="both None"):
        resolve_batch_sizes(None, None, 4, 1)


@pytest.mark.parametrize("bad", [0, -2, 2.5, "8", True])
def test_non_positive_or_non_integer_is_an_error(bad):
    with pytest.raises(
        BatchSizeError, match="train.train_micro_batch_size must be a positive integer"
    ):
        resolve_batch_sizes(bad, None, None, 1)


def test_check_batch_size_fills_the_config():
    cfg = OmegaConf.create(
        {
            "train": {
                "train_micro_batch_size": None,
                "global_batch_size": 64,
                "num_accumulation_steps": 4,
                "train_iter": 10,
            }
        }
    )
    check_batch_size(cfg, data_parallel_size=2)
    assert (
        cfg.train.train_micro_batch_size,
        cfg.train.global_batch_size,
        cfg.train.num_accumulation_steps,
    ) == (8, 64, 4)
    assert cfg.train.samples == 640


def test_train_epoch_scales_to_iterations():
    # 1000 samples / 64 per step = 16 iterations per epoch (ceil); 3 epochs = 48 > 10.
    assert scale_schedule(10, 3, 0.1, 1000, 64) == (48, 5, 16)
    # train_iter wins when it is larger.
    assert scale_schedule(100, 3, 0.0, 1000, 64) == (100, 0, 16)


def test_warmup_ratio_to_iterations():
    assert scale_schedule(200, 0, 0.05, None, 8) == (200, 10, None)
    assert scale_schedule(7, 0, 0.5, None, 8) == (7, 4, None)  # ceil(3.5)


def test_bad_warmup_ratio_and_epoch_without_length():
    with pytest.raises(ValueError, match=r"warmup_ratio must be in \[0, 1\)"):
        scale_schedule(10, 0, 1.0, None, 8)
    with pytest.raises(ValueError, match="has none"):
        scale_schedule(10, 2, 0.0, None, 8)
