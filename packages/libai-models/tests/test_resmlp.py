"""ResMLP: Affine norms and layer scales, default configs, eager and nn.Graph training."""

from __future__ import annotations

import pytest
import vision_checks
from libai.config import get_config
from vision_cases import build_model

CASE = "ResMLP"

CONFIGS = {
    "resmlp_12": (16, 384, 12, 0.1),
    "resmlp_24": (16, 384, 24, 1e-5),
    "resmlp_36": (16, 384, 36, 1e-6),
    "resmlpB_24": (8, 768, 24, 1e-6),
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_size_configs_ship_libai_sizes(name):
    cfg = get_config(f"common/models/resmlp/{name}.py").model.cfg
    assert (cfg.patch_size, cfg.embed_dim, cfg.depth, cfg.init_scale) == CONFIGS[name]


def test_layer_scales_start_at_init_scale_and_affine_at_identity():
    model = build_model(CASE, init_scale=0.25)
    block = model.blocks[1]
    assert (block.gamma_1.numpy() == 0.25).all() and (block.gamma_2.numpy() == 0.25).all()
    assert (block.norm1.alpha.numpy() == 1).all() and (block.norm1.beta.numpy() == 0).all()
    # The patch-mixing layer maps patches to patches: (4x4 patches)^2.
    assert tuple(block.attn.weight.shape) == (16, 16)
    assert model.no_weight_decay() == {"alpha", "beta", "gamma_1", "gamma_2"}


def test_eager_training_loss_decreases():
    vision_checks.check_eager_training(CASE)


def test_eval_returns_prediction_scores():
    vision_checks.check_eval_output(CASE)


def test_soft_labels_use_soft_target_cross_entropy():
    vision_checks.check_soft_labels(CASE)


def test_graph_training_loss_decreases_and_matches_eager():
    vision_checks.check_graph_training(CASE)


def test_experiment_config_resolves_and_trains():
    vision_checks.check_experiment_config("resmlp_imagenet", CASE)
