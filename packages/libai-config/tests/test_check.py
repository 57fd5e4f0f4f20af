"""Resolve before run: every problem of a config, each with its path."""

from __future__ import annotations

from pathlib import Path

import pytest
from _libai_registry_site import SiteOnPath, add_distribution
from libai.config import LazyCall, LazyConfig, configurable
from libai.config.check import ConfigCheckError, check_config, iter_calls, validate
from libai.config.engine_args import engine_supplied
from omegaconf import DictConfig


@engine_supplied("optimizer")
class WarmupCosineLR:
    def __init__(self, optimizer, max_iter, warmup_iter=0, warmup_factor=0.001):
        self.optimizer = optimizer


def get_params(model, weight_decay=0.01):
    return []


get_params = engine_supplied("model")(get_params)


def takes_anything(a, **kwargs):
    return a, kwargs


class Model:
    @configurable
    def __init__(self, hidden_size, num_layers=2):
        self.hidden_size = hidden_size
        self.num_layers = num_layers

    @classmethod
    def from_config(cls, cfg):
        return {"hidden_size": cfg.hidden_size, "num_layers": cfg.num_layers}


NOT_CALLABLE = 3


def messages(cfg) -> list[str]:
    return [str(p) for p in check_config(cfg)]


def test_a_good_config_has_no_problems() -> None:
    cfg = DictConfig(
        {
            "optim": LazyCall("collections.OrderedDict")(),
            "sched": LazyCall(WarmupCosineLR)(max_iter=10, warmup_iter=2),
            "params": LazyCall(get_params)(weight_decay=0.1),
            "any": LazyCall(takes_anything)(a=1, whatever=2, more=[1, 2]),
            "model_cfg": LazyCall(Model)(cfg=DictConfig({"hidden_size": 4, "num_layers": 1})),
            "model_kw": LazyCall(Model)(hidden_size=4),
            "plain": {"x": [1, 2, {"y": 3}]},
        },
        flags={"allow_objects": True},
    )
    assert check_config(cfg) == []
    validate(cfg)
    assert [path for path, _ in iter_calls(cfg)] == [
        "optim",
        "sched",
        "params",
        "any",
        "model_cfg",
        "model_kw",
    ]


def test_every_problem_at_once_with_paths_and_nearest_names() -> None:
    here = __name__
    cfg = DictConfig(
        {
            "optim": {
                "lr_sched": LazyCall(WarmupCosineLR)(max_iter=10, warmup_iters=5),
                "params": LazyCall(get_params)(weight_decy=0.1),
            },
            "model": LazyCall(Model)(hidden_sise=4),
            "loaders": [
                LazyCall(f"{here}.NOT_CALLABLE")(),
                {"inner": LazyCall("json.dumsp")(obj=1)},
            ],
            "gone": LazyCall("no_such_module_xyz.Thing")(),
        },
        flags={"allow_objects": True},
    )
    found = messages(cfg)
    assert found == [
        "optim.lr_sched: unknown argument 'warmup_iters' for "
        f"{here}.WarmupCosineLR; did you mean warmup_iter?",
        f"optim.params: unknown argument 'weight_decy' for {here}.get_params; "
        "did you mean weight_decay?",
        f"model: unknown argument 'hidden_sise' for {here}.Model; did you mean hidden_size?",
        f"model: missing required argument 'hidden_size' for {here}.Model; set model.hidden_size",
        f"loaders[0]: target {here}.NOT_CALLABLE is not callable (it is a int); "
        "_target_ must name a class or function",
        "loaders[1].inner: target 'json.dumsp': cannot locate 'json.dumsp': 'json' has no "
        "attribute 'dumsp'; did you mean 'json.dump', 'json.dumps'?",
        "gone: target 'no_such_module_xyz.Thing': cannot locate 'no_such_module_xyz.Thing': "
        "no module named 'no_such_module_xyz'",
    ]
    with pytest.raises(ConfigCheckError) as info:
        validate(cfg)
    assert len(info.value.problems) == 7
    assert str(info.value).startswith("config check found 7 problems:\n  - optim.lr_sched:")


def test_missing_required_argument_unless_engine_supplied() -> None:
    cfg = DictConfig({"sched": LazyCall(WarmupCosineLR)()}, flags={"allow_objects": True})
    assert messages(cfg) == [
        f"sched: missing required argument 'max_iter' for {__name__}.WarmupCosineLR; "
        "set sched.max_iter"
    ]


def test_configurable_with_cfg_checks_from_config_and_init_arguments() -> None:
    sub = DictConfig({"hidden_size": 4, "num_layers": 1})
    ok = DictConfig({"m": LazyCall(Model)(cfg=sub, num_layers=3)}, flags={"allow_objects": True})
    assert check_config(ok) == []
    bad = DictConfig({"m": LazyCall(Model)(cfg=sub, num_layer=3)}, flags={"allow_objects": True})
    assert messages(bad) == [
        f"m: unknown argument 'num_layer' for {__name__}.Model; did you mean num_layers?"
    ]


def test_recursive_false_stops_the_walk_and_missing_values_are_reported() -> None:
    cfg = DictConfig(
        {
            "outer": LazyCall(takes_anything)(a=LazyCall("json.nope")(), _recursive_=False),
            "sched": LazyCall(WarmupCosineLR)(max_iter="???"),
        },
        flags={"allow_objects": True},
    )
    assert messages(cfg) == [
        "sched.max_iter: value is missing ('???'); set it, e.g. `sched.max_iter=...` as an override"
    ]


def test_the_colon_import_spelling_resolves() -> None:
    cfg = DictConfig(
        {
            "a": LazyCall("os.path:join")(a="x"),
            "b": LazyCall("os.path:jion")(),
            "c": LazyCall("json:dumps")(obj=1),
        }
    )
    found = messages(cfg)
    assert found[0] == (
        "b: target 'os.path:jion': cannot locate 'os.path:jion': 'os.path' has no attribute "
        "'jion'; did you mean 'os.path.join'?"
    )
    # "<identifier>:<name>" is a registry reference; the error says how to write an import path.
    assert found[1].startswith("c: target 'json:dumps': unknown registry group 'json'")
    assert found[1].endswith("For an import path, write 'json.dumps'")
    assert len(found) == 2


def test_registry_references_in_a_loaded_config(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    add_distribution(
        site,
        "acme-models",
        "1.0",
        {
            "libai.models": {"acme_bert": "acme_bert:Bert", "acme_broken": "acme_broken:X"},
            "libai.schedulers": {"acme_cosine": f"{__name__}:WarmupCosineLR"},
        },
        {
            "acme_bert.py": "class Bert:\n    def __init__(self, hidden_size=8):\n        pass\n",
            "acme_broken.py": "import not_installed_dep_xyz\n",
        },
    )
    config = tmp_path / "exp.py"
    config.write_text(
        "from libai.config import LazyCall\n"
        "model = LazyCall('models:acme_bert')(hidden_sizes=4)\n"
        "other = LazyCall('models:acme_bret')()\n"
        "broken = LazyCall('models:acme_broken')()\n"
        "sched = LazyCall('schedulers:acme_cosine')(max_iter=3)\n",
        encoding="utf-8",
    )
    with SiteOnPath(site):
        cfg = LazyConfig.load(str(config))
        found = messages(cfg)
    assert found[0] == (
        "model: unknown argument 'hidden_sizes' for acme_bert.Bert; did you mean hidden_size?"
    )
    assert found[1].startswith(
        "other: target 'models:acme_bret': unknown name 'acme_bret' in registry group 'models'; "
        "did you mean models:acme_bert"
    )
    assert found[2].startswith(
        "broken: target 'models:acme_broken': models:acme_broken: cannot load it"
    )
    assert "acme-models 1.0" in found[2] and "not_installed_dep_xyz" in found[2]
    assert len(found) == 3  # schedulers:acme_cosine resolves, its optimizer is engine supplied
