"""Tiny sizes and fixed batches for the vision models, shared by their tests and the
graph-mode script those tests launch."""

from __future__ import annotations

import numpy as np

BATCH = 4
IMG = 32
NUM_CLASSES = 5

# case -> (default config file, tiny cfg overrides)
CASES = {
    "VisionTransformer": (
        "common/models/vit/vit_tiny_patch16_224.py",
        dict(img_size=IMG, patch_size=8, embed_dim=32, depth=2, num_heads=4, drop_path_rate=0.0),
    ),
    "SwinTransformer": (
        "common/models/swin/swin_tiny_patch4_window7_224.py",
        dict(
            img_size=IMG,
            patch_size=2,
            embed_dim=16,
            depths=[2, 2],
            num_heads=[2, 4],
            window_size=4,
            drop_path_rate=0.0,
        ),
    ),
    "SwinTransformerV2": (
        "common/models/swinv2/swinv2_tiny_patch4_window8_256.py",
        dict(
            img_size=IMG,
            patch_size=2,
            embed_dim=16,
            depths=[2, 2],
            num_heads=[2, 4],
            window_size=4,
            drop_path_rate=0.0,
            pretrained_window_sizes=[0, 0],
        ),
    ),
    "ResMLP": (
        "common/models/resmlp/resmlp_12.py",
        dict(img_size=IMG, patch_size=8, embed_dim=32, depth=2, drop_path_rate=0.0),
    ),
}


def build_model(case: str, **overrides):
    """Instantiate ``case`` from its shipped default config at the tiny size."""
    from libai.config import get_config, instantiate

    path, tiny = CASES[case]
    cfg = get_config(path)
    cfg.model.cfg.update(tiny, num_classes=NUM_CLASSES, **overrides)
    return instantiate(cfg.model)


def make_batch(seed: int = 0) -> dict:
    """Fixed images and integer labels (numpy), with the keyword names of ``forward``."""
    rng = np.random.default_rng(seed)
    images = rng.standard_normal((BATCH, 3, IMG, IMG)).astype(np.float32)
    labels = np.arange(BATCH, dtype=np.int64) % NUM_CLASSES
    return {"images": images, "labels": labels}


def to_global_batch(batch: dict) -> dict:
    """numpy -> global tensors split on the batch axis, on the first stage's placement."""
    from libai.utils import distributed as dist
    from libai.utils.oneflow_env import flow

    placement = dist.get_layer_placement(0)
    sbp = dist.get_nd_sbp([flow.sbp.split(0), flow.sbp.broadcast])
    return {k: flow.tensor(v).to_global(placement=placement, sbp=sbp) for k, v in batch.items()}


def total_loss(loss_dict: dict):
    return sum(v for k, v in loss_dict.items() if "loss" in k)
