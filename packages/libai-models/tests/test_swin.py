"""SwinTransformer: window helpers, default configs, eager and nn.Graph training."""

from __future__ import annotations

import numpy as np
import pytest
import vision_checks
from libai.config import get_config
from libai.models.swin_transformer import (
    relative_position_index,
    shifted_window_mask,
    window_partition,
    window_reverse,
)
from libai.utils.oneflow_env import flow
from vision_cases import build_model

CASE = "SwinTransformer"

CONFIGS = {
    "swin_tiny_patch4_window7_224": (224, 96, [2, 2, 6, 2], [3, 6, 12, 24], 7),
    "swin_small_patch4_window7_224": (224, 96, [2, 2, 18, 2], [3, 6, 12, 24], 7),
    "swin_base_patch4_window7_224": (224, 128, [2, 2, 18, 2], [4, 8, 16, 32], 7),
    "swin_base_patch4_window12_384": (384, 128, [2, 2, 18, 2], [4, 8, 16, 32], 12),
    "swin_large_patch4_window7_224": (224, 192, [2, 2, 18, 2], [6, 12, 24, 48], 7),
    "swin_large_patch4_window12_384": (384, 192, [2, 2, 18, 2], [6, 12, 24, 48], 12),
    "swin_tiny_c24_patch4_window8_256": (256, 96, [2, 2, 6, 2], [4, 8, 16, 32], 8),
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_size_configs_ship_libai_sizes(name):
    cfg = get_config(f"common/models/swin/{name}.py").model.cfg
    got = (cfg.img_size, cfg.embed_dim, list(cfg.depths), list(cfg.num_heads), cfg.window_size)
    assert got == CONFIGS[name]


def test_window_partition_round_trips():
    x = flow.tensor(np.arange(2 * 8 * 8 * 3, dtype=np.float32).reshape(2, 8, 8, 3))
    windows = window_partition(x, 4)
    assert tuple(windows.shape) == (8, 16, 3)
    # The first window of image 0 is its top-left 4x4 corner, row-major.
    np.testing.assert_array_equal(windows[0].numpy(), x[0, :4, :4].numpy().reshape(16, 3))
    np.testing.assert_array_equal(window_reverse(windows, 4, 8, 8).numpy(), x.numpy())


def test_relative_position_index_is_symmetric_in_offsets():
    index = relative_position_index(3)
    assert index.shape == (9, 9)
    assert index.min() == 0 and index.max() == 24  # (2 * 3 - 1) ** 2 - 1
    assert (np.diag(index) == 12).all()  # zero offset is the table's centre
    assert (index + index.T == 24).all()


def test_shift_mask_separates_regions_brought_together_by_the_roll():
    mask = shifted_window_mask(8, 8, window_size=4, shift=2)
    assert mask.shape == (4, 16, 16)
    assert (mask[0] == 0).all()  # the top-left window holds one region only
    assert set(np.unique(mask[3])) == {0.0, -100.0}  # the corner window mixes four
    assert (mask == mask.transpose(0, 2, 1)).all()


def test_stage_smaller_than_the_window_is_not_shifted():
    model = build_model(CASE, img_size=16)  # stage 2 is 4x4 tokens, window 4
    last = model.layers[1].blocks[1]
    assert (last.window_size, last.shift_size, last.attn_mask) == (4, 0, None)
    first = build_model(CASE).layers[0].blocks[1]
    assert (first.window_size, first.shift_size) == (4, 2)
    assert tuple(first.attn_mask.shape) == (16, 2, 16, 16)  # (windows, heads, N, N)


def test_eager_training_loss_decreases():
    vision_checks.check_eager_training(CASE)


def test_eval_returns_prediction_scores():
    vision_checks.check_eval_output(CASE)


def test_soft_labels_use_soft_target_cross_entropy():
    vision_checks.check_soft_labels(CASE)


def test_graph_training_loss_decreases_and_matches_eager():
    vision_checks.check_graph_training(CASE)


def test_experiment_config_resolves_and_trains():
    vision_checks.check_experiment_config("swin_cifar100", CASE)


def test_mismatched_depths_and_heads_are_reported():
    from libai.config.errors import InstantiationError

    with pytest.raises(InstantiationError, match="one entry per stage") as info:
        build_model(CASE, num_heads=[2])
    assert isinstance(info.value.__cause__, ValueError)
