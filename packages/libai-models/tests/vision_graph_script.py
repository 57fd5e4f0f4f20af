"""Train vision models for a few steps in nn.Graph mode; print one JSON line per model.

Run by the vision model tests in a subprocess: an occasional segfault of OneFlow 0.9.0's
CPU graph runtime then costs a retry, not the whole test session.
Usage: python vision_graph_script.py CASE [CASE ...]
"""

from __future__ import annotations

import json
import sys

from libai.engine.graph_base import GraphBase
from libai.utils.oneflow_env import flow
from vision_cases import build_model, make_batch, to_global_batch


def main(cases: list) -> None:
    for case in cases:
        # The eager loss of the same first step, on a model built the same way in this
        # fresh process (before any backward pass has run in it).
        flow.manual_seed(0)
        eager_model = build_model(case)
        eager_model.train()
        # The graph trains a copy of exactly these weights: OneFlow 0.9.0 does not always
        # reproduce a global tensor's random init after manual_seed within one process.
        initial = {k: v.detach().clone() for k, v in eager_model.state_dict().items()}
        eager_first = float(
            eager_model(**to_global_batch(make_batch()))["losses"].to_local().numpy()
        )
        del eager_model

        flow.manual_seed(0)
        model = build_model(case)
        model.load_state_dict(initial)
        model.train()
        optimizer = flow.optim.AdamW(model.parameters(), lr=1e-3)
        graph = GraphBase(model, optimizer, None, is_train=True)
        batch = to_global_batch(make_batch())
        losses = []
        for _ in range(4):
            loss_dict = graph(**batch)
            losses.append(
                float(sum(v.to_local().numpy() for k, v in loss_dict.items() if "loss" in k))
            )
        eval_graph = GraphBase(model, is_train=False)
        model.eval()
        scores = eval_graph(images=batch["images"])["prediction_scores"]
        print(
            json.dumps(
                {
                    "case": case,
                    "losses": losses,
                    "keys": sorted(loss_dict),
                    "eval_shape": list(scores.shape),
                    "eager_first": eager_first,
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main(sys.argv[1:])
