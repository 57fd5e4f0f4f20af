"""SwinTransformerV2: cosine attention parts, default configs, eager and nn.Graph training."""

from __future__ import annotations

import math

import numpy as np
import pytest
import vision_checks
from libai.config import get_config
from libai.models.swin_transformer_v2 import log_spaced_coords
from libai.utils.oneflow_env import flow
from vision_cases import build_model, make_batch, to_global_batch

CASE = "SwinTransformerV2"

CONFIGS = {
    "swinv2_tiny_patch4_window8_256": (96, [2, 2, 6, 2], [3, 6, 12, 24], 8),
    "swinv2_tiny_patch4_window16_256": (96, [2, 2, 6, 2], [3, 6, 12, 24], 16),
    "swinv2_small_patch4_window8_256": (96, [2, 2, 18, 2], [3, 6, 12, 24], 8),
    "swinv2_small_patch4_window16_256": (96, [2, 2, 18, 2], [3, 6, 12, 24], 16),
    "swinv2_base_patch4_window8_256": (128, [2, 2, 18, 2], [4, 8, 16, 32], 8),
    "swinv2_base_patch4_window16_256": (128, [2, 2, 18, 2], [4, 8, 16, 32], 16),
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_size_configs_ship_libai_sizes(name):
    cfg = get_config(f"common/models/swinv2/{name}.py").model.cfg
    got = (cfg.embed_dim, list(cfg.depths), list(cfg.num_heads), cfg.window_size)
    assert got == CONFIGS[name]
    assert cfg.img_size == 256 and list(cfg.pretrained_window_sizes) == [0, 0, 0, 0]


def test_log_spaced_coordinates():
    table = log_spaced_coords(4, 0)
    assert table.shape == (1, 7, 7, 2)
    # The largest offset (3 = window - 1) maps to log2(1 + 8) / log2(8).
    assert table.max() == pytest.approx(math.log2(9) / 3)
    assert table[0, 3, 3].tolist() == [0.0, 0.0]
    # A pre-training window of 8 shrinks the coordinates of a window of 4.
    assert log_spaced_coords(4, 8).max() < table.max()


def test_blocks_start_as_identity():
    """Residual post-norms are initialised to zero, as LiBai and the paper do."""
    model = build_model(CASE)
    block = model.layers[0].blocks[1]
    x = flow.tensor(np.random.default_rng(0).standard_normal((2, 256, 16)).astype(np.float32))
    x = x.to_global(placement=block.norm1.weight.placement, sbp=block.norm1.weight.sbp)
    with flow.no_grad():
        np.testing.assert_allclose(block(x).numpy(), x.numpy(), atol=1e-6)


def test_logit_scale_is_capped_at_100():
    model = build_model(CASE)
    attn = model.layers[0].blocks[0].attn
    with flow.no_grad():
        attn.logit_scale.fill_(10.0)  # exp(10) would be far above the cap
        out = model(**to_global_batch(make_batch()))["losses"]
    assert math.isfinite(float(out.to_local().numpy()))


def test_eager_training_loss_decreases():
    vision_checks.check_eager_training(CASE)


def test_eval_returns_prediction_scores():
    vision_checks.check_eval_output(CASE)


def test_soft_labels_use_soft_target_cross_entropy():
    vision_checks.check_soft_labels(CASE)


def test_graph_training_loss_decreases_and_matches_eager():
    vision_checks.check_graph_training(CASE)


def test_experiment_config_resolves_and_trains():
    vision_checks.check_experiment_config("swinv2_cifar100", CASE)


def test_pretrained_window_sizes_need_one_entry_per_stage():
    from libai.config.errors import InstantiationError

    with pytest.raises(InstantiationError, match=r"pretrained_window_sizes=\[0, 0, 0, 0\]") as info:
        build_model(CASE, pretrained_window_sizes=[0, 0, 0, 0])  # the model has 2 stages
    assert isinstance(info.value.__cause__, ValueError)
