"""Tensor- and pipeline-parallel runs compared with a one-process run (see test_parallel.py).

    python parallel_script.py reference OUT    # one process: weights, outputs, grads, losses
    python -m oneflow.distributed.launch --nproc_per_node 2 parallel_script.py tp OUT
    python -m oneflow.distributed.launch --nproc_per_node 2 parallel_script.py pp OUT
    python -m oneflow.distributed.launch --nproc_per_node 2 parallel_script.py dp OUT

The parallel runs load the reference weights (so initialisation cannot differ) and rank 0
writes ``OUT/<mode>.json`` with the largest differences found.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from libai.engine.graph_base import GraphBase
from libai.models import BertForPreTraining, GPTForPreTraining
from libai.models.utils.model_loader import load_converted
from libai.utils import distributed as dist
from libai.utils.oneflow_env import flow

GPT_CFG = dict(
    hidden_layers=2,
    vocab_size=64,
    hidden_size=32,
    ffn_hidden_size=64,
    num_attention_heads=4,
    max_seq_length=16,
)
BERT_CFG = dict(
    vocab_size=64,
    hidden_size=32,
    hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=64,
    hidden_dropout_prob=0.0,
    attention_probs_dropout_prob=0.0,
    max_position_embeddings=16,
)
PP_STEPS = 3


def _batch(kind: str) -> dict:
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 64, size=(4, 8)).astype(np.int64)
    placement = dist.get_layer_placement(0)
    sbp = dist.get_nd_sbp([flow.sbp.split(0), flow.sbp.broadcast])

    def g(a):
        # Every rank holds the whole batch; make it global without reinterpreting it as a shard.
        t = flow.tensor(a).to_global(placement=placement, sbp=[flow.sbp.broadcast] * len(sbp))
        return t.to_global(sbp=sbp)

    if kind == "gpt":
        return dict(input_ids=g(ids), labels=g(np.roll(ids, -1, axis=1)))
    mask = np.ones_like(ids)
    mask[1, 5:] = 0
    return dict(
        input_ids=g(ids),
        attention_mask=g(mask),
        tokentype_ids=g(np.zeros_like(ids)),
        ns_labels=g(np.array([0, 1, 1, 0])),
        lm_labels=g(ids),
        loss_mask=g(mask),
    )


def _whole(t) -> np.ndarray:
    """The whole tensor on every rank (it may live on one pipeline stage only)."""
    everywhere = flow.placement(t.placement.type, list(range(dist.get_world_size())))
    return t.to_global(placement=everywhere, sbp=flow.sbp.broadcast).to_local().numpy()


def _forward_backward(model, kind: str) -> dict:
    batch = _batch(kind)
    model.eval()
    with flow.no_grad():
        logits = model(**{k: v for k, v in batch.items() if "label" not in k and k != "loss_mask"})
    model.train()
    losses = model(**batch)
    sum(v for k, v in losses.items() if "loss" in k).backward()
    out = {"logits": _whole(logits["prediction_scores"])}
    for name, param in model.named_parameters():
        out["grad." + name] = _whole(param.grad)
    return out


def _build(kind: str):
    flow.manual_seed(0)
    cls, cfg = (GPTForPreTraining, GPT_CFG) if kind == "gpt" else (BertForPreTraining, BERT_CFG)
    return cls(cfg=cfg)


def reference(out: Path) -> None:
    dist.setup_dist_util({"data_parallel_size": 1})
    for kind in ("gpt", "bert"):
        model = _build(kind)
        weights = {k: _whole(v) for k, v in model.state_dict().items()}
        np.savez(out / f"{kind}_weights.npz", **weights)
        np.savez(out / f"{kind}_results.npz", **_forward_backward(model, kind))
    model = _build("gpt")
    load_converted(model, dict(np.load(out / "gpt_weights.npz")), "")
    np.save(out / "gpt_losses.npy", np.array(_train_graph(model)))


def _train_graph(model) -> list:
    """PP_STEPS optimizer steps of 2 accumulated micro-batches; the per-micro-batch losses.

    Two micro-batches because a pipelined graph with a single one aborts in OneFlow 0.9.0
    on the CPU ("Check failed: separated_header_mem_ptr() == nullptr", register.cpp:75).
    """
    optimizer = flow.optim.SGD(model.parameters(), lr=0.1)
    graph = GraphBase(model, optimizer, None, is_train=True, grad_acc_steps=2)
    batch = _batch("gpt")
    losses = []
    for _ in range(PP_STEPS):
        loss = graph(**batch)["lm_loss"]
        losses.extend(_whole(loss).reshape(-1).tolist())
    return losses


def tensor_parallel(out: Path, mode: str = "tp") -> None:
    """``tp``: tensor_parallel_size=2; ``dp``: data_parallel_size=2 (the batch is split)."""
    tp, dp = (2, 1) if mode == "tp" else (1, 2)
    dist.setup_dist_util(
        {"data_parallel_size": dp, "tensor_parallel_size": tp, "pipeline_parallel_size": 1}
    )
    report = {}
    for kind in ("gpt", "bert"):
        model = _build(kind)
        load_converted(model, dict(np.load(out / f"{kind}_weights.npz")), "")
        qkv = model.GPT_model.transformer.layers[0] if kind == "gpt" else model.bert.encoders[0]
        report[f"{kind}_qkv_sbp"] = str(qkv.self_attention.query_key_value.weight.sbp)
        result = _forward_backward(model, kind)
        expected = dict(np.load(out / f"{kind}_results.npz"))
        assert sorted(result) == sorted(expected)
        report[f"{kind}_logits_max_diff"] = float(
            np.abs(result["logits"] - expected["logits"]).max()
        )
        report[f"{kind}_grad_max_diff"] = max(
            float(np.abs(result[k] - expected[k]).max()) for k in expected if k.startswith("grad.")
        )
        report[f"{kind}_num_grads"] = sum(k.startswith("grad.") for k in expected)
    if dist.get_rank() == 0:
        (out / f"{mode}.json").write_text(json.dumps(report))


def pipeline_parallel(out: Path) -> None:
    dist.setup_dist_util(
        {
            "data_parallel_size": 1,
            "tensor_parallel_size": 1,
            "pipeline_parallel_size": 2,
            "pipeline_num_layers": GPT_CFG["hidden_layers"],
        }
    )
    model = _build("gpt")
    load_converted(model, dict(np.load(out / "gpt_weights.npz")), "")
    layers = model.GPT_model.transformer.layers
    placements = [str(layer.input_layernorm.weight.placement) for layer in layers]
    losses = _train_graph(model)
    expected = np.load(out / "gpt_losses.npy").tolist()
    if dist.get_rank() == 0:
        (out / "pp.json").write_text(
            json.dumps({"losses": losses, "expected": expected, "placements": placements})
        )


if __name__ == "__main__":
    mode, target = sys.argv[1], Path(sys.argv[2])
    if mode == "dp":
        tensor_parallel(target, "dp")
    else:
        {"reference": reference, "tp": tensor_parallel, "pp": pipeline_parallel}[mode](target)
