"""Every NLP model, built from its default config at a tiny size, trains on the CPU:
eager and nn.Graph, finite decreasing loss on a fixed batch, LiBai's output keys."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest
from libai.engine.testing import run_process, subprocess_env
from libai.utils.oneflow_env import flow
from libai_models_cases import (
    CASES,
    build_model,
    expected_eval_shapes,
    make_batch,
    to_global_batch,
    total_loss,
)

HERE = Path(__file__).resolve().parent
CASE_IDS = [case[0] for case in CASES]
LOSS_KEYS = {
    "BertForPreTraining": ["lm_loss", "sop_loss"],
    "BertForClassification": ["cls_loss"],
    "RobertaForPreTraining": ["lm_loss"],
    "RobertaForCausalLM": ["lm_loss"],
    "GPTForPreTraining": ["lm_loss"],
    "T5ForPreTraining": ["masked_lm_loss"],
}


@pytest.mark.parametrize("case", CASE_IDS)
def test_eager_training_loss_decreases(case):
    flow.manual_seed(0)
    model = build_model(case)
    model.train()
    optimizer = flow.optim.AdamW(model.parameters(), lr=1e-3)
    batch = to_global_batch(make_batch(case))
    losses = []
    for _ in range(4):
        loss_dict = model(**batch)
        assert sorted(loss_dict) == LOSS_KEYS[case]
        loss = total_loss(loss_dict)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(float(loss.to_local().numpy()))
    assert all(math.isfinite(v) for v in losses)
    assert losses[-1] < losses[0]
    assert all(b < a for a, b in zip(losses, losses[1:])), losses


@pytest.mark.parametrize("case", CASE_IDS)
def test_eval_outputs_have_the_evaluator_keys_and_shapes(case):
    model = build_model(case)
    model.eval()
    with flow.no_grad():
        outputs = model(**to_global_batch(make_batch(case)))
    shapes = {k: tuple(v.shape) for k, v in outputs.items()}
    assert shapes == expected_eval_shapes(case)
    assert all(bool(flow.isfinite(v).all()) for v in outputs.values())


def _run_graph_script(cases: list) -> list:
    """Run the graph script; retry once when OneFlow's CPU graph runtime segfaults."""
    cmd = [sys.executable, str(HERE / "graph_train_script.py"), *cases]
    proc = run_process(cmd, env=subprocess_env([HERE]), timeout=600, crash_retries=2)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


def test_graph_training_loss_decreases():
    results = _run_graph_script(CASE_IDS)
    assert [r["case"] for r in results] == CASE_IDS
    for result in results:
        losses = result["losses"]
        assert result["keys"] == LOSS_KEYS[result["case"]]
        expected_shapes = expected_eval_shapes(result["case"])
        assert result["eval_shapes"] == {k: list(v) for k, v in expected_shapes.items()}
        if "checkpointed_losses" in result:
            # Recomputing activations in backward changes nothing numerically.
            assert result["checkpointed_losses"] == pytest.approx(losses, abs=1e-5)
        assert all(math.isfinite(v) for v in losses), result
        assert all(b < a for a, b in zip(losses, losses[1:])), result


def test_fusion_flags_do_not_break_a_cpu_run():
    from libai.models import GPTForPreTraining
    from libai_models_cases import TINY

    cfg = dict(
        TINY["gpt"],
        bias_gelu_fusion=True,
        bias_dropout_fusion=True,
        scale_mask_softmax_fusion=True,
        output_dropout_prob=0.1,
        attention_dropout_prob=0.1,
    )
    model = GPTForPreTraining(cfg=cfg)
    mlp = model.GPT_model.transformer.layers[0].mlp
    assert (mlp.fused_bias_gelu, mlp.fused_bias_dropout) == (False, False)
    loss = model(**to_global_batch(make_batch("GPTForPreTraining")))["lm_loss"]
    loss.backward()
    assert math.isfinite(float(loss.to_local().numpy()))
