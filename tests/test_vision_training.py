"""A LiBai vision run across all packages: libai.data loaders, libai.models' ViT, the engine.

``tests/fixtures/libai_vit_tiny.py`` is LiBai's ``vit_imagenet.py`` shrunk to a one-block
ViT on synthetic 32x32 images (``Instance`` samples, as libai.data's vision datasets
return), with flowvision's Mixup on the train loader as LiBai configures it. Each run
is ``libai-engine run`` in a subprocess, four eager steps.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from libai.engine.testing import run_process, subprocess_env

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
CONFIG = FIXTURES / "libai_vit_tiny.py"
# Plain batches and no stochastic depth: the run is deterministic for a seed.
NO_MIXUP = (
    "dataloader.train.mixup_func=null",
    "model.cfg.loss_func=null",
    "model.cfg.drop_path_rate=0.0",
)


def _run(config: Path, out: Path, *overrides: str) -> subprocess.CompletedProcess:
    exe = shutil.which("libai-engine", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.fail("libai-engine is not installed next to this Python")
    cmd = [exe, "run", str(config), f"train.output_dir={out}", *overrides]
    # own process group; one retry only on a crash (DESIGN.md 5: OneFlow's chance segfault)
    proc = run_process(cmd, cwd=ROOT, env=subprocess_env([FIXTURES]), timeout=300)
    assert proc.returncode == 0, (
        f"rc={proc.returncode}\n--- stdout ---\n{proc.stdout[-3000:]}\n"
        f"--- stderr ---\n{proc.stderr[-4000:]}"
    )
    return proc


def _rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.json").read_text().splitlines() if line]


def _losses(out: Path) -> list[float]:
    return [row["total_loss"] for row in _rows(out) if "total_loss" in row]


_SAVE_INITIAL_WEIGHTS = """
import sys
from libai.config import LazyConfig, instantiate
from libai.utils.oneflow_env import flow

cfg = LazyConfig.load(sys.argv[1])
LazyConfig.apply_overrides(cfg, sys.argv[3:])
flow.manual_seed(0)
model = instantiate(cfg.model)
flow.save({k: v.to_local() for k, v in model.state_dict().items()}, sys.argv[2])
"""


@pytest.fixture(scope="module")
def initial_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One set of initial weights for the runs that are compared with each other.

    OneFlow 0.9.0 now and then draws different initial weights for the same seed in two
    processes, so the eager and graph runs load these instead of each drawing their own.
    """
    path = tmp_path_factory.mktemp("vit") / "initial"
    cmd = [sys.executable, "-c", _SAVE_INITIAL_WEIGHTS, str(CONFIG), str(path), *NO_MIXUP]
    proc = run_process(cmd, cwd=ROOT, env=subprocess_env([FIXTURES]), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return path


@pytest.fixture(scope="module")
def plain_run(tmp_path_factory: pytest.TempPathFactory, initial_weights: Path) -> Path:
    out = tmp_path_factory.mktemp("vit") / "plain"
    _run(CONFIG, out, *NO_MIXUP, f"train.load_weight={initial_weights}")
    return out


def test_vit_trains_on_libai_instance_batches(plain_run: Path) -> None:
    losses = _losses(plain_run)
    assert len(losses) == 4 and all(math.isfinite(x) for x in losses)
    # A fresh 4-class classifier starts near ln(4) = 1.386.
    assert abs(losses[0] - math.log(4)) < 0.3
    accuracy = [row["Acc@1"] for row in _rows(plain_run) if "Acc@1" in row]
    assert len(accuracy) == 1 and 0.0 <= accuracy[0] <= 100.0
    assert (plain_run / "model_final").is_dir() and (plain_run / "config.yaml").is_file()


def test_graph_mode_gives_the_eager_losses(
    plain_run: Path, initial_weights: Path, tmp_path: Path
) -> None:
    """DESIGN.md 4: ``graph.enabled=True`` (nn.Graph over libai.models' layers) and eager
    training give the same losses for the same seed."""
    out = tmp_path / "graph"
    _run(
        CONFIG,
        out,
        *NO_MIXUP,
        "graph.enabled=True",
        f"train.load_weight={initial_weights}",
    )
    assert _losses(out) == pytest.approx(_losses(plain_run), rel=1e-5, abs=1e-6)
    graph_acc = [row["Acc@1"] for row in _rows(out) if "Acc@1" in row]
    eager_acc = [row["Acc@1"] for row in _rows(plain_run) if "Acc@1" in row]
    assert graph_acc == eager_acc


def test_mixup_of_the_train_loader_reaches_the_batches(tmp_path: Path) -> None:
    """LiBai: build_image_train_loader keeps ``mixup_func`` on the loader and the trainer's
    ``get_batch`` applies it to each batch's images and labels (CONTRACTS.md, Batches).

    The config trains with ``SoftTargetCrossEntropy``, as LiBai's vit_imagenet.py does:
    on mixed soft labels a fresh 4-class model's loss is near ln(4) = 1.386; on the raw
    class ids (mixup skipped) the soft-target loss multiplies log-probabilities by the
    ids and comes out far larger.
    """
    out = tmp_path / "mixup"
    _run(CONFIG, out)
    losses = _losses(out)
    assert len(losses) == 4 and all(math.isfinite(x) for x in losses)
    assert losses[0] < 2.5, (
        f"first loss {losses[0]:.3f}: SoftTargetCrossEntropy got class ids, not mixed "
        "soft labels; the trainer did not apply the train loader's mixup_func"
    )


def test_libai_loss_func_object_in_model_cfg_runs(tmp_path: Path) -> None:
    """LiBai's vit_imagenet.py writes ``model.cfg.loss_func = SoftTargetCrossEntropy()``
    (an object, not a LazyCall); a LiBai config runs unchanged (DESIGN.md 1)."""
    config = tmp_path / "vit_loss_object.py"
    config.write_text(
        textwrap.dedent(
            f"""
            from flowvision.loss.cross_entropy import SoftTargetCrossEntropy
            from libai.config import LazyConfig

            _base = LazyConfig.load({str(CONFIG)!r})
            model, graph, train, optim, dataloader = (
                _base.model, _base.graph, _base.train, _base.optim, _base.dataloader
            )
            model.cfg.loss_func = SoftTargetCrossEntropy()
            """
        ),
        encoding="utf-8",
    )
    out = tmp_path / "run"
    _run(config, out)
    losses = _losses(out)
    assert len(losses) == 4 and all(math.isfinite(x) for x in losses)
    # Soft targets over 4 classes: the cross entropy of a fresh model is near ln(4).
    assert losses[0] < 3.0
