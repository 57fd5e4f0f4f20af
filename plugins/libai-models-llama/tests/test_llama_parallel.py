"""Graph, activation checkpointing, tensor and pipeline parallelism against one eager process.

All runs start from the same weights (the reference run writes them; the others load
them) and are subprocesses of llama_script.py (see its docstring for why).

* graph == eager: 3 SGD steps give the same losses.
* activation checkpointing: one graph step with every decoder layer recomputed gives the
  same gradients as without, and as eager autograd.
* tensor_parallel_size=2: logits, loss, every gradient and the greedy and beam-search
  ids of ``generate`` (KV cache, left padding) equal one process's; the
  fused q/k/v projection (2 kv heads, one group per rank), the untied lm_head and the embedding are
  really split.
* pipeline_parallel_size=2: the two layers sit on ranks 0 and 1; eager logits, loss,
  gradients and generated ids equal one process's.
* gradient accumulation in nn.Graph (which pipelined graph training needs): OneFlow 0.9.0
  computes wrong gradients for this model on ONE process already, differently from run to
  run, so GraphBase refuses it (tested) and the measurement is kept as a non-strict xfail
  (see the plugin README, "Known limits").
"""

from __future__ import annotations

import json
import sys
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from libai.engine.graph_base import GraphBase
from libai.engine.testing import check_ok, launcher_command, run_process, subprocess_env

pytestmark = pytest.mark.multiprocess

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "llama_script.py"


def run_script(mode: str, out: Path, nproc: int = 1) -> None:
    """``llama_script.py MODE OUT``, under OneFlow's launcher when ``nproc`` > 1."""
    script = [str(SCRIPT), mode, str(out)]
    # under the launcher, a callable: a fresh port for each attempt
    cmd = partial(launcher_command, nproc, *script) if nproc > 1 else [sys.executable, *script]
    check_ok(run_process(cmd, cwd=HERE, env=subprocess_env([HERE]), timeout=900))


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("llama_parallel")
    run_script("reference", out)
    return out


def _report(out: Path, name: str) -> dict:
    return json.loads((out / f"{name}.json").read_text())


def test_graph_losses_equal_eager_losses(reference):
    report = _report(reference, "reference")
    graph, eager = np.array(report["graph_losses"]), np.array(report["eager_losses"])
    assert graph.shape == (3,)
    np.testing.assert_allclose(graph, eager, rtol=1e-5, atol=1e-6)
    assert graph[-1] < graph[0]  # it learns


def test_activation_checkpointing_gives_the_same_gradients(reference):
    report = _report(reference, "reference")
    assert (
        report["num_grads"] == 17
    )  # embedding, 2 x 12 per layer (3 of them biases), norm, lm_head
    assert report["grad_norm"] > 1e-2  # the comparison is not between zeros
    assert report["checkpointed_vs_plain_grad_max_diff"] < 1e-6
    assert report["graph_vs_eager_grad_max_diff"] < 1e-5


def _check_matches_one_process(report: dict) -> None:
    assert report["num_grads"] == 17
    assert report["logits_max_diff"] < 1e-5, report
    assert report["loss_diff"] < 1e-5, report
    assert report["grad_max_diff"] < 1e-5, report
    assert np.array(report["generated"]).shape == (2, 2, 14)  # greedy, beams x rows x ids
    assert report["generated"] == report["expected_generated"]


def test_tensor_parallel_matches_one_process(reference):
    run_script("tp", reference, nproc=2)
    report = _report(reference, "tp")
    assert report["qkv_sbp"] == "(oneflow.sbp.split(dim=0),)"
    assert report["lm_head_sbp"] == "(oneflow.sbp.split(dim=0),)"
    assert report["embedding_sbp"] == "(oneflow.sbp.split(dim=0),)"
    _check_matches_one_process(report)


def test_pipeline_parallel_matches_one_process(reference):
    run_script("pp", reference, nproc=2)
    report = _report(reference, "pp")
    assert report["placements"] == [
        'oneflow.placement(type="cpu", ranks=[0])',
        'oneflow.placement(type="cpu", ranks=[1])',
    ]
    _check_matches_one_process(report)


def test_graph_gradient_accumulation_is_refused():
    from libai.utils.oneflow_env import flow
    from libai_llama.modeling import LlamaForCausalLM
    from llama_script import CFG

    model = LlamaForCausalLM(cfg=CFG)
    optimizer = flow.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match=r"num_accumulation_steps=2 with graph.enabled=True"):
        GraphBase(model, optimizer, None, is_train=True, grad_acc_steps=2)
    assert GraphBase(model, optimizer, None, is_train=True, grad_acc_steps=1).is_train


# Measured on 2026-12-07 (llama_script.py's model and batch, 36 graphs in 8 processes): the
# largest gradient difference from eager accumulation was 0.0795 to 0.0797 in 22 graphs and
# 2.87e-4 in 11 (first layer's q/k/v projection, its input norm, the embedding; gradient
# norm 1.78); 1.2e-7 in 3. The job OneFlow compiles is the same each time. Not strict: a
# run in which every graph happens to be exact passes.
@pytest.mark.xfail(
    strict=False,
    reason="OneFlow 0.9.0: an accumulating nn.Graph gives this model wrong gradients, "
    "varying from run to run (refused by GraphBase)",
)
def test_graph_gradient_accumulation_matches_eager(reference):
    run_script("accumulation", reference)
    report = _report(reference, "accumulation")
    assert report["grad_norm"] > 1e-2
    assert max(report["grad_max_diffs"]) < 1e-5, report
