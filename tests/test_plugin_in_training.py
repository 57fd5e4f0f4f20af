"""The example plugin inside a real training run (DESIGN.md sections 3 and 4).

``examples/libai-models-example`` contributes a trainer hook through
``libai_trainer_hooks(cfg)`` and a model, ``models:tiny_mlp``, with a default
config found by ``get_config``. These tests train for a few eager steps in
subprocesses (``libai-engine run``, as a user runs it) and look at what the run
left behind: the hook's lines in ``log.txt``, the hooks the trainer held.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Optional

import pytest
from libai.engine.testing import run_process, subprocess_env

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
TINY_RUN = FIXTURES / "tiny_run.py"  # 6 eager steps, log_period=2
TINY_MLP_RUN = FIXTURES / "tiny_mlp_run.py"
HOOK = "libai_models_example.hooks.StepCounterHook"
PLUGIN = "libai_models_example"


def _env(extra: Optional[dict] = None) -> dict:
    env = subprocess_env([FIXTURES])
    env.pop("LIBAI_DISABLE_PLUGINS", None)
    env.update(extra or {})
    return env


def _run(cmd: list[str], env: dict) -> subprocess.CompletedProcess:
    # Own process group, killed on timeout; one retry only if OneFlow crashed (DESIGN.md 5).
    return run_process(cmd, cwd=ROOT, env=env, timeout=300)


def _engine_run(
    out: Path,
    *overrides: str,
    options: tuple[str, ...] = (),
    config: Path = TINY_RUN,
    env: Optional[dict] = None,
) -> subprocess.CompletedProcess:
    """``libai-engine [OPTIONS] run CONFIG train.output_dir=OUT [OVERRIDES]``."""
    exe = shutil.which("libai-engine", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.fail("libai-engine is not installed next to this Python")
    cmd = [exe, *options, "run", str(config), f"train.output_dir={out}", *overrides]
    return _run(cmd, _env(env))


def _ok(proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == 0, (
        f"rc={proc.returncode}\n--- stdout ---\n{proc.stdout[-3000:]}\n"
        f"--- stderr ---\n{proc.stderr[-4000:]}"
    )


def _hook_lines(out: Path) -> list[str]:
    log = (out / "log.txt").read_text(encoding="utf-8")
    return [line for line in log.splitlines() if "[libai-models-example]" in line]


def _metrics(out: Path) -> list[dict]:
    lines = (out / "metrics.json").read_text().splitlines()
    return [json.loads(line) for line in lines if line]


def test_the_plugin_hook_runs_during_training(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = _engine_run(out)
    _ok(proc)
    lines = _hook_lines(out)
    # log_period=2 over 6 steps: the hook reports at 2, 4 and 6, then its total.
    assert [line[line.index("[libai-models-example]") :] for line in lines] == [
        "[libai-models-example] 2 steps",
        "[libai-models-example] 4 steps",
        "[libai-models-example] 6 steps",
        "[libai-models-example] ran 6 steps",
    ]
    # The console shows them too, and the run itself trained.
    assert "[libai-models-example] ran 6 steps" in proc.stdout
    losses = [row["total_loss"] for row in _metrics(out) if "total_loss" in row]
    assert len(losses) == 6 and all(0.0 < x < 5.0 for x in losses)


def test_the_trainer_holds_the_plugin_hook_after_its_own(tmp_path: Path) -> None:
    cmd = [
        sys.executable,
        str(FIXTURES / "run_and_report_hooks.py"),
        str(TINY_RUN),
        f"train.output_dir={tmp_path / 'run'}",
    ]
    proc = _run(cmd, _env())
    _ok(proc)
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["iter"] == 6
    assert report["steps"] == [6]
    hooks = report["hooks"]
    assert hooks.count(HOOK) == 1
    # Plugin hooks come after the trainer's own (CONTRACTS.md: appended).
    own = [h for h in hooks if h.startswith("libai.engine.hooks.")]
    assert own and hooks.index(HOOK) > max(hooks.index(h) for h in own)


@pytest.mark.parametrize(
    ("how", "options", "overrides", "env"),
    [
        ("-p no:<entry point>", ("-p", f"no:{PLUGIN}"), (), None),
        ("-p no:<distribution>", ("-p", "no:libai-models-example"), (), None),
        ("LIBAI_DISABLE_PLUGINS", (), (), {"LIBAI_DISABLE_PLUGINS": PLUGIN}),
        ("config switch", (), ("+train.example_step_counter=False",), None),
    ],
    ids=["p-no-entry-point", "p-no-distribution", "env", "config-switch"],
)
def test_disabling_the_plugin_removes_its_hook(
    tmp_path: Path, how: str, options: tuple, overrides: tuple, env: Optional[dict]
) -> None:
    out = tmp_path / "run"
    proc = _engine_run(out, *overrides, options=options, env=env)
    _ok(proc)
    assert _hook_lines(out) == [], f"{how} left the example's hook running"
    assert "[libai-models-example]" not in proc.stdout
    # The run itself is unaffected.
    assert [row["iteration"] for row in _metrics(out) if "total_loss" in row] == list(range(6))


def test_engine_refuses_the_config_only_example_model_clearly(tmp_path: Path) -> None:
    """``models:tiny_mlp`` is pure Python (the example depends on libai-config only, so it
    installs without OneFlow): the engine says it needs a OneFlow module, exit 2, no traceback."""
    out = tmp_path / "run"
    proc = _engine_run(out, config=TINY_MLP_RUN)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "not a oneflow.nn.Module" in proc.stderr
    assert "TinyMLP" in proc.stderr
    assert "Traceback" not in proc.stderr
