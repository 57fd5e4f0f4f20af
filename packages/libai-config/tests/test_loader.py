"""LazyConfig.load of Python and YAML config files."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from libai.config import (
    ConfigImportError,
    ConfigLoadError,
    ConfigNameError,
    ConfigSyntaxError,
    LazyConfig,
)
from libai.config.errors import ConfigKeyError, ConfigValueError
from omegaconf import DictConfig, ListConfig


def test_load_returns_public_config_objects(write):
    path = write(
        "exp.py",
        """
        import math
        from types import SimpleNamespace
        from libai.config import LazyCall

        model = LazyCall(SimpleNamespace)(width=8)
        train = dict(iters=10, sizes=[1, 2])
        layers = [1, 2, 3]
        lr = 0.1
        name = "bert"
        _hidden = dict(a=1)

        def build_width():
            return 1

        class Local:
            pass
        """,
    )
    cfg = LazyConfig.load(path)
    assert isinstance(cfg, DictConfig)
    assert sorted(cfg.keys()) == ["layers", "lr", "model", "name", "train"]
    assert isinstance(cfg.train, DictConfig) and cfg.train.iters == 10
    assert isinstance(cfg.layers, ListConfig) and list(cfg.layers) == [1, 2, 3]
    assert cfg.lr == 0.1 and cfg.name == "bert"


def test_load_keys_string_and_tuple(write):
    path = write("exp.py", "a = dict(x=1)\nb = dict(y=2)\nc = 3\n")
    a = LazyConfig.load(path, "a")
    assert isinstance(a, DictConfig) and a.x == 1
    a2, c = LazyConfig.load(path, ("a", "c"))
    assert a2.x == 1 and c == 3


def test_load_unknown_key_names_nearest(write):
    path = write("exp.py", "train = dict(x=1)\n")
    with pytest.raises(ConfigKeyError, match="did you mean 'train'"):
        LazyConfig.load(path, "trian")


def test_imported_dicts_become_dictconfig(write):
    write("common/train.py", "train = dict(iters=5)\n")
    path = write(
        "exp.py",
        """
        from .common.train import train
        is_config = type(train).__name__
        train.iters = 7
        """,
    )
    cfg = LazyConfig.load(path)
    assert cfg.is_config == "DictConfig"
    assert cfg.train.iters == 7


def test_relative_imports_at_any_depth_without_init(write, tmp_path):
    write("configs/common/models/bert.py", "model = dict(layers=12)\n")
    write("configs/common/train.py", "train = dict(iters=100)\n")
    write(
        "configs/projects/nlp/bert/pretrain.py",
        """
        from ....common.models.bert import model
        from ....common.train import train
        from .local import extra
        model.layers = 24
        """,
    )
    write("configs/projects/nlp/bert/local.py", "extra = dict(flag=True)\n")
    cfg = LazyConfig.load(tmp_path / "configs/projects/nlp/bert/pretrain.py")
    assert cfg.model.layers == 24 and cfg.train.iters == 100 and cfg.extra.flag is True
    assert not list(tmp_path.rglob("__init__.py"))


def test_from_dot_import_module_and_star(write):
    write("cfgs/common/train.py", "train = dict(iters=1)\n")
    write("cfgs/common/optim.py", "optim = dict(lr=0.5)\n")
    path = write(
        "cfgs/exp.py",
        """
        from .common import train as train_module
        from .common.optim import *
        iters = train_module.train.iters
        """,
    )
    cfg = LazyConfig.load(path)
    assert cfg.iters == 1 and cfg.optim.lr == 0.5


def test_each_load_reexecutes_and_edits_do_not_leak(write):
    write("common/train.py", "train = dict(iters=100, tags=['a'])\n")
    path = write("exp.py", "from .common.train import train\n")
    first = LazyConfig.load(path)
    first.train.iters = 1
    first.train.tags.append("b")
    second = LazyConfig.load(path)
    assert second.train.iters == 100
    assert list(second.train.tags) == ["a"]
    assert not any("_cfg" in name and "train" in name for name in sys.modules)


def test_load_sees_file_edits_between_loads(write):
    path = write("exp.py", "x = 1\n")
    assert LazyConfig.load(path).x == 1
    path.write_text("x = 22\n")  # new size, so even an equal mtime is detected
    assert LazyConfig.load(path).x == 22


def test_load_does_not_patch_global_import(write):
    import builtins

    before = builtins.__import__
    write("common/a.py", "a = dict(v=1)\n")
    path = write("exp.py", "from .common.a import a\n")
    LazyConfig.load(path)
    assert builtins.__import__ is before


def test_absolute_imports_still_work(write):
    path = write(
        "exp.py", "import json\nfrom collections import OrderedDict\nx = json.dumps([1])\n"
    )
    assert LazyConfig.load(path).x == "[1]"


def test_syntax_error_names_file_and_line(write):
    path = write("bad.py", "a = 1\nb = (\n")
    with pytest.raises(ConfigSyntaxError) as info:
        LazyConfig.load(path)
    err = info.value
    assert isinstance(err, SyntaxError) and isinstance(err, ConfigLoadError)
    assert str(path) in str(err) and err.filename == str(path)
    assert err.lineno == 2
    assert isinstance(err.__cause__, SyntaxError)


def test_name_error_names_file_and_line(write):
    path = write("bad.py", "a = 1\n\nb = undefined_thing + 1\n")
    with pytest.raises(ConfigNameError) as info:
        LazyConfig.load(path)
    assert isinstance(info.value, NameError)
    assert f"{path}:3" in str(info.value)
    assert "undefined_thing" in str(info.value)
    assert isinstance(info.value.__cause__, NameError)


def test_missing_relative_import_names_importer_line_and_path(write, tmp_path):
    path = write("exp.py", "x = 1\nfrom .common.trian import train\n")
    write("common/train.py", "train = dict()\n")
    with pytest.raises(ConfigImportError) as info:
        LazyConfig.load(path)
    msg = str(info.value)
    assert isinstance(info.value, ImportError)
    assert f"{path}:2" in msg
    assert str(tmp_path / "common" / "trian.py") in msg
    assert "train.py" in msg  # the nearby file is suggested


def test_missing_name_in_relative_import(write):
    write("common/train.py", "train = dict()\n")
    path = write("exp.py", "from .common.train import trian\n")
    with pytest.raises(ConfigImportError, match="did you mean 'train'"):
        LazyConfig.load(path)


def test_error_in_imported_file_names_that_file_and_the_chain(write, tmp_path):
    inner = write("common/train.py", "a = 1\nb = 1 / 0\n")
    outer = write("exp.py", "x = 0\nfrom .common.train import a\n")
    with pytest.raises(ConfigLoadError) as info:
        LazyConfig.load(outer)
    err = info.value
    assert err.location == f"{inner}:2"
    assert "ZeroDivisionError" in str(err)
    assert f"imported from {outer}:2" in str(err)
    assert isinstance(err.__cause__, ZeroDivisionError)


def test_traceback_points_at_config_file(write):
    path = write("bad.py", "x = 1\ny = {}['missing']\n")
    with pytest.raises(ConfigLoadError) as info:
        LazyConfig.load(path)
    frames = []
    tb = info.value.__cause__.__traceback__
    while tb is not None:
        frames.append((tb.tb_frame.f_code.co_filename, tb.tb_lineno))
        tb = tb.tb_next
    assert (str(path), 2) in frames


def test_missing_file_and_bad_extension(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.py"):
        LazyConfig.load(tmp_path / "nope.py")
    other = tmp_path / "cfg.json"
    other.write_text("{}")
    with pytest.raises(ValueError, match=".json"):
        LazyConfig.load(other)


# -- YAML -----------------------------------------------------------------


def test_load_yaml_and_yml(write):
    path = write(
        "cfg.yaml",
        """
        model:
          _target_: types.SimpleNamespace
          width: 8
        train:
          iters: 10
          ref: ${train.iters}
        """,
    )
    cfg = LazyConfig.load(path)
    assert cfg.model._target_ == "types.SimpleNamespace"
    assert cfg.train.ref == 10
    yml = write("cfg.yml", "a: 1\n")
    assert LazyConfig.load(yml).a == 1
    assert LazyConfig.load(path, "train").iters == 10


def test_yaml_with_python_tag_fails_and_runs_nothing(write, tmp_path):
    marker = tmp_path / "pwned"
    path = write(
        "evil.yaml",
        f"""
        a: !!python/object/apply:os.system ["touch {marker}"]
        """,
    )
    with pytest.raises(ConfigValueError) as info:
        LazyConfig.load(path)
    assert isinstance(info.value, ConfigLoadError)
    assert str(path) in str(info.value)
    assert not marker.exists()


def test_yaml_python_name_tag_refused(write):
    path = write("evil.yaml", "a: !!python/name:os.system\n")
    with pytest.raises(ConfigLoadError):
        LazyConfig.load(path)


def test_yaml_malformed_names_line(write):
    path = write("bad.yaml", "a: 1\nb: [1, 2\nc: 3\n")
    with pytest.raises(ConfigLoadError, match=str(path)):
        LazyConfig.load(path)


def test_yaml_top_level_must_be_mapping(write):
    path = write("list.yaml", "- 1\n- 2\n")
    with pytest.raises(ConfigLoadError, match="mapping"):
        LazyConfig.load(path)


def test_empty_yaml_is_empty_config(write):
    path = write("empty.yaml", "")
    assert LazyConfig.load(path) == {}


def test_pathlike_argument(write):
    path = write("exp.py", "x = 1\n")
    assert LazyConfig.load(Path(path)).x == 1
    assert LazyConfig.load(str(path)).x == 1


def test_concurrent_loads_in_threads(write):
    # Nothing global is patched, so loads in parallel threads do not interfere.
    from concurrent.futures import ThreadPoolExecutor

    for i in range(4):
        write(f"c{i}/common/part.py", f"part = dict(index={i})\n")
        write(f"c{i}/exp.py", "from .common.part import part\n")
    root = Path(write("marker.txt", "").parent)
    paths = [root / f"c{i % 4}" / "exp.py" for i in range(16)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(LazyConfig.load, paths))
    assert [r.part.index for r in results] == [i % 4 for i in range(16)]
