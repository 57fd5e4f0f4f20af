"""``python -m libai.config``: list, plugins, check, show, diff, run in-process.

The real-install version (subprocesses in a fresh virtual environment) is
``test_plugins_install.py``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest
from _libai_registry_site import SiteOnPath, add_distribution
from libai.config import plugins
from libai.config.cli import Command, main


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(plugins.ENV_DISABLE, raising=False)
    root = tmp_path / "site"
    root.mkdir()
    add_distribution(
        root,
        "acme-cli-models",
        "0.4",
        {
            "libai.models": {"acme_net": "acme_cli_models.net:Net"},
            "libai.plugins": {"acme_cli": "acme_cli_models.plugin"},
        },
        {
            "acme_cli_models/__init__.py": "",
            "acme_cli_models/net.py": "class Net:\n    def __init__(self, width=2):\n"
            "        self.width = width\n",
            "acme_cli_models/plugin.py": "",
        },
    )
    with SiteOnPath(root):
        yield root


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def write_config(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text("from libai.config import LazyCall\n" + body, encoding="utf-8")
    return path


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for command in ("list", "plugins", "check", "show", "diff", "-p no:NAME"):
        assert command in out


def test_help_imports_nothing_heavy() -> None:
    probe = (
        "import sys; from libai.config.cli import main; main(['--help']);"
        "heavy = [m for m in ('rich', 'pluggy', 'importlib_metadata', 'oneflow') if m in sys.modules];"
        "print('HEAVY', heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert "HEAVY []" in out


def test_list_json_and_table(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "list", "models", "--pattern", "acme_*", "--json")
    assert code == 0
    assert json.loads(out) == [
        {
            "group": "models",
            "name": "acme_net",
            "reference": "models:acme_net",
            "target": "acme_cli_models.net:Net",
            "distribution": "acme-cli-models",
            "version": "0.4",
            "conflict": False,
        }
    ]
    assert "acme_cli_models.net" not in sys.modules  # listing never imports
    code, out, _ = run(capsys, "list", "models")
    assert code == 0 and "acme_net" in out and "acme-cli-models" in out


def test_list_unknown_kind_is_a_user_error(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "list", "model")
    assert code == 2
    assert err.startswith("error: unknown registry group 'model'; did you mean models?")
    assert "Traceback" not in err


def test_plugins_json_and_disable_flag(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "plugins", "--json")
    assert code == 0
    rows = {row["distribution"]: row for row in json.loads(out)["plugins"]}
    ours = rows["acme-cli-models"]
    assert (ours["version"], ours["status"]) == ("0.4", "loaded")
    assert ours["plugin"] == "acme_cli = acme_cli_models.plugin"
    assert ours["entry_points"] == ["models:acme_net = acme_cli_models.net:Net"]
    assert rows["libai-config"]["status"] == "loaded"

    code, out, _ = run(capsys, "-p", "no:acme_cli", "plugins", "--json")
    rows = {row["distribution"]: row for row in json.loads(out)["plugins"]}
    assert rows["acme-cli-models"]["status"] == "disabled"
    code, _, err = run(capsys, "-p", "acme_cli", "plugins")
    assert code == 2 and "-p takes no:NAME" in err


def test_check_ok_and_problems(
    site: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write_config(tmp_path, "good.py", "model = LazyCall('models:acme_net')(width=3)\n")
    code, out, _ = run(capsys, "check", str(good))
    assert code == 0 and "OK, 1 calls resolved and checked" in out

    code, out, _ = run(capsys, "check", str(good), "model.width=4", "+model.colour=2", "--json")
    report = json.loads(out)
    assert code == 2 and report["ok"] is False and report["calls"] == 1
    assert report["problems"] == [
        {
            "path": "model",
            "kind": "unknown-argument",
            "message": "unknown argument 'colour' for acme_cli_models.net.Net; it accepts: width",
        }
    ]

    code, out, _ = run(capsys, "check", str(good), "model._target_=models:acme_nett")
    assert code == 2
    assert "model: target 'models:acme_nett': unknown name 'acme_nett'" in out
    assert "did you mean models:acme_net" in out


def test_check_user_errors_exit_2_without_traceback(
    site: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "check", str(tmp_path / "missing.py"))
    assert code == 2 and "does not exist" in err
    bad = write_config(tmp_path, "bad.py", "model = LazyCall('models:acme_net')(\n")
    code, _, err = run(capsys, "check", str(bad))
    assert code == 2 and err.startswith(f"error: cannot load {bad}") and "Traceback" not in err
    good = write_config(tmp_path, "good.py", "model = LazyCall('models:acme_net')()\n")
    code, _, err = run(capsys, "check", str(good), "nothing.here=1")
    assert code == 2 and "unknown key 'nothing.here'" in err


def test_show_yaml_py_json(site: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = write_config(
        tmp_path, "exp.py", "model = LazyCall('models:acme_net')(width=3)\ntrain = dict(iters=5)\n"
    )
    code, out, _ = run(capsys, "show", str(cfg), "train.iters=7")
    assert code == 0
    assert "_target_: models:acme_net" in out and "iters: 7" in out
    code, out, _ = run(capsys, "show", str(cfg), "--json")
    assert json.loads(out) == {
        "model": {"_target_": "models:acme_net", "width": 3},
        "train": {"iters": 5},
    }
    code, out, _ = run(capsys, "show", str(cfg), "--format", "py")
    assert code == 0 and "LazyCall" in out and "models:acme_net" in out


def test_diff(site: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = write_config(
        tmp_path, "a.py", "model = LazyCall('models:acme_net')(width=3)\nx = dict(k=1)\n"
    )
    b = write_config(
        tmp_path, "b.py", "model = LazyCall('models:acme_net')(width=4)\ny = dict(k=1)\n"
    )
    code, out, _ = run(capsys, "diff", str(a), str(b), "--json")
    assert code == 0
    assert json.loads(out) == [
        {"key": "model.width", "change": "changed", "a": 3, "b": 4},
        {"key": "x", "change": "removed", "a": {"k": 1}, "b": None},
        {"key": "y", "change": "added", "a": None, "b": {"k": 1}},
    ]
    code, out, _ = run(capsys, "diff", str(a), str(a))
    assert code == 0 and "no differences" in out


def test_extra_commands_and_unexpected_errors(capsys: pytest.CaptureFixture[str]) -> None:
    def add(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--boom", action="store_true")

    def handler(args: argparse.Namespace) -> int:
        if args.boom:
            raise RuntimeError("a bug")
        print("ran")
        return 0

    extra = Command("run", "run it", add, handler)
    assert main(["run"], prog="libai-engine", extra_commands=[extra]) == 0
    assert capsys.readouterr().out == "ran\n"
    assert main(["run", "--boom"], prog="libai-engine", extra_commands=[extra]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "libai-engine run: unexpected RuntimeError: a bug" in err


def test_libai_engine_offers_the_same_commands_and_run(capsys: pytest.CaptureFixture[str]) -> None:
    engine_cli = pytest.importorskip("libai.engine.cli")
    assert engine_cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: libai-engine")
    for command in ("list", "plugins", "check", "show", "diff", "run"):
        assert command in out


def test_read_only_commands_import_no_oneflow(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, "exp.py", "train = dict(iters=5)\n")
    probe = (
        "import sys, io, contextlib\n"
        "from libai.config.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    codes = [main(['list', '--json']), main(['plugins', '--json']),"
        f" main(['show', {str(cfg)!r}]), main(['check', {str(cfg)!r}])]\n"
        "print(codes, 'oneflow' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip().splitlines()[-1] == "[0, 0, 0, 0] False"
