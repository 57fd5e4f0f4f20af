"""diff compares two configs over dotted key paths."""

from __future__ import annotations

import json
import math
import operator
from types import SimpleNamespace

import pytest
from libai.config import LazyCall, LazyConfig
from libai.config.diff import ConfigDiff, DottedPath, diff
from omegaconf import DictConfig, OmegaConf


def base() -> DictConfig:
    cfg = OmegaConf.create(flags={"allow_objects": True})
    cfg.model = LazyCall(SimpleNamespace)(x=3, cfg=dict(hidden_size=768, layers=[1, 2, 3]))
    cfg.optim = LazyCall("optimizers:AdamW")(lr=1e-4, betas=[0.9, 0.999])
    cfg.train = dict(train_iter=100, output_dir="./out", ref="${train.train_iter}", amp=None)
    return cfg


def test_equal_configs_have_no_difference():
    d = diff(base(), base())
    assert not d
    assert len(d) == 0
    assert d == ConfigDiff({}, {}, {})
    assert d.format() == ""
    assert d.to_dict() == {"added": {}, "removed": {}, "changed": {}}


def test_added_removed_changed_with_values():
    a, b = base(), base()
    b.train.train_iter = 200
    b.train.new = 1
    del b.model["x"]
    b.optim.lr = 1e-3
    b.model.cfg.layers = [1, 5]
    b.train.extra = {"a": [1, {"b": None}]}
    d = diff(a, b)
    assert d
    assert d.added == {"train.new": 1, "train.extra": {"a": [1, {"b": None}]}}
    assert d.removed == {"model.x": 3, "model.cfg.layers.2": 3}
    assert d.changed == {
        "train.train_iter": (100, 200),
        "optim.lr": (1e-4, 1e-3),
        "model.cfg.layers.1": (2, 5),
    }
    assert len(d) == 7


def test_format_is_sorted_by_path():
    a, b = base(), base()
    b.train.train_iter = 200
    b.train.new = 1
    del b.model["x"]
    b.optim.lr = 0.001
    b.train.output_dir = "./out2"
    assert diff(a, b).format() == "\n".join(
        [
            "- model.x: 3",
            "~ optim.lr: 0.0001 -> 0.001",
            "+ train.new: 1",
            "~ train.output_dir: './out' -> './out2'",
            "~ train.train_iter: 100 -> 200",
        ]
    )
    assert str(diff(a, b)) == diff(a, b).format()


def test_list_indices_sort_numerically():
    a = OmegaConf.create({"xs": list(range(12))})
    b = OmegaConf.create({"xs": [*range(2), 20, *range(3, 10), 100, 110]})
    assert diff(a, b).format().splitlines() == [
        "~ xs.2: 2 -> 20",
        "~ xs.10: 10 -> 100",
        "~ xs.11: 11 -> 110",
    ]


def test_lists_of_different_length():
    d = diff({"xs": [1, 2]}, {"xs": [1, 2, [3], {"a": 4}]})
    assert d.added == {"xs.2": [3], "xs.3": {"a": 4}}
    d = diff({"xs": [1, 2, 3]}, {"xs": [1]})
    assert d.removed == {"xs.1": 2, "xs.2": 3}


def test_type_change_of_a_subtree_is_one_change():
    a = OmegaConf.create({"m": {"a": 1, "b": {"c": 2}}, "n": [1, 2], "o": 5})
    b = OmegaConf.create({"m": {"a": 1, "b": [2]}, "n": {"0": 1}, "o": {"p": 1}})
    d = diff(a, b)
    assert d.changed == {"m.b": ({"c": 2}, [2]), "n": ([1, 2], {"0": 1}), "o": (5, {"p": 1})}
    assert not d.added and not d.removed
    assert "~ m.b: {'c': 2} -> [2]" in d.format()


@pytest.mark.parametrize(
    "old, new",
    [(1, 1.0), (1, True), (0, False), (1, "1"), (None, 0), ("", None), (1.5, "1.5")],
)
def test_scalar_types_matter(old, new):
    d = diff({"v": old}, {"v": new})
    assert d.changed == {"v": (old, new)}


def test_nan_equals_nan_and_none_values():
    assert not diff({"v": float("nan"), "n": None}, {"v": math.nan, "n": None})


def test_interpolations_are_compared_unresolved():
    a, b = base(), base()
    b.train.ref = "${train.output_dir}"
    d = diff(a, b)
    assert d.changed == {"train.ref": ("${train.train_iter}", "${train.output_dir}")}
    # Same text resolving to different values: only the referenced key differs.
    c, e = OmegaConf.create({"x": 1, "r": "${x}"}), OmegaConf.create({"x": 2, "r": "${x}"})
    assert diff(c, e).changed == {"x": (1, 2)}


def test_missing_values():
    a = OmegaConf.create({"v": "???"})
    b = OmegaConf.create({"v": 3})
    assert diff(a, b).changed == {"v": ("???", 3)}


def test_callables_are_compared_by_dotted_path():
    a = OmegaConf.create({"m": LazyCall(operator.itemgetter)(x=1)}, flags={"allow_objects": True})
    as_string = OmegaConf.create({"m": {"_target_": "operator.itemgetter", "x": 1}})
    assert not diff(a, as_string)  # the YAML form of the same config
    other = OmegaConf.create(
        {"m": LazyCall(operator.attrgetter)(x=1)}, flags={"allow_objects": True}
    )
    d = diff(a, other)
    assert d.changed == {"m._target_": ("operator.itemgetter", "operator.attrgetter")}
    old, new = d.changed["m._target_"]
    assert isinstance(old, DottedPath) and isinstance(new, DottedPath)
    assert d.format() == "~ m._target_: operator.itemgetter -> operator.attrgetter"
    d = diff(a, OmegaConf.create({"m": {"_target_": "models:bert", "x": 1}}))
    assert d.format() == "~ m._target_: operator.itemgetter -> 'models:bert'"


def test_to_dict_is_json():
    a, b = base(), base()
    b.model._target_ = operator.itemgetter
    b.train.train_iter = 200
    b.train.new = [1, {"a": None}]
    del b.optim["betas"]
    data = diff(a, b).to_dict()
    assert json.loads(json.dumps(data)) == {
        "added": {"train.new": [1, {"a": None}]},
        "removed": {"optim.betas": [0.9, 0.999]},
        "changed": {
            "model._target_": {"old": "types.SimpleNamespace", "new": "operator.itemgetter"},
            "train.train_iter": {"old": 100, "new": 200},
        },
    }


def test_plain_dicts_and_roots():
    assert diff({"a": 1}, {"a": 2}).changed == {"a": (1, 2)}
    d = diff({"a": 1}, [1])
    assert d.changed == {"": ({"a": 1}, [1])}
    assert d.format() == "~ <root>: {'a': 1} -> [1]"


def test_unequal_objects_compare_by_value():
    class Weird:
        def __eq__(self, other):
            raise ValueError("ambiguous")

    with pytest.raises(TypeError, match="cannot compare the values of Weird objects: ambiguous"):
        diff({"w": Weird()}, {"w": Weird()})


def test_lazyconfig_diff_delegates():
    a, b = base(), base()
    b.train.train_iter = 5
    assert LazyConfig.diff(a, b).changed == {"train.train_iter": (100, 5)}


def test_diff_after_overrides_and_yaml_round_trip(tmp_path):
    from libai.config.overrides import apply_overrides

    a = base()
    b = apply_overrides(base(), ["train.train_iter=300", "+train.seed=1", "~model.x"])
    assert diff(a, b).format().splitlines() == [
        "- model.x: 3",
        "+ train.seed: 1",
        "~ train.train_iter: 100 -> 300",
    ]
    path = tmp_path / "config.yaml"
    LazyConfig.save(b, str(path))
    reloaded = LazyConfig.load(str(path))
    assert not diff(b, reloaded), diff(b, reloaded).format()
