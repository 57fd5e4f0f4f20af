"""One-process and 2-process runs of a tiny LlamaForCausalLM (driven by test_llama_parallel.py).

    python llama_script.py reference OUT    # one process: weights, logits, grads, losses
    python -m oneflow.distributed.launch --nproc_per_node 2 llama_script.py tp OUT
    python -m oneflow.distributed.launch --nproc_per_node 2 llama_script.py pp OUT
    python llama_script.py accumulation OUT # graph gradient accumulation vs eager

``reference`` also trains in nn.Graph (with and without activation checkpointing) and in
eager mode from the same weights, and writes ``reference.json``. The parallel runs load
the reference weights (initialisation cannot differ), compare eager logits, loss,
gradients and generated ids, and rank 0 writes ``OUT/<mode>.json``.
Graph runs are subprocesses because OneFlow 0.9.0's CPU graph runtime segfaults now and then.
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
from libai_llama.modeling import LlamaForCausalLM

CFG = dict(
    hidden_layers=2,
    vocab_size=64,
    hidden_size=32,
    intermediate_size=48,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=32,
    rope_theta=10000.0,
    attention_bias=True,
    attention_output_bias=False,
)
STEPS = 3
LR = 0.5


def _global(array: np.ndarray):
    placement = dist.get_layer_placement(0)
    sbp = dist.get_nd_sbp([flow.sbp.split(0), flow.sbp.broadcast])
    # Every rank holds the whole batch; make it global without reading it as a shard.
    tensor = flow.tensor(array).to_global(placement=placement, sbp=[flow.sbp.broadcast] * len(sbp))
    return tensor.to_global(sbp=sbp)


def numpy_batch() -> dict:
    rng = np.random.default_rng(0)
    ids = rng.integers(0, CFG["vocab_size"], size=(4, 8)).astype(np.int64)
    labels = np.roll(ids, -1, axis=1)
    labels[:, -1] = -1  # ignored positions
    labels[0, :3] = -1
    return dict(input_ids=ids, labels=labels)


def batch(rows: slice = slice(None)) -> dict:
    return {k: _global(v[rows]) for k, v in numpy_batch().items()}


def whole(tensor) -> np.ndarray:
    """The whole tensor on every rank (it may live on one pipeline stage only)."""
    everywhere = flow.placement(tensor.placement.type, list(range(dist.get_world_size())))
    sbp = [flow.sbp.broadcast] * len(tensor.sbp)
    # A copy: numpy() may share the parameter's memory, which the optimizer updates.
    return tensor.to_global(placement=everywhere, sbp=sbp).to_local().numpy().copy()


def build(weights: Path | None = None, **overrides) -> LlamaForCausalLM:
    flow.manual_seed(0)
    model = LlamaForCausalLM(cfg=dict(CFG, **overrides))
    if weights is not None:
        load_converted(model, dict(np.load(weights)), "", str(weights))
    return model


def weights_of(model) -> dict:
    return {name: whole(param) for name, param in model.named_parameters()}


def eager_forward_backward(model) -> dict:
    data = batch()
    model.eval()
    with flow.no_grad():
        logits = model(input_ids=data["input_ids"])["logits"]
    model.train()
    loss = model(**data)["lm_loss"]
    loss.backward()
    out = {"logits": whole(logits), "loss": whole(loss)}
    out.update({"grad." + k: whole(p.grad) for k, p in model.named_parameters()})
    return out


def generate_ids(model) -> np.ndarray:
    """Greedy and 2-beam continuations (8 tokens) of a left-padded batch of two prompts."""
    model.eval()
    prompt = np.array([[5, 9, 14, 3, 22, 7], [0, 0, 11, 2, 30, 4]], dtype=np.int64)
    mask = (np.arange(6)[None, :] >= np.array([[0], [2]])).astype(np.int64)
    outputs = []
    for beams in (1, 2):
        ids = model.generate(
            flow.tensor(prompt),
            attention_mask=flow.tensor(mask),
            max_new_tokens=8,
            num_beams=beams,
            do_sample=False,
            eos_token_id=None,
            pad_token_id=0,
        )
        outputs.append((ids.to_local() if ids.is_global else ids).numpy())
    return np.stack(outputs)


def graph_train(model, grad_acc_steps: int = 1) -> list:
    """STEPS SGD steps in nn.Graph of ``grad_acc_steps`` micro-batches; the losses."""
    optimizer = flow.optim.SGD(model.parameters(), lr=LR)
    graph = GraphBase(
        model,
        optimizer,
        None,
        is_train=True,
        grad_acc_steps=grad_acc_steps,
    )
    data = batch()
    losses = []
    for _ in range(STEPS):
        losses.extend(whole(graph(**data)["lm_loss"]).reshape(-1).tolist())
    return losses


def eager_train(model) -> list:
    """What ``graph_train(model, grad_acc_steps=1)`` does, in eager mode."""
    optimizer = flow.optim.SGD(model.parameters(), lr=LR)
    data = batch()
    losses = []
    for _ in range(STEPS):
        loss = model(**data)["lm_loss"]
        loss.backward()
        losses.append(float(whole(loss)))
        optimizer.step()
        optimizer.zero_grad()
    return losses


def graph_one_step_grads(
    weights: Path, activation_checkpoint: bool = False, grad_acc_steps: int = 1
) -> dict:
    """Gradients of one graph step read back from SGD's update: ``(w0 - w1) / lr``."""
    model = build(weights)
    before = weights_of(model)
    optimizer = flow.optim.SGD(model.parameters(), lr=LR)
    graph = GraphBase(
        model,
        optimizer,
        None,
        is_train=True,
        activation_checkpoint=activation_checkpoint,
        grad_acc_steps=grad_acc_steps,
    )
    graph(**batch())
    after = weights_of(model)
    return {k: (before[k] - after[k]) / LR for k in before}


def reference(out: Path) -> None:
    dist.setup_dist_util({"data_parallel_size": 1})
    model = build()
    np.savez(out / "weights.npz", **weights_of(model))
    weights = out / "weights.npz"
    results = eager_forward_backward(build(weights))
    results["generated"] = generate_ids(build(weights))
    np.savez(out / "results.npz", **results)
    plain = graph_one_step_grads(weights, activation_checkpoint=False)
    checkpointed = graph_one_step_grads(weights, activation_checkpoint=True)
    report = {
        "graph_losses": graph_train(build(weights)),
        "eager_losses": eager_train(build(weights)),
        "checkpointed_vs_plain_grad_max_diff": max(
            float(np.abs(plain[k] - checkpointed[k]).max()) for k in plain
        ),
        "graph_vs_eager_grad_max_diff": max(
            float(np.abs(plain[k] - results["grad." + k]).max()) for k in plain
        ),
        "num_grads": len(plain),
        "grad_norm": float(np.sqrt(sum((g**2).sum() for g in plain.values()))),
    }
    (out / "reference.json").write_text(json.dumps(report))


def accumulation(out: Path, graphs: int = 3) -> None:
    """What ``LlamaForCausalLM.graph_gradient_accumulation_unsupported`` refuses, measured.

    Eager: two micro-batches of 2 rows, each loss halved, gradients accumulated. Graph:
    ``graphs`` fresh nn.Graphs with ``grad_acc_steps=2`` on the same 4 rows, one SGD step
    each. Writes ``OUT/accumulation.json`` with each graph's largest gradient difference.
    """
    dist.setup_dist_util({"data_parallel_size": 1})
    # Lift the refusal here only, to measure what it protects users from.
    LlamaForCausalLM.graph_gradient_accumulation_unsupported = None
    weights = out / "weights.npz"
    model = build(weights)
    for rows in (slice(0, 2), slice(2, 4)):
        (model(**batch(rows))["lm_loss"] / 2).backward()
    eager = {k: whole(p.grad) for k, p in model.named_parameters()}
    diffs = []
    for _ in range(graphs):
        grads = graph_one_step_grads(weights, grad_acc_steps=2)
        diffs.append(max(float(np.abs(grads[k] - eager[k]).max()) for k in eager))
    report = {
        "grad_max_diffs": diffs,
        "grad_norm": float(np.sqrt(sum((g**2).sum() for g in eager.values()))),
    }
    (out / "accumulation.json").write_text(json.dumps(report))


def _max_diff(result: dict, expected: dict, prefix: str) -> float:
    return max(
        float(np.abs(result[k] - expected[k]).max()) for k in expected if k.startswith(prefix)
    )


def compare_with_reference(out: Path, mode: str) -> None:
    """Eager logits, loss, gradients and generated ids under ``mode`` ("tp" or "pp")
    against the one-process reference; rank 0 writes ``OUT/<mode>.json``."""
    tp, pp = (2, 1) if mode == "tp" else (1, 2)
    dist.setup_dist_util(
        {
            "data_parallel_size": 1,
            "tensor_parallel_size": tp,
            "pipeline_parallel_size": pp,
            "pipeline_num_layers": CFG["hidden_layers"],
        }
    )
    model = build(out / "weights.npz")
    attn = model.model.layers[0].self_attn
    # Under pipeline parallelism the hidden states move from stage to stage.
    result = eager_forward_backward(model)
    result["generated"] = generate_ids(model)
    expected = dict(np.load(out / "results.npz"))
    assert sorted(result) == sorted(expected), sorted(set(result) ^ set(expected))
    report = {
        "qkv_sbp": str(attn.query_key_value.weight.sbp),
        "lm_head_sbp": str(model.lm_head.weight.sbp),
        "embedding_sbp": str(model.model.embed_tokens.weight.sbp),
        "placements": [str(layer.input_layernorm.weight.placement) for layer in model.model.layers],
        "logits_max_diff": _max_diff(result, expected, "logits"),
        "loss_diff": _max_diff(result, expected, "loss"),
        "grad_max_diff": _max_diff(result, expected, "grad."),
        "num_grads": sum(k.startswith("grad.") for k in result),
        "generated": result["generated"].tolist(),
        "expected_generated": expected["generated"].tolist(),
    }
    if dist.get_rank() == 0:
        (out / f"{mode}.json").write_text(json.dumps(report))


if __name__ == "__main__":
    mode, target = sys.argv[1], Path(sys.argv[2])
    if mode == "reference":
        reference(target)
    elif mode == "accumulation":
        accumulation(target)
    else:
        compare_with_reference(target, mode)
