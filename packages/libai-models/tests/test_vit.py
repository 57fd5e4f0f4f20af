"""VisionTransformer: built from its default configs, trains eagerly and as nn.Graph."""

from __future__ import annotations

import numpy as np
import pytest
import vision_checks
from libai.config import get_config
from libai.utils.oneflow_env import flow
from vision_cases import IMG, NUM_CLASSES, build_model, make_batch, to_global_batch

CASE = "VisionTransformer"

# LiBai's ViT sizes: (patch, width, depth, heads, mlp_ratio).
SIZES = {
    "vit_tiny_patch16_224": (16, 192, 12, 3, 4.0),
    "vit_small_patch16_224": (16, 384, 12, 6, 4.0),
    "vit_small_patch32_224": (32, 384, 12, 6, 4.0),
    "vit_base_patch16_224": (16, 768, 12, 12, 4.0),
    "vit_base_patch32_224": (32, 768, 12, 12, 4.0),
    "vit_large_patch16_224": (16, 1024, 24, 16, 4.0),
    "vit_large_patch32_224": (32, 1024, 24, 16, 4.0),
    "vit_huge_patch14_224": (14, 1280, 32, 16, 4.0),
    "vit_giant_patch14_224": (14, 1408, 40, 16, 48 / 11),
    "vit_gigantic_patch14_224": (14, 1664, 48, 16, 64 / 13),
}


@pytest.mark.parametrize("name", sorted(SIZES))
def test_size_configs_ship_libai_sizes(name):
    cfg = get_config(f"common/models/vit/{name}.py").model.cfg
    got = (cfg.patch_size, cfg.embed_dim, cfg.depth, cfg.num_heads, cfg.mlp_ratio)
    assert got == pytest.approx(SIZES[name])
    assert cfg.img_size == 224 and cfg.num_classes == 1000


def test_eager_training_loss_decreases():
    vision_checks.check_eager_training(CASE)


def test_eval_returns_prediction_scores():
    vision_checks.check_eval_output(CASE)


def test_soft_labels_use_soft_target_cross_entropy():
    vision_checks.check_soft_labels(CASE)


def test_graph_training_loss_decreases_and_matches_eager():
    vision_checks.check_graph_training(CASE)


def test_experiment_config_resolves_and_trains():
    vision_checks.check_experiment_config("vit_imagenet", CASE)


def test_parameter_count_and_names_follow_libai():
    model = build_model(CASE)
    names = dict(model.named_parameters())
    assert tuple(names["pos_embed"].shape) == (1, (IMG // 8) ** 2 + 1, 32)
    assert tuple(names["blocks.1.self_attention.query_key_value.weight"].shape) == (96, 32)
    assert tuple(names["head.weight"].shape) == (NUM_CLASSES, 32)
    assert model.no_weight_decay() == {"pos_embed", "cls_token"}


def test_keyword_construction_and_headless_model():
    from libai.models import VisionTransformer

    model = VisionTransformer(
        img_size=IMG, patch_size=8, embed_dim=16, depth=1, num_heads=2, num_classes=0
    )
    model.eval()
    out = model(to_global_batch(make_batch())["images"])["prediction_scores"]
    assert tuple(out.shape) == (4, 16)  # the [CLS] features


def test_unknown_cfg_key_names_the_nearest_one():
    from libai.models import VisionTransformer

    with pytest.raises(ValueError, match=r"'num_head' \(did you mean num_heads\?\)"):
        VisionTransformer(cfg=dict(img_size=IMG, patch_size=8, embed_dim=16, num_head=2))


def test_wrong_image_size_is_reported():
    model = build_model(CASE)
    with pytest.raises(ValueError, match="img_size=32x32"):
        model(flow.tensor(np.zeros((1, 3, 16, 16), dtype=np.float32)))


VISION_ENTRY_POINTS = {
    "VisionTransformer": "VisionTransformer",
    "vit": "VisionTransformer",
    "SwinTransformer": "SwinTransformer",
    "swin": "SwinTransformer",
    "SwinTransformerV2": "SwinTransformerV2",
    "swinv2": "SwinTransformerV2",
    "ResMLP": "ResMLP",
    "resmlp": "ResMLP",
}


@pytest.mark.parametrize("name", sorted(VISION_ENTRY_POINTS))
def test_vision_entry_points_resolve_to_their_class(name):
    import libai.models
    from libai.config.registry import get_registry

    target = get_registry().get("libai.models", name).load()
    assert target is getattr(libai.models, VISION_ENTRY_POINTS[name])


def test_registry_reference_builds_vit_from_a_saved_config(tmp_path):
    from libai.config import LazyConfig, instantiate

    cfg = get_config("common/models/vit/vit_tiny_patch16_224.py")
    cfg.model._target_ = "models:vit"
    cfg.model.cfg.update(img_size=IMG, patch_size=8, embed_dim=16, depth=1, num_heads=2)
    LazyConfig.save(cfg, str(tmp_path / "vit.yaml"))
    model = instantiate(LazyConfig.load(str(tmp_path / "vit.yaml")).model)
    assert type(model).__name__ == "VisionTransformer" and len(model.blocks) == 1
