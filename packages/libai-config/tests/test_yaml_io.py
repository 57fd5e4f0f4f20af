"""LazyConfig.save: YAML that load reads back equal, or an error naming the key."""

from __future__ import annotations

import collections
import os
from pathlib import Path
from types import SimpleNamespace

import pytest
from libai.config import ConfigSaveError, LazyCall, LazyConfig, instantiate
from omegaconf import DictConfig, ListConfig, OmegaConf


def module_level_factory(**kwargs):
    return kwargs


def test_save_load_round_trip_plain_values(tmp_path):
    cfg = DictConfig(
        {
            "train": {"iters": 10, "lr": 1e-4, "name": "bert", "flag": True, "none": None},
            "list": [1, 2.5, "x", [3, 4]],
            "ref": "${train.iters}",
            "quoted": "1",
            "missing": "???",
        }
    )
    path = tmp_path / "cfg.yaml"
    LazyConfig.save(cfg, path)
    back = LazyConfig.load(path)
    assert back == cfg
    assert back.quoted == "1" and back.ref == 10
    assert OmegaConf.is_missing(back, "missing")


def test_callables_become_dotted_paths_and_instantiate_the_same(tmp_path):
    cfg = DictConfig(
        {
            "a": LazyCall(SimpleNamespace)(x=1),
            "b": LazyCall(collections.OrderedDict)(y=2),
            "c": LazyCall(module_level_factory)(z=3),
            "act": os.path.join,
        },
        flags={"allow_objects": True},
    )
    path = tmp_path / "cfg.yaml"
    LazyConfig.save(cfg, path)
    back = LazyConfig.load(path)
    assert back.a._target_ == "types.SimpleNamespace"
    assert back.b._target_ == "collections.OrderedDict"
    assert back.c._target_ == f"{__name__}.module_level_factory"
    assert back.act == "posixpath.join" or back.act == "os.path.join" or back.act.endswith("join")
    assert instantiate(back.a) == SimpleNamespace(x=1)
    assert instantiate(back.c) == {"z": 3}


def test_tuples_round_trip_as_lists(tmp_path):
    cfg = LazyCall(SimpleNamespace)(topk=(1, 5), nested={"betas": (0.9, 0.999)})
    assert isinstance(cfg.topk, ListConfig)
    path = tmp_path / "cfg.yaml"
    LazyConfig.save(cfg, path)
    back = LazyConfig.load(path)
    back._target_ = SimpleNamespace
    assert back == cfg
    assert list(back.nested.betas) == [0.9, 0.999]
    assert "!!" not in path.read_text()  # plain YAML that any YAML reader accepts


def test_tuple_in_a_hand_built_dictconfig_is_written_as_list(tmp_path):
    cfg = DictConfig({"topk": (1, 5)})
    LazyConfig.save(cfg, tmp_path / "cfg.yaml")
    assert list(LazyConfig.load(tmp_path / "cfg.yaml").topk) == [1, 5]


def test_path_values_are_written_as_strings(tmp_path):
    cfg = DictConfig({"out": Path("/tmp/run")}, flags={"allow_objects": True})
    LazyConfig.save(cfg, tmp_path / "cfg.yaml")
    assert LazyConfig.load(tmp_path / "cfg.yaml").out == "/tmp/run"


def test_unrepresentable_value_names_key_path_and_type(tmp_path):
    cfg = DictConfig(
        {"model": {"cfg": {"act": object()}}},
        flags={"allow_objects": True},
    )
    path = tmp_path / "cfg.yaml"
    with pytest.raises(ConfigSaveError) as info:
        LazyConfig.save(cfg, path)
    assert info.value.path == "model.cfg.act"
    assert "model.cfg.act" in str(info.value) and "builtins.object" in str(info.value)
    assert not path.exists()


def test_unrepresentable_value_inside_list_names_index(tmp_path):
    cfg = DictConfig({"layers": [1, {"obj": SimpleNamespace()}]}, flags={"allow_objects": True})
    with pytest.raises(ConfigSaveError, match=r"layers\[1\]\.obj"):
        LazyConfig.save(cfg, tmp_path / "cfg.yaml")


def test_lambda_target_is_an_error_not_a_pickle(tmp_path):
    cfg = DictConfig({"model": LazyCall(lambda **kw: kw)(a=1)}, flags={"allow_objects": True})
    with pytest.raises(ConfigSaveError, match=r"model\._target_"):
        LazyConfig.save(cfg, tmp_path / "cfg.yaml")
    assert not list(tmp_path.iterdir())


def test_failed_save_keeps_previous_file(tmp_path):
    path = tmp_path / "cfg.yaml"
    LazyConfig.save(DictConfig({"a": 1}), path)
    bad = DictConfig({"a": object()}, flags={"allow_objects": True})
    with pytest.raises(ConfigSaveError):
        LazyConfig.save(bad, path)
    assert LazyConfig.load(path).a == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cfg.yaml"]


def test_save_plain_dict(tmp_path):
    LazyConfig.save({"a": {"b": [1, 2]}}, tmp_path / "cfg.yaml")
    assert LazyConfig.load(tmp_path / "cfg.yaml").a.b == [1, 2]


def test_registry_reference_written_when_registered(tmp_path):
    # reference_for() of the registry decides; an unregistered callable falls
    # back to its dotted path.
    from libai.config import registry

    cfg = DictConfig({"m": LazyCall(SimpleNamespace)()}, flags={"allow_objects": True})
    LazyConfig.save(cfg, tmp_path / "cfg.yaml")
    written = LazyConfig.load(tmp_path / "cfg.yaml").m._target_
    expected = registry.reference_for(SimpleNamespace) or "types.SimpleNamespace"
    assert written == expected


def test_saved_yaml_is_readable_text(tmp_path):
    cfg = DictConfig({"train": {"iters": 3}, "model": LazyCall(SimpleNamespace)(w=1)})
    LazyConfig.save(cfg, tmp_path / "cfg.yaml")
    text = (tmp_path / "cfg.yaml").read_text()
    assert text == "train:\n  iters: 3\nmodel:\n  _target_: types.SimpleNamespace\n  w: 1\n"
