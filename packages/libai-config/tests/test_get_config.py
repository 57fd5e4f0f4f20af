"""get_config over LIBAI_CONFIG_PATH, plugin directories and the built-in configs."""

from __future__ import annotations

import pytest
from libai.config import ConfigNotFoundError, LazyConfig, get_config, instantiate
from libai.config.get_config import BUILTIN_DIR, config_search_path
from omegaconf import DictConfig

TRAIN_KEYS = {
    "output_dir",
    "train_micro_batch_size",
    "global_batch_size",
    "num_accumulation_steps",
    "train_iter",
    "train_epoch",
    "consumed_train_samples",
    "consumed_valid_samples",
    "train_samples",
    "warmup_ratio",
    "start_iter",
    "resume",
    "hooks",
    "amp",
    "activation_checkpoint",
    "nccl_fusion_threshold_mb",
    "nccl_fusion_max_ops",
    "zero_optimization",
    "checkpointer",
    "test_micro_batch_size",
    "evaluation",
    "load_weight",
    "log_period",
    "scheduler",
    "dist",
    "input_placement_device",
    "rdma_enabled",
    "seed",
}


def test_builtin_train_config_has_libai_keys():
    train = get_config("common/train.py").train
    assert isinstance(train, DictConfig)
    assert set(train.keys()) == TRAIN_KEYS
    assert set(train.dist.keys()) == {
        "data_parallel_size",
        "tensor_parallel_size",
        "pipeline_parallel_size",
        "pipeline_num_layers",
        "custom_pipeline_stage_id",
        "device_type",
        "num_nodes",
        "num_gpus_per_node",
    }
    assert set(train.checkpointer.keys()) == {"period", "max_to_keep", "save_model_after_n_epoch"}
    assert set(train.evaluation.keys()) == {
        "enabled",
        "evaluator",
        "eval_period",
        "eval_after_train",
        "eval_iter",
        "eval_after_n_epoch",
        "eval_metric",
        "eval_mode",
    }
    assert train.zero_optimization.stage == 1 and train.amp.enabled is False
    assert train.scheduler._target_ == "libai.scheduler.WarmupCosineLR"
    assert train.evaluation.evaluator._target_ == "libai.evaluation.ClsEvaluator"


def test_builtin_dir_searched_once_with_its_label():
    # Searched last unless a plugin (libai-config's own) already contributes it.
    dirs = [d.resolve() for _label, d in config_search_path()]
    assert dirs.count(BUILTIN_DIR) == 1
    assert ("libai-config", BUILTIN_DIR) in [(lb, d.resolve()) for lb, d in config_search_path()]


def test_each_get_config_is_a_fresh_copy():
    a = get_config("common/train.py")
    a.train.train_iter = 1
    assert get_config("common/train.py").train.train_iter == 10000


def test_env_path_searched_first(tmp_path, monkeypatch, write):
    write("extra/common/train.py", "train = dict(train_iter=3)\n")
    write("extra/common/models/tiny.py", "model = dict(_target_='types.SimpleNamespace', w=2)\n")
    monkeypatch.setenv("LIBAI_CONFIG_PATH", str(tmp_path / "extra"))
    assert get_config("common/train.py").train.train_iter == 3
    assert instantiate(get_config("common/models/tiny.py").model).w == 2


def test_not_found_lists_every_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("LIBAI_CONFIG_PATH", str(tmp_path))
    with pytest.raises(ConfigNotFoundError) as info:
        get_config("common/models/nope.py")
    err = info.value
    assert isinstance(err, FileNotFoundError)
    msg = str(err)
    assert f"LIBAI_CONFIG_PATH: {tmp_path}" in msg
    assert f"libai-config: {BUILTIN_DIR}" in msg
    assert ("libai-config", BUILTIN_DIR) in err.searched


def test_not_found_suggests_nearest():
    with pytest.raises(ConfigNotFoundError, match="common/train.py"):
        get_config("common/trian.py")


def test_get_config_inside_a_config_file(write):
    path = write(
        "exp.py",
        """
        from libai.config import get_config
        train = get_config("common/train.py").train
        train.train_iter = 50
        """,
    )
    assert LazyConfig.load(path).train.train_iter == 50
