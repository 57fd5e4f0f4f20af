"""Loading Hugging Face directories: the default config with ``pretrained_model_path``,
libai.inference's huggingface mode, and the errors for broken checkpoints (each names
the tensors or files at fault)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from libai.config import get_config
from libai.engine.default import DefaultTrainer
from libai.inference.model_source import check_model_source, hf_loader_for
from libai.models.utils.model_loader import CheckpointError, WeightLoadError
from libai.utils.oneflow_env import flow
from libai_llama.hf_config import HFConfigError
from libai_llama.hf_loading import read_hf_weights
from libai_llama.modeling import LlamaForCausalLM
from omegaconf import OmegaConf
from safetensors.numpy import load_file, save_file

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "hf"


def _logits(model, ids: np.ndarray) -> np.ndarray:
    model.eval()
    with flow.no_grad():
        return model(flow.tensor(ids))["logits"].to_local().numpy()


def _copy(name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    shutil.copytree(FIXTURES / name, target)
    return target


def test_default_config_builds_a_small_llama():
    llama = get_config("common/models/llama.py")
    model = DefaultTrainer.build_model(OmegaConf.create({"model": llama.model}))
    assert isinstance(model, LlamaForCausalLM)
    params = sum(p.numel() for p in model.parameters())
    assert params == 19_286_272  # 32000-token vocabulary, 4 layers of width 256
    assert llama.tokenization.tokenizer._target_ == "tokenizers:llama"


def test_pretrained_model_path_sets_sizes_and_weights():
    """A default config pointed at a checkpoint builds the checkpoint's model, whatever
    the config's own sizes say."""
    llama = get_config("common/models/llama.py")
    llama.model.cfg.pretrained_model_path = str(FIXTURES / "llama3")
    model = DefaultTrainer.build_model(OmegaConf.create({"model": llama.model}))
    io = dict(np.load(FIXTURES / "llama3" / "io.npz"))
    assert model.cfg.hidden_size == 32 and model.cfg.vocab_size == 96
    ids = io["in_input_ids"][:, 4:]
    assert np.abs(_logits(model, ids) - io["out_logits_unpadded"]).max() < 1e-4


def test_huggingface_mode_of_libai_inference_finds_the_loader():
    """libai.inference's huggingface mode: the loader named by the model class, called
    LiBai's way with the model's LazyCall and cfg."""
    model_cfg = get_config("common/models/llama.py").model
    check_model_source("huggingface", str(FIXTURES / "llama3"))  # the sharded layout counts
    loader = hf_loader_for(model_cfg)
    model = loader(model_cfg, model_cfg.cfg, str(FIXTURES / "qwen2")).load()
    io = dict(np.load(FIXTURES / "qwen2" / "io.npz"))
    assert model.tie_word_embeddings and model.cfg.vocab_size == 96
    assert (
        np.abs(_logits(model, io["in_input_ids"][:, 4:]) - io["out_logits_unpadded"]).max() < 1e-4
    )


def test_sharded_and_single_file_checkpoints_read_the_same(tmp_path):
    sharded = read_hf_weights(FIXTURES / "llama3")
    assert (
        len(
            {
                v
                for v in json.loads(
                    (FIXTURES / "llama3" / "model.safetensors.index.json").read_text()
                )["weight_map"].values()
            }
        )
        > 1
    )
    single = tmp_path / "single"
    single.mkdir()
    save_file(sharded, str(single / "model.safetensors"))
    again = read_hf_weights(single)
    assert sorted(again) == sorted(sharded)
    assert all(np.array_equal(again[k], sharded[k]) for k in sharded)


def test_missing_shard_is_named(tmp_path):
    path = _copy("llama3", tmp_path)
    shard = sorted(path.glob("model-*.safetensors"))[-1]
    shard.unlink()
    with pytest.raises(CheckpointError, match=shard.name):
        LlamaForCausalLM(cfg=dict(pretrained_model_path=str(path)))


def test_missing_and_mis_shaped_tensors_are_listed_by_name(tmp_path):
    path = _copy("llama2", tmp_path)
    state = load_file(str(path / "model.safetensors"))
    del state["model.layers.1.mlp.up_proj.weight"]
    state["model.layers.0.self_attn.k_proj.weight"] = state[
        "model.layers.0.self_attn.k_proj.weight"
    ][:16]
    state["model.layers.0.extra.weight"] = np.zeros(3, np.float32)
    save_file(state, str(path / "model.safetensors"))
    with pytest.raises(WeightLoadError) as info:
        LlamaForCausalLM(cfg=dict(pretrained_model_path=str(path)))
    message = str(info.value)
    assert "model.layers.1.mlp.up_proj.weight" in message
    assert (
        "model.layers.0.self_attn.k_proj.weight: checkpoint (16, 32) vs model (32, 32)" in message
    )
    assert "model.layers.0.extra.weight" in message


def test_active_sliding_window_is_refused(tmp_path):
    path = _copy("mistral", tmp_path)
    config = json.loads((path / "config.json").read_text())
    config["sliding_window"] = 16
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(HFConfigError, match="sliding-window attention"):
        LlamaForCausalLM(cfg=dict(pretrained_model_path=str(path)))
