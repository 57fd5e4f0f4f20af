"""A LiBai-style experiment split over nested files, loaded, saved and reloaded."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from libai.config import LazyConfig, get_config, instantiate
from omegaconf import DictConfig, OmegaConf

EXPERIMENT = (
    Path(__file__).parent / "fixtures" / "realistic" / "experiments" / "bert" / "pretrain.py"
)


def test_load_realistic_experiment():
    cfg = LazyConfig.load(EXPERIMENT)
    assert set(cfg.keys()) == {"dataloader", "tokenization", "model", "optim", "train", "graph"}
    assert cfg.model.cfg.hidden_layers == 24 and cfg.model.cfg.vocab_size == 30522
    assert cfg.optim.lr == 1.5e-4 and cfg.optim.params.weight_decay_norm == 0.0
    assert cfg.train.train_iter == 1000 and cfg.train.train_micro_batch_size == 16
    assert cfg.train.dist.data_parallel_size == 2
    assert cfg.train.evaluation.enabled is False
    assert cfg.dataloader.train.dataset[0].seq_length == 30 * 16
    # the shipped defaults were not modified by the experiment
    assert get_config("common/train.py").train.train_iter == 10000


def test_round_trip_through_yaml(tmp_path):
    cfg = LazyConfig.load(EXPERIMENT)
    path = tmp_path / "config.yaml"
    LazyConfig.save(cfg, path)
    back = LazyConfig.load(path)
    expected = OmegaConf.to_container(cfg)
    expected["model"]["_target_"] = "types.SimpleNamespace"
    expected["dataloader"]["train"]["_target_"] = "types.SimpleNamespace"
    expected["dataloader"]["train"]["dataset"][0]["_target_"] = "types.SimpleNamespace"
    assert OmegaConf.to_container(back) == expected
    assert list(back.optim.betas) == [0.9, 0.999]
    # A second round trip is byte-for-byte stable.
    LazyConfig.save(back, tmp_path / "again.yaml")
    assert (tmp_path / "again.yaml").read_text() == path.read_text()


def test_reloaded_config_instantiates_like_the_original(tmp_path):
    cfg = LazyConfig.load(EXPERIMENT)
    LazyConfig.save(cfg, tmp_path / "config.yaml")
    back = LazyConfig.load(tmp_path / "config.yaml")
    for key in ("model", "optim"):
        a, b = instantiate(cfg[key]), instantiate(back[key])
        assert isinstance(a, SimpleNamespace) and vars(a).keys() == vars(b).keys()
    model = instantiate(back.model)
    assert isinstance(model.cfg, DictConfig) and model.cfg.hidden_layers == 24
    loader = instantiate(back.dataloader.train)
    assert loader.dataset[0].seq_length == 480 and loader.num_workers == 4
