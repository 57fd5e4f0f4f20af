"""What a LiBai user's configs, command lines and code rely on (issue: LiBai users' configs work).

Each test builds or loads real configs and asserts the values that reach the
targets, the exact errors, or the exact origins ``show --provenance`` reports.
"""

from __future__ import annotations

import collections
import collections.abc
import json
import textwrap
from pathlib import Path
from typing import Optional

import pytest
from libai.config import LazyCall, LazyConfig, TargetError, instantiate, reads_cfg
from libai.config.check import check_config
from libai.config.cli import main as cli_main
from libai.config.errors import TargetResolutionError
from libai.config.overrides import OverrideError, UnknownKeyError
from libai.config.provenance import config_provenance
from libai.config.registry import RegistryError
from libai.config.targets import resolve_target
from omegaconf import DictConfig, OmegaConf

Point = collections.namedtuple("Point", "x y")


def build_loader(dataset, test_batch_size: int, num_workers: int = 4, seed: int = 0):
    """A LiBai-style loader builder: the config spells out only some of its arguments."""
    return {"dataset": dataset, "batch": test_batch_size, "num_workers": num_workers, "seed": seed}


def swallow(**kwargs):
    return kwargs


def keep(value):
    return value


def scale(factor: float = 1.0):
    return lambda x: x * factor


def adamw(params=None, lr: float = 1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
    return {"lr": lr}


def typed(count: int = 1, rate: Optional[float] = None, flag: bool = False, name: str = "x"):
    return (count, rate, flag, name)


@reads_cfg(aliases={"num_layers": "hidden_layers"}, extra=("pretrained_model_path",))
class TinyModel:
    def __init__(self, cfg=None, hidden_layers: int = 6, hidden_size: int = 8) -> None:
        self.hidden_layers = hidden_layers


@reads_cfg(also=(TinyModel,))
class TinyForPreTraining:
    def __init__(self, cfg) -> None:
        self.cfg = cfg


HERE = __name__


def loader_config() -> DictConfig:
    return OmegaConf.create(
        {"dataloader": {"test": [LazyCall(build_loader)(dataset=[1, 2], test_batch_size=2)]}},
        flags={"allow_objects": True},
    )


# ------------------------------------------------------------------ 1. unset arguments


def test_an_argument_the_config_leaves_to_the_target_can_be_overridden() -> None:
    cfg = loader_config()
    LazyConfig.apply_overrides(cfg, ["dataloader.test.0.num_workers=0"])
    built = instantiate(cfg.dataloader.test[0])
    assert built == {"dataset": [1, 2], "batch": 2, "num_workers": 0, "seed": 0}


def test_a_misspelt_argument_is_a_keyerror_with_the_signatures_nearest_name() -> None:
    cfg = loader_config()
    with pytest.raises(UnknownKeyError) as info:
        LazyConfig.apply_overrides(cfg, ["dataloader.test.0.num_worker=0"])
    assert isinstance(info.value, KeyError) and isinstance(info.value, OverrideError)
    assert info.value.key == "dataloader.test.0.num_worker"
    assert "accepts dataloader.test.0.num_workers" in str(info.value)
    assert "num_worker" not in cfg.dataloader.test[0]


def test_a_name_only_kwargs_would_swallow_still_needs_plus() -> None:
    cfg = OmegaConf.create({"f": LazyCall(swallow)(a=1)}, flags={"allow_objects": True})
    with pytest.raises(KeyError, match=r"\(to add it, write \+f.b=2\)"):
        LazyConfig.apply_overrides(cfg, ["f.b=2"])
    LazyConfig.apply_overrides(cfg, ["+f.b=2"])
    assert instantiate(cfg.f) == {"a": 1, "b": 2}


def test_targets_are_resolved_only_for_a_key_that_is_absent() -> None:
    """Overrides of keys the config has never import the target (OneFlow stays unimported)."""
    cfg = OmegaConf.create({"m": LazyCall("no_such_pkg_xyz.Model")(width=1)})
    LazyConfig.apply_overrides(cfg, ["m.width=4"])  # no resolution: it would fail
    assert cfg.m.width == 4
    with pytest.raises(UnknownKeyError, match="cannot be resolved to read its signature"):
        LazyConfig.apply_overrides(cfg, ["m.depth=2"])


def test_an_unknown_key_anywhere_is_a_keyerror() -> None:
    cfg = OmegaConf.create({"train": {"train_iter": 10}})
    with pytest.raises(KeyError, match="did you mean train.train_iter"):
        LazyConfig.apply_overrides(cfg, ["train.train_itr=5"])


def test_an_engine_setting_missing_from_a_users_own_train_py_can_be_set() -> None:
    """A LiBai user's copy of common/train.py may lack a setting the engine reads."""
    cfg = OmegaConf.create({"train": {"dist": {"data_parallel_size": 1}}})
    LazyConfig.apply_overrides(cfg, ["train.dist.device_type=cpu", "train.rdma_enabled=true"])
    assert cfg.train.dist.device_type == "cpu" and cfg.train.rdma_enabled is True
    with pytest.raises(KeyError):
        LazyConfig.apply_overrides(cfg, ["train.dist.device_typ=cpu"])


# ------------------------------------------------------------------ 3. LiBai's config API


def test_a_lazycall_whose_target_is_a_lazycall_builds_the_target_first() -> None:
    node = LazyCall(LazyCall(scale)(factor=3.0))(x=2)
    assert node._target_._target_ is scale
    assert instantiate(node) == 6.0


def test_a_namedtuple_argument_reaches_the_target_as_that_namedtuple() -> None:
    built = instantiate(LazyCall(keep)(value=Point(1, 2)))
    assert type(built) is Point and built == Point(1, 2)
    # Plain tuples are still stored as lists, as LiBai's configs did.
    assert isinstance(LazyCall(keep)(value=(1, 2)).value, type(OmegaConf.create([])))


def test_a_namedtuple_in_a_config_file_stays_a_namedtuple(tmp_path: Path) -> None:
    path = tmp_path / "cfg.py"
    path.write_text(
        textwrap.dedent(
            f"""
            from libai.config import LazyCall
            from {HERE} import Point, keep

            node = LazyCall(keep)(value=Point(3, 4))
            plain = dict(p=Point(5, 6))
            """
        ),
        encoding="utf-8",
    )
    cfg = LazyConfig.load(path)
    assert type(instantiate(cfg.node)) is Point
    assert type(cfg.plain.p) is Point and cfg.plain.p.y == 6


# ------------------------------------------------------------------ 4. one resolver


def test_one_resolver_one_error_type() -> None:
    assert issubclass(TargetError, LookupError) and issubclass(TargetError, ImportError)
    assert issubclass(RegistryError, TargetError)
    assert issubclass(TargetResolutionError, TargetError)
    assert resolve_target("collections.OrderedDict") is collections.OrderedDict
    assert resolve_target("collections.abc:Mapping") is collections.abc.Mapping
    for bad in ("collections.OrderDict", "no_such_pkg_xyz.Thing", "modelz:bert"):
        with pytest.raises(TargetError):
            resolve_target(bad)
    with pytest.raises(TargetResolutionError) as info:
        instantiate(LazyCall("collections.OrderDict")())
    assert "did you mean 'collections.OrderedDict'" in str(info.value)
    problems = check_config(OmegaConf.create({"a": LazyCall("collections.OrderDict")()}))
    assert [p.kind for p in problems] == ["unresolved"]


def test_a_module_that_fails_on_import_is_chained(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "boom_mod_xyz.py").write_text("raise RuntimeError('boom')\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(TargetError) as info:
        resolve_target("boom_mod_xyz.Thing")
    assert isinstance(info.value.__cause__, RuntimeError)
    assert "importing boom_mod_xyz raised RuntimeError: boom" in str(info.value)


# ------------------------------------------------------------------ 5. one diff


def test_cli_diff_is_lazyconfig_diff(tmp_path: Path, capsys) -> None:
    a = tmp_path / "a.py"
    b = tmp_path / "b.py"
    a.write_text("optim = dict(lr=1, betas=[0.9, 0.999])\n", encoding="utf-8")
    b.write_text("optim = dict(lr=1.0, betas=[0.9, 0.98])\n", encoding="utf-8")
    expected = LazyConfig.diff(LazyConfig.load(a), LazyConfig.load(b))
    assert expected.changed == {"optim.lr": (1, 1.0), "optim.betas.1": (0.999, 0.98)}
    assert cli_main(["diff", str(a), str(b), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["key"], r["a"], r["b"]) for r in rows] == [
        ("optim.betas.1", 0.999, 0.98),
        ("optim.lr", 1, 1.0),
    ]
    assert cli_main(["diff", str(a), str(b)]) == 0
    table = capsys.readouterr().out
    assert "optim.lr" in table and "1.0" in table


# ------------------------------------------------------------------ 8. cfg keys and values


def test_a_misspelt_cfg_key_is_reported_with_the_nearest_declared_names() -> None:
    cfg = OmegaConf.create(
        {"model": LazyCall(TinyForPreTraining)(cfg=dict(hiden_layers=2, num_layers=2))},
        flags={"allow_objects": True},
    )
    problems = check_config(cfg)
    assert [(p.path, p.kind) for p in problems] == [("model.cfg.hiden_layers", "unknown-cfg-key")]
    assert "did you mean hidden_layers?" in problems[0].message


def test_a_mistyped_value_is_reported_with_its_path() -> None:
    cfg = OmegaConf.create(
        {
            "optim": LazyCall(adamw)(lr=1),  # an int for a float is fine
            "a": LazyCall(typed)(count=2.5, rate=None, flag=True, name="y"),
            "b": LazyCall(typed)(count=3.0, rate="${optim.lr}", flag=1),
        },
        flags={"allow_objects": True},
    )
    assert [str(p) for p in check_config(cfg)] == ["a.count: expected int, got 2.5"]
    LazyConfig.apply_overrides(cfg, ["optim.lr=abc"])
    assert [str(p) for p in check_config(cfg)][0] == "optim.lr: expected float, got 'abc'"


# ------------------------------------------------------------------ 7. provenance


def write_tree(root: Path) -> Path:
    files = {
        "common/train.py": """
            train = dict(
                train_iter=10,
                dist=dict(
                    data_parallel_size=1,
                ),
            )
        """,
        "common/models/net.py": """
            from libai.config import LazyCall

            cfg = dict(hidden_layers=6, hidden_size=8)
            model = LazyCall("collections.OrderedDict")(cfg=cfg)
        """,
        "exp.py": """
            from .common.train import train
            from .common.models.net import model

            train.train_iter = 100
            model.cfg.update(
                hidden_layers=2,
            )
            loaders = [dict(num_workers=4)]
            for loader in loaders:
                loader["seed"] = 1
        """,
    }
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root / "exp.py"


def test_provenance_names_the_file_and_line_of_every_key(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    exp = write_tree(tmp_path)
    overrides = ["train.dist.data_parallel_size=2"]
    cfg = LazyConfig.apply_overrides(LazyConfig.load(exp), overrides)
    rows = {row.key: (row.value, str(row.origin)) for row in config_provenance(cfg, exp, overrides)}
    assert rows == {
        "train.train_iter": (100, "exp.py:4"),
        "train.dist.data_parallel_size": (2, "command line: train.dist.data_parallel_size=2"),
        "model._target_": ("collections.OrderedDict", "common/models/net.py:4"),
        "model.cfg.hidden_layers": (2, "exp.py:6"),
        "model.cfg.hidden_size": (8, "common/models/net.py:3"),
        "loaders.0.num_workers": (4, "exp.py:8"),
        "loaders.0.seed": (1, "exp.py:10"),
        "loader.num_workers": (4, "exp.py:8"),
        "loader.seed": (1, "exp.py:10"),
    }


def test_show_provenance_json_and_defaults(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "cfg.py"
    path.write_text(
        f"from libai.config import LazyCall\nfrom {HERE} import build_loader\n"
        "loader = LazyCall(build_loader)(dataset=[1], test_batch_size=2)\n",
        encoding="utf-8",
    )
    code = cli_main(
        ["show", str(path), "loader.num_workers=0", "--provenance", "--defaults", "--json"]
    )
    assert code == 0
    rows = {
        r["key"]: (r["value"], r["kind"], r["where"]) for r in json.loads(capsys.readouterr().out)
    }
    assert rows["loader.test_batch_size"] == (2, "file", "cfg.py:3")
    assert rows["loader.num_workers"] == (0, "override", "loader.num_workers=0")
    assert rows["loader.seed"] == (0, "default", f"{HERE}.build_loader")
    assert cli_main(["show", str(path), "--provenance"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split() for line in lines] == [
        ["loader._target_", f"'{HERE}.build_loader'", "#", "cfg.py:3"],
        ["loader.dataset.0", "1", "#", "cfg.py:3"],
        ["loader.test_batch_size", "2", "#", "cfg.py:3"],
    ]


def test_read_only_commands_do_not_import_the_targets(tmp_path: Path) -> None:
    """``show --provenance`` and overrides of existing keys import no target (no OneFlow)."""
    import subprocess
    import sys

    path = tmp_path / "cfg.py"
    path.write_text(
        "from libai.config import LazyCall\n"
        "optim = LazyCall('oneflow.optim.AdamW')(lr=1e-4)\n"
        "model = LazyCall('models:bert')(cfg=dict(hidden_layers=2))\n",
        encoding="utf-8",
    )
    code = (
        "import sys\n"
        "from libai.config.cli import main\n"
        f"for extra in ([], ['--provenance'], ['--json']):\n"
        f"    assert main(['show', {str(path)!r}, 'optim.lr=0.1', *extra]) == 0\n"
        "print('IMPORTED', sorted(m for m in ('oneflow', 'libai.models') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "IMPORTED []"
    assert ["optim.lr", "0.1", "#", "command", "line:", "optim.lr=0.1"] in [
        line.split() for line in result.stdout.splitlines()
    ]
