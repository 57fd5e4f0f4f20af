"""to_py renders a config as Python; executing that Python rebuilds an equal config."""

from __future__ import annotations

import argparse
import enum
import fractions
import functools
import math
import operator
import string
import textwrap
from types import SimpleNamespace

import pytest
from libai.config import ConfigSaveError, LazyCall, LazyConfig
from libai.config.to_py import to_py
from omegaconf import DictConfig, ListConfig, OmegaConf


class Color(enum.Enum):
    RED = 1


def realistic_config() -> DictConfig:
    """A LiBai-shaped experiment built with stdlib targets (no OneFlow needed)."""
    cfg = OmegaConf.create(flags={"allow_objects": True})
    cfg.model = LazyCall(SimpleNamespace)(
        cfg=dict(
            vocab_size=30522,
            hidden_size=768,
            hidden_layers=24,
            num_attention_heads=16,
            intermediate_size=4096,
            hidden_dropout_prob=0.1,
            layernorm_eps=1e-5,
            initializer_range=0.02,
            bias_gelu_fusion=False,
            apply_query_key_layer_scaling=True,
            add_pooling_layer=None,
        ),
        head=LazyCall("models:bert_head")(num_labels=2, activation=math.tanh),
    )
    cfg.optim = LazyCall("optimizers:AdamW")(
        params=LazyCall(functools.partial)(weight_decay_norm=0.0, weight_decay_bias=0.0),
        lr=1e-4,
        weight_decay=0.01,
        betas=(0.9, 0.999),
        eps=1e-8,
        do_bias_correction=True,
    )
    cfg.scheduler = LazyCall("oneflow.optim.lr_scheduler.CosineAnnealingLR")(
        warmup_factor=0.001, alpha=0.01, warmup_method="linear", max_iter=float("inf")
    )
    cfg.dataloader = dict(
        train=LazyCall(argparse.Namespace)(
            dataset=[
                LazyCall(fractions.Fraction)(numerator=1, denominator=3),
                LazyCall(string.Template)(template='say "hi" to ${name}\'s dog'),
            ],
            num_workers=4,
            collate_fn=operator.itemgetter,
            splits=[[949.0, 50.0, 1.0]],
        ),
        test=[],
    )
    cfg.train = dict(
        output_dir='./output/bert it\'s "quoted"',
        train_iter=10000,
        train_micro_batch_size=16,
        log_period=20,
        amp=dict(enabled=False),
        dist=dict(data_parallel_size=1, tensor_parallel_size=1, pipeline_parallel_size=1),
        evaluation=dict(enabled=True, eval_period=5000, eval_iter=float("-inf")),
        interpolated="${train.train_iter}",
        must_set="???",
        nothing=None,
        unicode="héllo\n\ttab",
        ids=list(range(50)),
        odd_keys={"class": 1, "with-dash": 2, 3: "int key"},
        color=Color.RED,
        builtin=len,
    )
    return cfg


def run(source: str) -> dict:
    namespace: dict = {}
    exec(compile(source, "<to_py>", "exec"), namespace)
    return namespace


def test_realistic_config_round_trips_through_exec():
    cfg = realistic_config()
    source = to_py(cfg)
    rebuilt = run(source)["cfg"]
    assert isinstance(rebuilt, DictConfig)
    assert rebuilt == cfg
    # Values keep their types and raw forms (no interpolation resolved).
    assert rebuilt.model._target_ is SimpleNamespace
    assert rebuilt.model.head._target_ == "models:bert_head"
    assert rebuilt.model.head.activation is math.tanh
    assert rebuilt.dataloader.train.collate_fn is operator.itemgetter
    assert rebuilt.train._get_node("interpolated")._value() == "${train.train_iter}"
    assert OmegaConf.is_missing(rebuilt.train, "must_set")
    assert rebuilt.scheduler.max_iter == math.inf
    assert rebuilt.train.color is Color.RED
    assert rebuilt.optim.betas == (0.9, 0.999)  # a tuple stays a tuple (objects allowed)
    assert isinstance(rebuilt.dataloader.train.splits, ListConfig)


def test_output_reads_like_a_config_file():
    source = to_py(realistic_config())
    lines = source.splitlines()
    assert lines[0] == "from libai.config import LazyCall"
    assert "from omegaconf import OmegaConf" in lines
    for module in ("argparse", "fractions", "functools", "math", "operator", "string", "types"):
        assert f"import {module}" in lines
    assert f"import {__name__}" in lines  # for Color
    assert 'cfg = OmegaConf.create(flags={"allow_objects": True})' in lines
    assert "cfg.model = LazyCall(types.SimpleNamespace)(" in lines
    assert '    head=LazyCall("models:bert_head")(num_labels=2, activation=math.tanh),' in lines
    assert 'cfg.optim = LazyCall("optimizers:AdamW")(' in lines
    assert (
        "    params=LazyCall(functools.partial)(weight_decay_norm=0.0, weight_decay_bias=0.0),"
        in lines
    )
    assert '    max_iter=float("inf"),' in lines
    assert "    amp=dict(enabled=False)," in lines
    # omegaconf 2.4 keeps a tuple as a tuple where objects are allowed; 2.3 makes it a list.
    assert "    betas=(0.9, 0.999)," in lines or "    betas=[0.9, 0.999]," in lines
    assert '    interpolated="${train.train_iter}",' in lines
    assert '    must_set="???",' in lines
    assert "    builtin=len," in lines
    assert f"    color={__name__}.Color.RED," in lines
    assert '    odd_keys={"class": 1, "with-dash": 2, 3: "int key"},' in lines
    # Long calls are wrapped one argument per line; nothing passes the width.
    assert "    cfg=dict(" in lines
    assert "        vocab_size=30522," in lines
    assert max(len(line) for line in lines) <= 100
    # A long list of numbers is packed, not one per line.
    ids_start = lines.index("    ids=[")
    assert lines[ids_start + 1].startswith("        0, 1, 2, 3,")
    assert lines[ids_start + 1 : ids_start + 5].count("    ],") == 1
    # Statements are separated by blank lines; the file ends with a newline.
    assert "\n\ncfg.train = dict(\n" in source
    assert source.endswith(")\n")


def test_short_config_stays_on_one_line():
    cfg = OmegaConf.create({"train": {"train_iter": 10, "lr": 0.5}, "name": "bert"})
    assert to_py(cfg) == textwrap.dedent(
        """\
        from omegaconf import OmegaConf

        cfg = OmegaConf.create(flags={"allow_objects": True})

        cfg.train = dict(train_iter=10, lr=0.5)

        cfg.name = "bert"
        """
    )


def test_width_controls_wrapping():
    cfg = OmegaConf.create({"train": {"train_iter": 10, "lr": 0.5}})
    source = to_py(cfg, width=30)
    assert "cfg.train = dict(\n    train_iter=10,\n    lr=0.5,\n)\n" in source


def test_empty_prefix_writes_a_loadable_config_file(tmp_path):
    cfg = realistic_config()
    del cfg.train["color"]  # an enum of this test module: not importable from a config file
    source = to_py(cfg, prefix="")
    assert "\nmodel = LazyCall(types.SimpleNamespace)(\n" in source
    assert "OmegaConf" not in source
    namespace = run(source)
    for key in cfg:
        assert namespace[key] == cfg[key], key
    path = tmp_path / "experiment.py"
    path.write_text(source, encoding="utf-8")
    loaded = LazyConfig.load(str(path))
    for key in cfg:
        assert loaded[key] == cfg[key], key


def test_root_lazycall():
    node = LazyCall(fractions.Fraction)(numerator=3, denominator=4)
    source = to_py(node)
    assert "cfg = LazyCall(fractions.Fraction)(numerator=3, denominator=4)" in source
    assert run(source)["cfg"] == node


def test_plain_dict_input_and_non_identifier_top_level_key():
    source = to_py({"a-b": 1, "c": [1.5, None]})
    assert 'cfg["a-b"] = 1' in source or "cfg['a-b'] = 1" in source
    assert run(source)["cfg"] == OmegaConf.create({"a-b": 1, "c": [1.5, None]})
    with pytest.raises(ConfigSaveError, match="top-level key 'a-b'"):
        to_py({"a-b": 1}, prefix="")


def test_nan_and_keyword_arguments_that_are_not_identifiers():
    node = DictConfig(
        {"_target_": math.fsum, "class": 1, "x": float("nan")}, flags={"allow_objects": True}
    )
    source = to_py(OmegaConf.create({"n": node}, flags={"allow_objects": True}))
    assert 'LazyCall(math.fsum)(x=float("nan"), **{"class": 1})' in source
    rebuilt = run(source)["cfg"].n
    assert rebuilt["class"] == 1 and math.isnan(rebuilt.x)


def test_private_module_shortened_to_public_reexport():
    cfg = OmegaConf.create({"f": functools.reduce}, flags={"allow_objects": True})
    assert functools.reduce.__module__ == "_functools"
    source = to_py(cfg)
    assert "import functools" in source and "cfg.f = functools.reduce" in source


def test_unwritable_values_name_their_path():
    cfg = OmegaConf.create(flags={"allow_objects": True})
    cfg.train = dict(hooks=[1, object()])
    with pytest.raises(ConfigSaveError) as info:
        to_py(cfg)
    assert "cannot write train.hooks.1 as Python: object" in str(info.value)
    assert info.value.path == "train.hooks.1"

    def local_fn():
        return 1

    cfg = OmegaConf.create({"model": LazyCall(local_fn)(x=1)}, flags={"allow_objects": True})
    with pytest.raises(
        ConfigSaveError,
        match="cannot write model._target_ as Python: .*local_fn cannot be imported back",
    ):
        to_py(cfg)


def test_bad_arguments():
    with pytest.raises(TypeError, match="expects a DictConfig or a mapping"):
        to_py([1, 2])
    with pytest.raises(ValueError, match="prefix must be"):
        to_py({}, prefix="cfg")


def test_lazyconfig_to_py_delegates():
    cfg = OmegaConf.create({"a": 1})
    assert LazyConfig.to_py(cfg) == to_py(cfg)
