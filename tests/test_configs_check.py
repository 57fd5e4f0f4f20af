"""Every experiment config at the repo root checks, shows and round-trips (DESIGN.md 2-4).

Parametrized over ``configs/*.py`` so a new config is covered without editing
this file. The CLI runs in subprocesses, as a user runs it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from libai.config import LazyConfig

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "configs").glob("*.py"))


def _engine(*args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("libai-engine", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.fail("libai-engine is not installed next to this Python")
    env = dict(os.environ, GLOG_minloglevel="2")
    return subprocess.run(
        [exe, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )


def _in_process(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    """``libai-engine ARGS`` through its ``main`` (the console script's function).

    The per-config checks run in this process: one OneFlow import for all configs
    instead of one per subprocess keeps the suite fast on two cores. The exit-code
    and error-message tests below run the real console script.
    """
    from libai.engine.cli import main

    capsys.readouterr()
    rc = main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


def test_there_are_experiment_configs() -> None:
    names = {p.name for p in CONFIGS}
    # DESIGN.md section 1 names these.
    assert {"bert_large_pretrain.py", "gpt2_pretrain.py", "vit_imagenet.py"} <= names


@pytest.mark.parametrize("cfg_path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_check_passes(cfg_path: Path, capsys: pytest.CaptureFixture) -> None:
    rc, out, err = _in_process(capsys, "check", str(cfg_path))
    assert rc == 0, out[-3000:] + err[-3000:]
    assert "OK" in out


@pytest.mark.parametrize("cfg_path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_show_yaml_reloads_to_the_same_config(
    cfg_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    rc, out, err = _in_process(capsys, "show", str(cfg_path), "--format", "yaml")
    assert rc == 0, err[-3000:]
    saved = tmp_path / f"{cfg_path.stem}.yaml"
    saved.write_text(out, encoding="utf-8")

    original = LazyConfig.load(str(cfg_path))
    reloaded = LazyConfig.load(str(saved))
    difference = LazyConfig.diff(original, reloaded)
    assert not difference, difference.format()
    for key in ("model", "train", "optim", "dataloader"):
        assert key in reloaded, f"{cfg_path.name}: show dropped {key}"

    # `diff` agrees: the YAML and the Python config have no differences.
    rc, out, err = _in_process(capsys, "diff", str(cfg_path), str(saved), "--json")
    assert rc == 0, err[-3000:]
    assert json.loads(out) == []

    # What `show` wrote is itself a valid config: `check` passes on the YAML.
    rc, out, err = _in_process(capsys, "check", str(saved))
    assert rc == 0, out[-3000:] + err[-3000:]


def test_show_is_the_same_from_libai_config_and_libai_engine() -> None:
    """DESIGN.md 4: the read-only commands are libai-config's; both CLIs print one config."""
    rel = "configs/bert_large_pretrain.py"
    by_engine = _engine("show", rel, "--format", "yaml", "train.train_iter=7")
    env = dict(os.environ, GLOG_minloglevel="2")
    by_config = subprocess.run(
        [
            sys.executable,
            "-m",
            "libai.config",
            "show",
            rel,
            "--format",
            "yaml",
            "train.train_iter=7",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert by_engine.returncode == 0 and by_config.returncode == 0, by_config.stderr[-2000:]
    assert by_engine.stdout == by_config.stdout
    assert "train_iter: 7" in by_engine.stdout


def test_check_runs_as_the_console_script() -> None:
    """One real subprocess run of the installed ``libai-engine check``."""
    proc = _engine("check", "configs/gpt2_pretrain.py")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "OK" in proc.stdout


@pytest.mark.parametrize("cfg_path", CONFIGS[:2], ids=[p.stem for p in CONFIGS[:2]])
def test_a_misspelled_override_exits_2_and_names_the_key(cfg_path: Path) -> None:
    proc = _engine("check", str(cfg_path.relative_to(ROOT)), "optim.lrr=1")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    message = proc.stdout + proc.stderr
    assert "optim.lrr" in message
    assert "optim.lr" in message.replace("optim.lrr", "")
    assert "Traceback" not in message


def test_a_misspelled_override_is_refused_by_run_too(tmp_path: Path) -> None:
    """`run` refuses the same override before building anything."""
    cfg = CONFIGS[0]
    proc = _engine(
        "run", str(cfg.relative_to(ROOT)), f"train.output_dir={tmp_path / 'out'}", "optim.lrr=1"
    )
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "optim.lrr" in proc.stderr and "optim.lr" in proc.stderr.replace("optim.lrr", "")
    assert not (tmp_path / "out" / "model_final").exists()
