"""Tensor, data and pipeline parallelism on 2 CPU processes match one process.

* tensor_parallel_size=2: BERT and GPT logits and every parameter gradient equal the
  one-process values (same weights loaded into both).
* data_parallel_size=2: the same for BERT and GPT with the batch split over the ranks.
* pipeline_parallel_size=2: GPT trains in nn.Graph with its layers on two stages and
  its losses equal the one-process graph's.

Each run is a subprocess (parallel_script.py); the 2-process runs use
``python -m oneflow.distributed.launch --nproc_per_node 2``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from libai.engine.testing import check_ok, launcher_command, run_process, subprocess_env

pytestmark = pytest.mark.multiprocess

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "parallel_script.py"


def _run(make_args, cwd: Path) -> None:
    """Run in its own process group; one retry only when a process crashed with a signal
    (OneFlow's sporadic CPU graph segfault, shared/DESIGN.md section 5)."""
    check_ok(run_process(make_args, cwd=cwd, env=subprocess_env([HERE]), timeout=600))


def _launch(mode: str, out: Path) -> None:
    # a fresh port for every attempt
    _run(lambda: launcher_command(2, str(SCRIPT), mode, str(out)), HERE)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("parallel")
    _run(lambda: [sys.executable, str(SCRIPT), "reference", str(out)], HERE)
    return out


def test_tensor_parallel_matches_one_process(reference):
    _launch("tp", reference)
    report = json.loads((reference / "tp.json").read_text())
    for kind, num_grads in (("gpt", 28), ("bert", 38)):
        # The fused QKV weight really is split over the two ranks.
        assert report[f"{kind}_qkv_sbp"] == "(oneflow.sbp.split(dim=0),)"
        assert report[f"{kind}_num_grads"] == num_grads
        assert report[f"{kind}_logits_max_diff"] < 1e-5, report
        assert report[f"{kind}_grad_max_diff"] < 1e-5, report


def test_data_parallel_matches_one_process(reference):
    _launch("dp", reference)
    report = json.loads((reference / "dp.json").read_text())
    for kind in ("gpt", "bert"):
        # Weights are whole on each rank; the batch of 4 is split 2 + 2.
        assert report[f"{kind}_qkv_sbp"] == "(oneflow.sbp.broadcast,)"
        assert report[f"{kind}_logits_max_diff"] < 1e-5, report
        assert report[f"{kind}_grad_max_diff"] < 1e-5, report


@pytest.mark.xfail(
    strict=False,
    reason="OneFlow 0.9.0's accumulating nn.Graph now and then computes wrong gradients "
    "(run-dependent; a CI run under load saw step 2 off by 2.6e-4 after an exact step 1); "
    "the same fault the Llama plugin refuses graph accumulation for. Not yet worked around.",
)
def test_pipeline_parallel_gpt_matches_one_process_losses(reference):
    _launch("pp", reference)
    report = json.loads((reference / "pp.json").read_text())
    assert report["placements"] == [
        'oneflow.placement(type="cpu", ranks=[0])',
        'oneflow.placement(type="cpu", ranks=[1])',
    ]
    losses, expected = np.array(report["losses"]), np.array(report["expected"])
    assert losses.shape == (6,)  # 3 steps x 2 micro-batches
    # float32 sums in a different order (two stages, accumulation) drift by ~1e-5 after
    # a few steps; a wrong pipeline would be off by far more.
    np.testing.assert_allclose(losses, expected, rtol=5e-5, atol=1e-5)
    assert losses[-1] < losses[0]
