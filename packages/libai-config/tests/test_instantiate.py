"""instantiate(): depth-first building, _recursive_, kwargs, errors with paths."""

from __future__ import annotations

import collections
import dataclasses
from types import SimpleNamespace

import pytest
from libai.config import InstantiationError, LazyCall, TargetResolutionError, instantiate
from omegaconf import DictConfig, ListConfig


@dataclasses.dataclass
class Optimizer:
    lr: float
    params: list = dataclasses.field(default_factory=list)


class Scheduler:
    def __init__(self, optimizer, warmup_iter=0):
        if warmup_iter < 0:
            raise ValueError("warmup_iter must be >= 0")
        self.optimizer = optimizer
        self.warmup_iter = warmup_iter


def test_callable_and_string_targets():
    assert instantiate(LazyCall(SimpleNamespace)(a=1)) == SimpleNamespace(a=1)
    assert instantiate(LazyCall("collections.OrderedDict")(a=1)) == collections.OrderedDict(a=1)
    assert instantiate({"_target_": "types.SimpleNamespace", "b": 2}) == SimpleNamespace(b=2)


def test_recursive_through_dicts_and_lists():
    cfg = LazyCall(SimpleNamespace)(
        layers=[LazyCall(SimpleNamespace)(i=0), LazyCall(SimpleNamespace)(i=1), 7],
        extra={"inner": LazyCall(SimpleNamespace)(k="v"), "n": 1},
    )
    built = instantiate(cfg)
    assert [x.i for x in built.layers[:2]] == [0, 1] and built.layers[2] == 7
    assert isinstance(built.layers, list)
    assert built.extra["inner"] == SimpleNamespace(k="v") and built.extra["n"] == 1


def test_data_only_dicts_are_passed_as_dictconfig():
    # LiBai models take `cfg=dict(...)` and check isinstance(cfg, DictConfig).
    built = instantiate(LazyCall(SimpleNamespace)(cfg=dict(hidden=8, sizes=[1, 2])))
    assert isinstance(built.cfg, DictConfig)
    assert built.cfg.hidden == 8 and list(built.cfg.sizes) == [1, 2]


def test_recursive_false_passes_configs():
    cfg = LazyCall(SimpleNamespace)(
        _recursive_=False, child=LazyCall(SimpleNamespace)(a=1), items=[1, 2]
    )
    built = instantiate(cfg)
    assert isinstance(built.child, DictConfig) and built.child._target_ is SimpleNamespace
    assert isinstance(built.items, ListConfig)
    assert instantiate(built.child) == SimpleNamespace(a=1)


def test_recursive_false_as_keyword():
    built = instantiate(LazyCall(SimpleNamespace)(child=LazyCall(dict)(a=1)), _recursive_=False)
    assert isinstance(built.child, DictConfig)


def test_recursive_flag_must_be_bool():
    with pytest.raises(InstantiationError, match="_recursive_"):
        instantiate({"_target_": "types.SimpleNamespace", "_recursive_": "no"})


def test_kwargs_override_and_are_not_instantiated():
    marker = object()
    built = instantiate(LazyCall(Scheduler)(optimizer=None, warmup_iter=1), optimizer=marker)
    assert built.optimizer is marker and built.warmup_iter == 1


def test_interpolations_resolved():
    cfg = DictConfig(
        {
            "train": {"iters": 5},
            "sched": LazyCall(Scheduler)(optimizer=None, warmup_iter="${train.iters}"),
        },
        flags={"allow_objects": True},
    )
    assert instantiate(cfg.sched).warmup_iter == 5


def test_object_values_kept():
    marker = object()
    assert instantiate(LazyCall(SimpleNamespace)(obj=marker)).obj is marker


def test_dataclass_target():
    assert instantiate(LazyCall(Optimizer)(lr=0.1, params=[1])) == Optimizer(0.1, [1])


def test_whole_config_tree():
    cfg = DictConfig(
        {
            "optim": LazyCall(Optimizer)(lr=0.5),
            "train": {"iters": 3},
        },
        flags={"allow_objects": True},
    )
    built = instantiate(cfg)
    assert built["optim"] == Optimizer(0.5)
    assert built["train"].iters == 3


def test_plain_values_and_none_pass_through():
    assert instantiate(None) is None
    assert instantiate(5) == 5
    assert instantiate([1, {"_target_": "dict", "a": 1}]) == [1, {"a": 1}]


def test_failure_names_path_target_and_original():
    cfg = DictConfig(
        {"train": {"scheduler": LazyCall(Scheduler)(optimizer=None, warmup_iter=-1)}},
        flags={"allow_objects": True},
    )
    with pytest.raises(InstantiationError) as info:
        instantiate(cfg.train.scheduler)
    err = info.value
    assert str(err).startswith(
        f"failed to instantiate train.scheduler (target {__name__}.Scheduler): ValueError: "
    )
    assert "warmup_iter must be >= 0" in str(err)
    assert isinstance(err.__cause__, ValueError)
    assert err.path == "train.scheduler"


def test_nested_failure_reported_once_with_innermost_path():
    cfg = DictConfig(
        {"model": LazyCall(SimpleNamespace)(layers=[LazyCall(int)(x=1)])},
        flags={"allow_objects": True},
    )
    with pytest.raises(InstantiationError) as info:
        instantiate(cfg)
    msg = str(info.value)
    assert msg.startswith("failed to instantiate model.layers[0] (target int): TypeError")
    assert msg.count("failed to instantiate") == 1
    assert isinstance(info.value.__cause__, TypeError)


def test_target_that_instantiates_inside_is_not_wrapped_twice():
    def outer(child):
        return instantiate(child)

    cfg = DictConfig(
        {
            "a": LazyCall(outer)(
                _recursive_=False, child=LazyCall(Scheduler)(optimizer=1, warmup_iter=-1)
            )
        },
        flags={"allow_objects": True},
    )
    with pytest.raises(InstantiationError) as info:
        instantiate(cfg.a)
    assert str(info.value).count("failed to instantiate") == 1


def test_unknown_string_target_suggests_nearest():
    with pytest.raises(TargetResolutionError) as info:
        instantiate(DictConfig({"opt": {"_target_": "collections.OrderDict"}}).opt)
    msg = str(info.value)
    assert "opt" in msg and "collections.OrderDict" in msg and "collections.OrderedDict" in msg


def test_non_callable_target():
    with pytest.raises(InstantiationError, match="not a callable"):
        instantiate({"_target_": "math.pi"})


def test_many_nodes():
    cfg = DictConfig(
        {f"n{i}": LazyCall(SimpleNamespace)(i=i, w=[i, i]) for i in range(500)},
        flags={"allow_objects": True},
    )
    built = instantiate(cfg)
    assert len(built) == 500 and built["n499"].i == 499


def test_module_colon_attr_target():
    import json.decoder

    built = instantiate({"_target_": "json.decoder:JSONDecoder", "strict": False})
    assert isinstance(built, json.decoder.JSONDecoder) and built.strict is False


def test_explicit_recursive_keyword_wins_over_node_flag():
    node = LazyCall(SimpleNamespace)(_recursive_=False, child=LazyCall(dict)(a=1))
    assert isinstance(instantiate(node).child, DictConfig)
    assert instantiate(node, _recursive_=True).child == {"a": 1}


def test_path_of_a_list_item_node():
    cfg = DictConfig(
        {"data": {"datasets": [LazyCall(int)(bad=1)]}},
        flags={"allow_objects": True},
    )
    with pytest.raises(InstantiationError) as info:
        instantiate(cfg.data.datasets[0])
    assert info.value.path == "data.datasets[0]"
