"""Train every NLP model for a few steps in nn.Graph mode; print one JSON line per model.

Run by test_nlp_models.py in a subprocess: an occasional segfault of OneFlow 0.9.0's
CPU graph runtime then costs a retry, not the whole test session.
Usage: python graph_train_script.py CASE [CASE ...]
"""

from __future__ import annotations

import json
import sys

from libai.engine.graph_base import GraphBase
from libai.utils.oneflow_env import flow
from libai_models_cases import build_model, make_batch, to_global_batch


def train(case: str, activation_checkpoint: bool = False):
    """Four graph steps from a fixed initialisation; returns (model, losses, loss keys)."""
    flow.manual_seed(0)
    model = build_model(case)
    model.train()
    optimizer = flow.optim.AdamW(model.parameters(), lr=1e-3)
    graph = GraphBase(
        model, optimizer, None, is_train=True, activation_checkpoint=activation_checkpoint
    )
    batch = to_global_batch(make_batch(case))
    losses = []
    for _ in range(4):
        loss_dict = graph(**batch)
        losses.append(float(sum(v.to_local().numpy() for k, v in loss_dict.items() if "loss" in k)))
    return model, losses, sorted(loss_dict)


def main(cases: list) -> None:
    for case in cases:
        model, losses, keys = train(case)
        # The evaluation graph, as the engine builds it for evaluators.
        model.eval()
        outputs = GraphBase(model, is_train=False)(**to_global_batch(make_batch(case)))
        shapes = {k: list(v.shape) for k, v in outputs.items()}
        result = {"case": case, "losses": losses, "keys": keys, "eval_shapes": shapes}
        if case == "GPTForPreTraining":
            result["checkpointed_losses"] = train(case, activation_checkpoint=True)[1]
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
