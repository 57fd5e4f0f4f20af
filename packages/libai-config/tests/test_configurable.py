"""@configurable and try_get_key, as LiBai's models and engine use them."""

from __future__ import annotations

import pytest
from libai.config import LazyCall, configurable, instantiate, try_get_key
from omegaconf import DictConfig


class Model:
    @configurable
    def __init__(self, hidden_size, num_layers=2, dropout=0.1):
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.dropout = dropout

    @classmethod
    def from_config(cls, cfg):
        return {"hidden_size": cfg.hidden_size, "num_layers": cfg.num_layers}


def test_explicit_arguments():
    m = Model(hidden_size=8, num_layers=3)
    assert (m.hidden_size, m.num_layers, m.dropout) == (8, 3, 0.1)
    assert Model(4).hidden_size == 4


def test_cfg_keyword_and_positional():
    cfg = DictConfig({"hidden_size": 16, "num_layers": 4})
    for m in (Model(cfg=cfg), Model(cfg)):
        assert (m.hidden_size, m.num_layers) == (16, 4)


def test_cfg_plus_overrides():
    m = Model(cfg=DictConfig({"hidden_size": 16, "num_layers": 4}), num_layers=6, dropout=0.0)
    assert (m.hidden_size, m.num_layers, m.dropout) == (16, 6, 0.0)


def test_lazycall_with_cfg_dict_goes_through_from_config():
    m = instantiate(LazyCall(Model)(cfg=dict(hidden_size=32, num_layers=1)))
    assert (m.hidden_size, m.num_layers) == (32, 1)


def test_function_with_from_config():
    @configurable(from_config=lambda cfg: {"a": cfg.A, "b": cfg.B})
    def f(a, b=2, c=3):
        return a, b, c

    assert f(1) == (1, 2, 3)
    assert f(DictConfig({"A": 10, "B": 20})) == (10, 20, 3)
    assert f(cfg=DictConfig({"A": 10, "B": 20}), c=30) == (10, 20, 30)
    assert callable(f.from_config)


def test_configurable_with_empty_parentheses():
    class A:
        @configurable()
        def __init__(self, x=1):
            self.x = x

        @classmethod
        def from_config(cls, cfg):
            return {"x": cfg.x}

    assert A(DictConfig({"x": 5})).x == 5


def test_misuse_raises_type_error():
    with pytest.raises(TypeError, match="__init__"):

        @configurable
        def not_init(a):
            return a

    with pytest.raises(TypeError, match="function"):
        configurable(from_config=42)


def test_missing_from_config():
    class NoFrom:
        @configurable
        def __init__(self, a=1):
            self.a = a

    with pytest.raises(AttributeError, match="from_config"):
        NoFrom(DictConfig({"a": 1}))


def test_from_config_must_take_cfg_first():
    class Bad:
        @configurable
        def __init__(self, a=1):
            self.a = a

        @classmethod
        def from_config(cls, config):
            return {"a": 1}

    with pytest.raises(TypeError, match="'cfg'"):
        Bad(DictConfig({}))


def test_try_get_key():
    cfg = DictConfig({"train": {"amp": {"enabled": True}, "none": None}, "a": 0})
    assert try_get_key(cfg, "train.amp.enabled") is True
    assert try_get_key(cfg, "train.fp16", "train.amp.enabled") is True
    assert try_get_key(cfg, "missing", "also.missing", default=7) == 7
    assert try_get_key(cfg, "a", default=9) == 0
    assert try_get_key(cfg, "train.none", default=5) is None
