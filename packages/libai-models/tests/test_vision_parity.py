"""Vision checkpoints from transformers (ViT) and timm (Swin, SwinV2, ResMLP) load into
libai's models and reproduce the reference logits.

The fixtures under fixtures/vision/ were written by fixtures/vision/make_fixtures.py in
the reference environment (torch, transformers, timm); nothing here needs torch.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from libai.models import ResMLP, SwinTransformer, SwinTransformerV2, VisionTransformer
from libai.models.utils.model_loader import (
    ResMLPLoaderHuggerFace,
    SwinLoaderHuggerFace,
    SwinV2LoaderHuggerFace,
    ViTLoaderHuggerFace,
    WeightLoadError,
    load_hf_checkpoint,
)
from libai.models.utils.model_loader.checkpoint_files import CheckpointError
from libai.models.utils.model_loader.timm_config import TimmConfigError
from libai.utils.oneflow_env import flow
from safetensors.numpy import load_file, save_file

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "vision"

CASES = {
    # fixture dir: (model class, loader, file format)
    "vit": (VisionTransformer, ViTLoaderHuggerFace, "model.safetensors"),
    "vit_hub_layout": (VisionTransformer, ViTLoaderHuggerFace, "pytorch_model.bin"),
    "swin": (SwinTransformer, SwinLoaderHuggerFace, "model.safetensors"),
    "swinv2": (SwinTransformerV2, SwinV2LoaderHuggerFace, "model.safetensors"),
    "resmlp": (ResMLP, ResMLPLoaderHuggerFace, "pytorch_model.bin"),
}


def _logits(model, images: np.ndarray) -> np.ndarray:
    model.eval()
    with flow.no_grad():
        return model(flow.tensor(images))["prediction_scores"].to_local().numpy()


@pytest.mark.parametrize("name", sorted(CASES))
def test_loaded_model_reproduces_reference_logits(name):
    model_cls, loader, weights = CASES[name]
    path = FIXTURES / name
    assert (path / weights).exists()
    model = loader(model_cls, None, str(path)).load()
    io = np.load(path / "io.npz")
    logits = _logits(model, io["in_images"])
    assert logits.shape == io["out_logits"].shape == (2, 5)
    assert np.abs(logits - io["out_logits"]).max() < 1e-4


@pytest.mark.parametrize("name", ["vit", "swin", "swinv2", "resmlp"])
def test_load_hf_checkpoint_picks_the_loader_from_the_class(name):
    model_cls = CASES[name][0]
    model = load_hf_checkpoint(model_cls, str(FIXTURES / name))
    assert type(model) is model_cls
    io = np.load(FIXTURES / name / "io.npz")
    assert np.abs(_logits(model, io["in_images"]) - io["out_logits"]).max() < 1e-4


def test_sizes_come_from_the_checkpoint_config():
    model = load_hf_checkpoint(SwinTransformer, str(FIXTURES / "swin"))
    assert [len(layer.blocks) for layer in model.layers] == [2, 2, 2]
    assert model.embed_dim == 8 and model.num_classes == 5
    vit = load_hf_checkpoint(VisionTransformer, str(FIXTURES / "vit"))
    assert vit.norm.eps == 1e-12  # Hugging Face ViT's layer_norm_eps


def test_kwargs_override_and_a_headless_model_skips_the_classifier():
    model = load_hf_checkpoint(ResMLP, str(FIXTURES / "resmlp"), num_classes=0)
    io = np.load(FIXTURES / "resmlp" / "io.npz")
    assert _logits(model, io["in_images"]).shape == (2, 16)  # pooled features


def _copy(name: str, tmp_path: Path) -> Path:
    dst = tmp_path / name
    shutil.copytree(FIXTURES / name, dst)
    return dst


def test_extra_checkpoint_tensor_is_reported_as_unexpected(tmp_path):
    path = _copy("swin", tmp_path)
    state = load_file(str(path / "model.safetensors"))
    state["layers.0.blocks.0.attn.extra_gate"] = np.zeros(3, dtype=np.float32)
    save_file(state, str(path / "model.safetensors"))
    with pytest.raises(
        WeightLoadError,
        match=r"unexpected in the checkpoint \(1\): "
        r"layers\.0\.blocks\.0\.attn\.extra_gate",
    ):
        load_hf_checkpoint(SwinTransformer, str(path))


def test_missing_checkpoint_tensor_names_it_and_the_closest_keys(tmp_path):
    path = _copy("vit", tmp_path)
    state = load_file(str(path / "model.safetensors"))
    del state["vit.layernorm.weight"]
    save_file(state, str(path / "model.safetensors"))
    with pytest.raises(
        CheckpointError,
        match=r"'layernorm\.weight'.*closest keys present: "
        r"layernorm\.bias",
    ):
        load_hf_checkpoint(VisionTransformer, str(path))


def test_checkpoint_deeper_than_its_config_fails_loudly(tmp_path):
    path = _copy("resmlp", tmp_path)
    config = json.loads((path / "config.json").read_text())
    config["model_args"]["num_blocks"] = 1  # the weights hold 2 blocks
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(WeightLoadError, match=r"unexpected in the checkpoint \(\d+\): blocks\.1\."):
        load_hf_checkpoint(ResMLP, str(path))


def test_shape_mismatch_lists_the_parameter(tmp_path):
    path = _copy("vit", tmp_path)
    with pytest.raises(
        WeightLoadError, match=r"head\.weight: checkpoint \(5, 32\) vs model \(7, 32\)"
    ):
        load_hf_checkpoint(VisionTransformer, str(path), num_classes=7)


def test_checkpoint_of_another_family_is_refused():
    with pytest.raises(TimmConfigError, match="not a ResMLP architecture"):
        load_hf_checkpoint(ResMLP, str(FIXTURES / "swin"))


def test_unknown_timm_model_arg_is_named(tmp_path):
    path = _copy("swin", tmp_path)
    config = json.loads((path / "config.json").read_text())
    config["model_args"]["window_sise"] = 4
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(TimmConfigError, match=r"window_sise.*did you mean window_size"):
        load_hf_checkpoint(SwinTransformer, str(path))
