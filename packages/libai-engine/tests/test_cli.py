"""``libai-engine run``: bad input is a clear message and exit code 2 before any model is built."""

import sys

import pytest
from libai.config.cli import UserError
from libai.engine.cli import main
from libai.engine.testing import run_process
from omegaconf import OmegaConf
from runner import CONFIGS, engine_env

MLP = str(CONFIGS / "toy_mlp.py")


def run_cli(capsys, *args):
    rc = main(["run", *args])
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["train.train_itr=5"], "train.train_iter"),  # unknown override key: nearest key named
        (["model._target_=toy.ToyMLPP"], "toy.ToyMLP"),  # unresolvable target: nearest name
        (["+model.hiden=3"], "hidden"),  # unknown argument of the target: nearest argument
        (["train.global_batch_size=20", "train.num_accumulation_steps=2"], "8 * 2 * 1 = 16 != 20"),
        (["train.output_dir=/proc/libai-cannot-write-here"], "cannot be written"),
        (["train.train_iter=5", "--bogus"], "unknown option '--bogus'"),
    ],
    ids=["override-key", "target", "argument", "batch-arithmetic", "output-dir", "option"],
)
def test_user_errors_exit_2_before_building(capsys, tmp_path, args, expected):
    if not any(a.startswith("train.output_dir") for a in args):
        args = [f"train.output_dir={tmp_path / 'out'}", *args]
    rc, out, err = run_cli(capsys, MLP, *args)
    assert rc == 2, err
    assert expected in err
    assert err.startswith("error: ")
    assert "Traceback" not in err
    assert "Model:" not in out and "Starting training" not in out


def test_missing_namespaces(capsys, tmp_path):
    cfg = tmp_path / "partial.py"
    cfg.write_text(
        "from libai.config import LazyCall, get_config\n"
        "train = get_config('common/train.py').train\n"
        "model = LazyCall('toy.ToyMLP')()\n"
    )
    rc, _, err = run_cli(capsys, str(cfg))
    assert rc == 2
    assert "lacks the namespaces optim, dataloader" in err and "It defines: model, train" in err


def test_missing_config_file(capsys, tmp_path):
    rc, _, err = run_cli(capsys, str(tmp_path / "nope.py"))
    assert rc == 2 and "does not exist" in err


def test_zero_with_two_cpu_processes_is_refused():
    from libai.engine.launch import _check_cpu_features

    cfg = OmegaConf.create(
        {"graph": {"enabled": True}, "train": {"zero_optimization": {"enabled": True}}}
    )
    with pytest.raises(UserError, match="OneFlow 0.9.0 aborts the process when ZeRO"):
        _check_cpu_features(cfg, world_size=2, has_cuda=False)
    _check_cpu_features(cfg, world_size=1, has_cuda=False)  # one process: runs (tested in test_run)


def test_help_and_lazy_engine_import_do_not_import_oneflow():
    code = (
        "import sys\n"
        "from libai.engine.cli import main\n"
        "import libai.engine\n"
        "rc = main(['run', '--help'])\n"
        "assert 'oneflow' not in sys.modules, 'oneflow imported'\n"
        "from libai.engine import DefaultTrainer, default_setup, hooks\n"
        "assert 'oneflow' in sys.modules and hooks.HookBase is not None\n"
        "print('ok', rc)\n"
    )
    proc = run_process([sys.executable, "-c", code], env=engine_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("ok 0")
    assert "--fast-dev-run" in proc.stdout and "--eval-only" in proc.stdout
