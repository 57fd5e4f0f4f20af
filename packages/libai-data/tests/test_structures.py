"""Instance / DistTensorData: collation and the move to a global tensor."""

from __future__ import annotations

import json
from functools import partial

import numpy as np
import pytest
from libai.data.structures import DistTensorData, Instance
from libai.engine.testing import launcher_command, run_process, subprocess_env
from libai.utils import distributed as dist
from libai.utils.oneflow_env import flow


def _sample(i):
    return Instance(
        input_ids=DistTensorData(flow.tensor([i, i + 1, i + 2], dtype=flow.long)),
        labels=DistTensorData(flow.tensor(i, dtype=flow.long), placement_idx=-1),
        text=[f"s{i}"],
    )


def test_instance_fields_and_errors():
    sample = _sample(3)
    assert len(sample) == 3
    assert sample.has("labels") and not sample.has("images")
    assert list(sample.get_fields()) == ["input_ids", "labels", "text"]
    sample.extra = DistTensorData(flow.zeros(2))
    assert sample.get("extra").tensor.shape == (2,)
    sample.remove("extra")
    with pytest.raises(AttributeError, match="did you mean 'labels'"):
        _ = sample.label
    with pytest.raises(NotImplementedError):
        iter(sample)


def test_stack_builds_a_batch_dimension():
    batch = Instance.stack([_sample(0), _sample(10)])
    ids = batch.get("input_ids")
    assert isinstance(ids, DistTensorData)
    assert ids.tensor.numpy().tolist() == [[0, 1, 2], [10, 11, 12]]
    assert batch.labels.tensor.numpy().tolist() == [0, 10]
    assert batch.labels.placement_idx == -1
    assert ids.sbp_list == ["split_0", "broadcast"]
    assert batch.text == [["s0"], ["s10"]]
    single = Instance.stack([_sample(5)])
    assert single.input_ids.tensor.shape == (1, 3)


def test_stack_of_plain_tensors_and_mismatches():
    batch = Instance.stack([Instance(x=flow.ones(2)), Instance(x=flow.zeros(2))])
    assert batch.x.numpy().tolist() == [[1.0, 1.0], [0.0, 0.0]]
    with pytest.raises(ValueError, match="different shapes"):
        DistTensorData.stack([DistTensorData(flow.ones(2)), DistTensorData(flow.ones(3))])
    with pytest.raises(ValueError, match="placement_idx differs"):
        DistTensorData.stack(
            [DistTensorData(flow.ones(2)), DistTensorData(flow.ones(2), placement_idx=-1)]
        )
    with pytest.raises(TypeError, match="must be a flow.Tensor"):
        DistTensorData.stack([DistTensorData(np.ones(2))])
    with pytest.raises(TypeError, match="cannot batch"):
        Instance.stack([Instance(x=1.5), Instance(x=2.5)])


def test_to_global_places_the_tensor_on_cpu_with_data_parallel_sbp():
    batch = Instance.stack([_sample(0), _sample(10)])
    for value in batch.get_fields().values():
        if isinstance(value, DistTensorData):
            value.to_global(device_type="cuda")  # falls back to cpu on this machine
    ids = batch.input_ids.tensor
    assert ids.is_global
    assert ids.placement.type == "cpu"
    # One process: no parallel axis exists, so the [split(0), broadcast] signature of a
    # batch reduces to broadcast (libai.utils.distributed.get_nd_sbp).
    assert ids.sbp == tuple(dist.get_nd_sbp([flow.sbp.split(0), flow.sbp.broadcast]))
    assert ids.sbp == (flow.sbp.broadcast,)
    assert ids.to_local().numpy().tolist() == [[0, 1, 2], [10, 11, 12]]
    assert batch.labels.tensor.is_global


def test_to_global_with_explicit_sbp_and_placement_and_a_bad_sbp_name():
    data = DistTensorData(flow.arange(4), sbp_list=["broadcast", "broadcast"])
    placement = flow.placement("cpu", [0])
    data.to_global(sbp=flow.sbp.broadcast, placement=placement)
    assert data.tensor.sbp == (flow.sbp.broadcast,)
    assert data.placement == placement
    bad = DistTensorData(flow.arange(4), sbp_list=["brodcast", "broadcast"])
    with pytest.raises(ValueError, match="did you mean 'broadcast'"):
        bad.to_global(device_type="cpu")


_TWO_RANKS = r"""
import json, sys
from libai.utils import distributed as dist
from libai.utils.oneflow_env import flow
from libai.data import CyclicSampler, DistTensorData, Instance

dist.setup_dist_util({"data_parallel_size": 2, "tensor_parallel_size": 1,
                      "pipeline_parallel_size": 1})
rank = dist.get_data_parallel_rank()
sampler = CyclicSampler(range(12), 3, data_parallel_rank=rank, data_parallel_size=2)
indices = next(iter(sampler))
batch = Instance.stack([Instance(x=DistTensorData(flow.tensor([i, 10 * i]))) for i in indices])
batch.x.to_global(device_type="cpu")
whole = batch.x.tensor.to_global(sbp=flow.sbp.broadcast).to_local().numpy().tolist()
if rank == 0:
    json.dump({"sbp": str(batch.x.tensor.sbp), "whole": whole}, open(sys.argv[1], "w"))
"""


def test_to_global_over_two_data_parallel_ranks_concatenates_their_batches(tmp_path):
    script = tmp_path / "two_ranks.py"
    script.write_text(_TWO_RANKS)
    result = tmp_path / "result.json"
    # a callable: a fresh port for each attempt
    cmd = partial(launcher_command, 2, str(script), str(result))
    proc = run_process(cmd, env=subprocess_env(), timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = json.loads(result.read_text())
    assert out["sbp"] == "(oneflow.sbp.split(dim=0),)"
    # Rank 0's bucket is samples 0-5, rank 1's 6-11: the global batch stacks both micro batches.
    assert out["whole"] == [[0, 0], [1, 10], [2, 20], [6, 60], [7, 70], [8, 80]]
