"""Data- and tensor-parallel runs of the vision models compared with one process
(see test_vision_parity_parallel.py).

    python vision_parallel_script.py reference OUT
    python -m oneflow.distributed.launch --nproc_per_node 2 vision_parallel_script.py dp OUT
    python -m oneflow.distributed.launch --nproc_per_node 2 vision_parallel_script.py tp OUT
    python -m oneflow.distributed.launch --nproc_per_node 2 vision_parallel_script.py pp OUT

The parallel runs load the reference weights. ``dp``/``tp`` compute eval logits and the
gradients of one training loss; ``pp`` trains in nn.Graph with the blocks on two pipeline
stages. Rank 0 writes ``OUT/<mode>.json`` with the largest differences.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from libai.engine.graph_base import GraphBase
from libai.models.utils.model_loader import load_converted
from libai.utils import distributed as dist
from libai.utils.oneflow_env import flow
from vision_cases import CASES, build_model, make_batch


def _whole(t) -> np.ndarray:
    everywhere = flow.placement(t.placement.type, list(range(dist.get_world_size())))
    return t.to_global(placement=everywhere, sbp=flow.sbp.broadcast).to_local().numpy()


def _global_batch() -> dict:
    placement = dist.get_layer_placement(0)
    sbp = dist.get_nd_sbp([flow.sbp.split(0), flow.sbp.broadcast])
    out = {}
    for key, value in make_batch().items():
        # Every rank holds the whole batch; make it global without reading it as a shard.
        t = flow.tensor(value).to_global(placement=placement, sbp=[flow.sbp.broadcast] * len(sbp))
        out[key] = t.to_global(sbp=sbp)
    return out


def _forward_backward(model) -> dict:
    batch = _global_batch()
    model.eval()
    with flow.no_grad():
        logits = model(images=batch["images"])["prediction_scores"]
    model.train()
    model(**batch)["losses"].backward()
    out = {"logits": _whole(logits)}
    for name, param in model.named_parameters():
        out["grad." + name] = _whole(param.grad)
    return out


def reference(out: Path) -> None:
    dist.setup_dist_util({"data_parallel_size": 1})
    for case in CASES:
        flow.manual_seed(0)
        model = build_model(case)
        # Perturbed so that SwinV2's zero-initialised post-norms and ResMLP's small layer
        # scales do not hide the blocks.
        rng = np.random.default_rng(0)
        with flow.no_grad():
            for param in model.parameters():
                noise = rng.standard_normal(tuple(param.shape)).astype(np.float32) * 0.05
                param.add_(flow.tensor(noise).to_global(placement=param.placement, sbp=param.sbp))
        np.savez(
            out / f"{case}_weights.npz", **{k: _whole(v) for k, v in model.state_dict().items()}
        )
        np.savez(out / f"{case}_results.npz", **_forward_backward(model))
        if case not in PP_CASES:
            continue
        # A fresh model: a graph built over parameters that already hold eager gradients
        # fails to compile with gradient accumulation ("(1,1) vs (1,1,2)").
        model = build_model(case)
        _load(model, out, case)
        np.save(out / f"{case}_losses.npy", np.array(_train_graph(model)))


PP_STEPS = 3
# Pipelining is checked on the two block structures (transformer layers; Swin stages
# with patch merging); each pipelined graph costs ~20 s to compile on 2 shared cores.
PP_CASES = ["VisionTransformer", "SwinTransformer"]


def _num_layers(case: str) -> int:
    tiny = CASES[case][1]
    return tiny["depth"] if "depth" in tiny else sum(tiny["depths"])


def _load(model, out: Path, case: str) -> None:
    weights = dict(np.load(out / f"{case}_weights.npz"))
    params = dict(model.named_parameters())
    load_converted(model, {k: v for k, v in weights.items() if k in params}, "")


def _train_graph(model) -> list:
    """PP_STEPS SGD steps of 2 accumulated micro-batches (a pipelined graph needs 2 or more
    on the CPU in OneFlow 0.9.0); the per-micro-batch losses."""
    model.train()
    optimizer = flow.optim.SGD(model.parameters(), lr=0.1)
    graph = GraphBase(model, optimizer, None, is_train=True, grad_acc_steps=2)
    batch = _global_batch()
    losses = []
    for _ in range(PP_STEPS):
        losses.extend(_whole(graph(**batch)["losses"]).reshape(-1).tolist())
    return losses


def pipeline_parallel(out: Path, cases: list) -> None:
    report = {}
    for case in cases:
        dist.setup_dist_util(
            {
                "data_parallel_size": 1,
                "tensor_parallel_size": 1,
                "pipeline_parallel_size": 2,
                "pipeline_num_layers": _num_layers(case),
            }
        )
        model = build_model(case)
        _load(model, out, case)
        stages = {str(p.placement) for p in model.parameters()}
        losses = _train_graph(model)
        expected = np.load(out / f"{case}_losses.npy")
        diff = np.abs(np.array(losses) - expected)
        report[case] = {
            "first_step_max_diff": float(diff[:2].max()),
            "loss_max_diff": float(diff.max()),
            "placements": len(stages),
            "losses": losses,
        }
    if dist.get_rank() == 0:
        (out / "pp.json").write_text(json.dumps(report))


def parallel(out: Path, mode: str) -> None:
    sizes = {"dp": (2, 1), "tp": (1, 2)}[mode]
    dist.setup_dist_util(
        {
            "data_parallel_size": sizes[0],
            "tensor_parallel_size": sizes[1],
            "pipeline_parallel_size": 1,
        }
    )
    report = {}
    for case in CASES:
        model = build_model(case)
        _load(model, out, case)
        got = _forward_backward(model)
        want = dict(np.load(out / f"{case}_results.npz"))
        report[case] = {key: float(np.abs(got[key] - want[key]).max()) for key in want}
    if dist.get_rank() == 0:
        (out / f"{mode}.json").write_text(json.dumps(report))


if __name__ == "__main__":
    mode, target = sys.argv[1], Path(sys.argv[2])
    if mode == "reference":
        reference(target)
    elif mode == "pp":
        pipeline_parallel(target, sys.argv[3:] or PP_CASES)
    else:
        parallel(target, mode)
