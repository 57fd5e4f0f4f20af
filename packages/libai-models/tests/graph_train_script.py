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


def main(cases: list) -> None:
    for case in cases:
        flow.manual_seed(0)
        model = build_model(case)
        model.train()
        optimizer = flow.optim.AdamW(model.parameters(), lr=1e-3)
        graph = GraphBase(model, optimizer, None, is_train=True)
        batch = to_global_batch(make_batch(case))
        losses = []
        for _ in range(4):
            loss_dict = graph(**batch)
            losses.append(
                float(sum(v.to_local().numpy() for k, v in loss_dict.items() if "loss" in k))
            )
        print(json.dumps({"case": case, "losses": losses, "keys": sorted(loss_dict)}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
