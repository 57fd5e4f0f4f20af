"""LazyCall nodes and the LazyConfig facade."""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from types import SimpleNamespace

import pytest
from libai.config import LazyCall, LazyConfig, instantiate
from omegaconf import DictConfig


@dataclasses.dataclass
class Point:
    x: int = 0
    y: int = 0


def test_lazycall_returns_dictconfig_with_target_first():
    node = LazyCall(SimpleNamespace)(a=1, b="two")
    assert isinstance(node, DictConfig)
    assert list(node.keys()) == ["_target_", "a", "b"]
    assert node._target_ is SimpleNamespace
    assert node.a == 1 and node.b == "two"


def test_lazycall_allows_objects():
    marker = object()
    node = LazyCall(SimpleNamespace)(obj=marker)
    assert node.obj is marker


def test_lazycall_string_target_stays_a_string():
    node = LazyCall("collections.OrderedDict")(a=1)
    assert node._target_ == "collections.OrderedDict"
    assert instantiate(node) == OrderedDict(a=1)


def test_lazycall_refuses_positional_arguments():
    with pytest.raises(TypeError, match="keyword arguments"):
        LazyCall(SimpleNamespace)(1, 2)


def test_lazycall_refuses_non_callable_target():
    with pytest.raises(TypeError, match="callable or a string"):
        LazyCall(42)


def test_lazycall_dataclass_target_is_named_and_instantiates():
    node = LazyCall(Point)(x=3, y=4)
    assert node._target_ == f"{__name__}.Point"
    assert instantiate(node) == Point(3, 4)


def test_lazycall_local_dataclass_target_instantiates():
    @dataclasses.dataclass
    class Local:
        n: int = 1

    node = LazyCall(Local)(n=5)
    assert instantiate(node) == Local(5)


def test_lazycall_builtin_container_target():
    node = LazyCall(dict)(a=1)
    assert node._target_ == "dict"
    assert instantiate(node) == {"a": 1}


def test_lazycall_nested_nodes_edit_like_data():
    node = LazyCall(SimpleNamespace)(inner=LazyCall(SimpleNamespace)(v=1))
    node.inner.v = 2
    built = instantiate(node)
    assert built.inner.v == 2


def test_lazyconfig_load_rel(write):
    write("cfgs/base.py", "value = dict(a=1)\n")
    main = write(
        "cfgs/main.py",
        """
        from libai.config import LazyConfig
        base = LazyConfig.load_rel("base.py")
        """,
    )
    cfg = LazyConfig.load(main)
    assert cfg.base.value.a == 1


def test_lazyconfig_delegates_overrides_to_py_diff_exist():
    for name in ("apply_overrides", "to_py", "diff", "load", "load_rel", "save"):
        assert callable(getattr(LazyConfig, name))
