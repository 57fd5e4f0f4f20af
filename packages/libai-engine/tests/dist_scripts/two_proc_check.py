"""Run under ``python -m oneflow.distributed.launch --nproc_per_node 2``; see test_distributed.py.

Rank 0 writes a JSON file (argv[1]) with values the test compares against a
one-process computation of the same numbers.
"""

import json
import sys

from libai.utils import distributed as dist
from libai.utils.oneflow_env import flow


def data_parallel_sum() -> float:
    dist.setup_dist_util({"data_parallel_size": 2})
    # Each rank contributes its own local shard; the global tensor is split(0) over ranks.
    local = flow.tensor([float(dist.get_rank() + 1)] * 3)
    glob = local.to_global(placement=dist.get_layer_placement(0), sbp=dist.get_hidden_sbp())
    return float(dist.tton(glob.sum()))


def tensor_parallel_linear() -> list:
    dist.setup_dist_util({"data_parallel_size": 1, "tensor_parallel_size": 2})
    flow.manual_seed(0)
    linear = flow.nn.Linear(4, 6)
    weight, bias = linear.weight.numpy(), linear.bias.numpy()
    placement = dist.get_layer_placement(0)
    split_out = dist.get_nd_sbp([flow.sbp.broadcast, flow.sbp.split(0)])
    col = flow.nn.Linear(4, 6)
    # A local tensor given to to_global is read as this rank's shard: broadcast the
    # full value first, then split it, so each rank holds half of the output features.
    whole = dist.get_nd_sbp([flow.sbp.broadcast] * 2)
    col.weight = flow.nn.Parameter(
        flow.tensor(weight).to_global(placement, whole).to_global(sbp=split_out)
    )
    col.bias = flow.nn.Parameter(
        flow.tensor(bias).to_global(placement, whole).to_global(sbp=split_out)
    )
    x = flow.arange(8, dtype=flow.float32).reshape(2, 4) / 8
    x = x.to_global(placement=placement, sbp=dist.get_nd_sbp([flow.sbp.broadcast] * 2))
    out = col(x)
    return {
        "out": dist.tton(out).tolist(),
        "weight": weight.tolist(),
        "bias": bias.tolist(),
        "out_sbp": str(out.sbp),
        "data_parallel_rank": dist.get_data_parallel_rank(),
    }


def evaluation_across_ranks() -> dict:
    import numpy as np
    from libai.evaluation import BLEUEvaluator, ClsEvaluator, PPLEvaluator

    dist.setup_dist_util({"data_parallel_size": 2})
    rank = dist.get_rank()
    logits = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]], dtype=np.float32)
    labels = np.array([1, 1, 1, 0])
    # Rank-local shards: rank 0 sees samples 0-1, rank 1 sees samples 2-3.
    local = ClsEvaluator(topk=(1,))
    local.process(
        {"labels": flow.tensor(labels[2 * rank : 2 * rank + 2])},
        {"prediction_scores": flow.tensor(logits[2 * rank : 2 * rank + 2])},
    )
    # Global tensors split over the data-parallel axis: each rank reads all 4 samples.
    placement, sbp = dist.get_layer_placement(0), dist.get_hidden_sbp()
    whole = ClsEvaluator(topk=(1,))
    whole.process(
        {"labels": flow.tensor(labels[2 * rank : 2 * rank + 2]).to_global(placement, sbp)},
        {
            "prediction_scores": flow.tensor(logits[2 * rank : 2 * rank + 2]).to_global(
                placement, sbp
            )
        },
    )
    ppl = PPLEvaluator()
    ppl.process(
        {"labels": flow.tensor(labels[2 * rank : 2 * rank + 2])},
        {"prediction_scores": flow.tensor(logits[2 * rank : 2 * rank + 2])},
    )
    bleu = BLEUEvaluator()
    sentences = [["the cat sat on the mat"], ["a quick brown fox"]][rank]
    references = [["the cat is on the mat"], ["the quick brown fox"]][rank]
    bleu.process({"reference": references}, {"candidate": sentences})
    return {
        "local_acc": local.evaluate()["Acc@1"],
        "global_acc": whole.evaluate()["Acc@1"],
        "ppl": ppl.evaluate()["PPL"],
        "bleu": bleu.evaluate()["bleu_score"],
        "gathered": dist.all_gather_object({"rank": rank}),
    }


def pipeline_two_stages() -> dict:
    dist.setup_dist_util(
        {"data_parallel_size": 1, "pipeline_parallel_size": 2, "pipeline_num_layers": 2}
    )
    util = dist.get_dist_util()
    flow.manual_seed(0)
    first, second = flow.nn.Linear(4, 3), flow.nn.Linear(3, 2)
    weights = [t.numpy().tolist() for t in (first.weight, first.bias, second.weight, second.bias)]
    broadcast = dist.get_nd_sbp([flow.sbp.broadcast] * 2)
    first.to_global(placement=dist.get_layer_placement(0), sbp=broadcast)
    second.to_global(placement=dist.get_layer_placement(1), sbp=broadcast)
    x = flow.arange(8, dtype=flow.float32).reshape(2, 4) / 8
    x = x.to_global(placement=dist.get_layer_placement(0), sbp=broadcast)
    hidden = first(x).to_global(placement=dist.get_layer_placement(1))
    out = second(hidden)
    return {
        "placements": [str(dist.get_layer_placement(i)) for i in range(2)],
        "stage_ids": [dist.get_layer_stage_id(i) for i in range(2)],
        "last_stage_by_rank": dist.all_gather_object(util.is_last_stage),
        "weights": weights,
        "out": dist.to_whole_local(out).numpy().tolist(),
    }


def whole_from_2d_placement() -> list:
    # A 2D mesh [[0, 1]] (what a dp x tp layout produces), split on the second axis.
    mesh = flow.placement("cpu", [[0, 1]])
    value = flow.arange(6, dtype=flow.float32).reshape(2, 3)
    value = value.to_global(placement=mesh, sbp=[flow.sbp.broadcast, flow.sbp.broadcast])
    value = value.to_global(sbp=[flow.sbp.broadcast, flow.sbp.split(1)])
    return dist.to_whole_local(value).numpy().tolist()


def checkpoint_round_trip(save_dir: str) -> dict:
    from libai.utils.checkpoint import Checkpointer

    dist.setup_dist_util({"data_parallel_size": 2})
    placement = dist.get_layer_placement(0)

    def build(seed):
        flow.manual_seed(seed)
        model = dist.convert_to_distributed_default_setting(flow.nn.Linear(3, 2))
        return model, flow.optim.Adam(model.parameters(), lr=0.1)

    model, optimizer = build(0)
    x = flow.ones(4, 3).to_global(placement=placement, sbp=flow.sbp.broadcast)
    x = x.to_global(sbp=dist.get_hidden_sbp())
    model(x).sum().backward()
    optimizer.step()
    optimizer.zero_grad()
    Checkpointer(model, save_dir, optimizer=optimizer).save("model_0000000", iteration=0)
    model2, optimizer2 = build(1)
    extra = Checkpointer(model2, save_dir, optimizer=optimizer2).resume_or_load(None)
    # One more identical step on both must keep them equal.
    for m, o in ((model, optimizer), (model2, optimizer2)):
        m(x).sum().backward()
        o.step()
    return {
        "extra": extra,
        "weight": dist.tton(model.weight).tolist(),
        "weight2": dist.tton(model2.weight).tolist(),
        "sbp": str(model2.weight.sbp),
    }


def checkpoint_of_placed_tensors(save_dir: str) -> dict:
    """A parameter on rank 1 alone (a second pipeline stage) and one split over both
    ranks: saved (gathered to rank 0 before rank 0 writes) and loaded back in place."""
    from libai.utils.checkpoint import Checkpointer

    def build(seed):
        flow.manual_seed(seed)
        model = flow.nn.Sequential(flow.nn.Linear(3, 4), flow.nn.Linear(4, 2))
        # local -> broadcast first (a local tensor given a split sbp would be one shard)
        model[0].to_global(placement=flow.placement("cpu", [0, 1]), sbp=flow.sbp.broadcast)
        model[0].to_global(placement=flow.placement("cpu", [0, 1]), sbp=flow.sbp.split(0))
        model[1].to_global(placement=flow.placement("cpu", [1]), sbp=flow.sbp.broadcast)
        return model, flow.optim.Adam(model.parameters(), lr=0.1)

    def step(model, optimizer):
        x = flow.ones(2, 3).to_global(placement=flow.placement("cpu", [0, 1]),
                                      sbp=flow.sbp.broadcast)  # fmt: skip
        h = model[0](x).to_global(placement=flow.placement("cpu", [1]), sbp=flow.sbp.broadcast)
        model[1](h).sum().backward()
        optimizer.step()
        optimizer.zero_grad()

    model, optimizer = build(0)
    step(model, optimizer)
    Checkpointer(model, save_dir, optimizer=optimizer).save("model_0000000", iteration=0)
    model2, optimizer2 = build(1)
    extra = Checkpointer(model2, save_dir, optimizer=optimizer2).resume_or_load(None)
    step(model, optimizer)
    step(model2, optimizer2)
    return {
        "extra": extra,
        "weights": [dist.tton(p).tolist() for p in model.parameters()],
        "weights2": [dist.tton(p).tolist() for p in model2.parameters()],
        "placements": [f"{p.placement} {p.sbp}" for p in model2.parameters()],
    }


if __name__ == "__main__":
    result = {"world_size": dist.get_world_size(), "dp_sum": data_parallel_sum()}
    result["tp"] = tensor_parallel_linear()
    result["eval"] = evaluation_across_ranks()
    result["pipeline"] = pipeline_two_stages()
    result["whole_2d"] = whole_from_2d_placement()
    result["checkpoint"] = checkpoint_round_trip(sys.argv[1] + ".ckpt")
    result["placed_checkpoint"] = checkpoint_of_placed_tensors(sys.argv[1] + ".ckpt2")
    dist.synchronize()
    if dist.is_main_process():
        with open(sys.argv[1], "w") as f:
            json.dump(result, f)
