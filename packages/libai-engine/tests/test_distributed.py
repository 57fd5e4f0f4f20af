"""libai.utils.distributed: layouts, errors, one-process training, and a real 2-process run."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from libai.engine.testing import launcher_command, run_process, subprocess_env
from libai.utils import distributed as dist
from libai.utils.oneflow_env import flow
from omegaconf import OmegaConf


@pytest.fixture(autouse=True)
def _fresh_layout():
    dist.reset_dist_util()
    yield
    dist.reset_dist_util()


def test_default_setup_is_one_process_cpu_and_writes_actual_sizes_back():
    cfg = OmegaConf.create(
        dict(data_parallel_size=1, tensor_parallel_size=1, pipeline_parallel_size=1)
    )
    dist.setup_dist_util(cfg)
    util = dist.get_dist_util()
    assert (util.world_size, util.data_parallel_size, util.tensor_parallel_size) == (1, 1, 1)
    assert util.device_type == "cpu"
    assert cfg.device_type == "cpu" and cfg.num_nodes == 1 and cfg.pipeline_num_layers == 10000
    assert dist.get_rank() == 0 and dist.is_main_process() and dist.is_last_process()
    assert dist.get_data_parallel_rank() == 0
    assert util.is_first_stage and util.is_last_stage
    assert dist.get_layer_placement(0) == flow.placement("cpu", [0])
    assert dist.get_layer_placement(5, device_type="cuda") == flow.placement("cpu", [0])
    assert dist.get_nd_sbp([flow.sbp.split(0), flow.sbp.split(1)]) == [flow.sbp.broadcast]
    assert dist.get_hidden_sbp() == [flow.sbp.broadcast]


def test_get_dist_util_sets_up_a_default_when_nothing_was_set():
    assert dist.get_dist_util().data_parallel_size == 1
    assert dist.get_data_parallel_size() == 1
    assert dist.get_pipeline_parallel_size() == 1


def test_linear_converted_to_global_trains_like_a_local_one():
    dist.setup_dist_util(dict(data_parallel_size=1, tensor_parallel_size=1))
    flow.manual_seed(3)
    local = flow.nn.Linear(4, 3)
    w0, b0 = local.weight.numpy().copy(), local.bias.numpy().copy()
    model = dist.convert_to_distributed_default_setting(local)
    assert model.weight.is_global and model.weight.placement == dist.get_layer_placement(0)
    x_np = np.arange(8, dtype=np.float32).reshape(2, 4) / 8
    x = flow.tensor(x_np).to_global(
        placement=dist.get_layer_placement(0), sbp=dist.get_hidden_sbp()
    )
    out = model(x)
    np.testing.assert_allclose(dist.tton(out), x_np @ w0.T + b0, rtol=1e-5, atol=1e-6)
    out.sum().backward()
    # d(sum(xW^T + b))/dW = column sums of x for every output row.
    expected_grad = np.tile(x_np.sum(axis=0), (3, 1))
    np.testing.assert_allclose(dist.tton(model.weight.grad), expected_grad, rtol=1e-6)
    np.testing.assert_allclose(dist.tton(model.bias.grad), [2.0, 2.0, 2.0])
    assert dist.ttol(model.weight).is_local


def test_sizes_that_do_not_fit_the_world_explain_the_arithmetic():
    with pytest.raises(dist.DistConfigError) as info:
        dist.setup_dist_util(dict(data_parallel_size=2, tensor_parallel_size=1))
    msg = str(info.value)
    assert (
        "data_parallel_size (2) * tensor_parallel_size (1) * pipeline_parallel_size (1) = 2" in msg
    )
    assert "train.dist.data_parallel_size=1" in msg

    with pytest.raises(dist.DistConfigError, match=r"tensor_parallel_size \(2\) \* pipeline"):
        dist.setup_dist_util(dict(tensor_parallel_size=2))
    with pytest.raises(dist.DistConfigError, match="must be a positive integer"):
        dist.setup_dist_util(dict(tensor_parallel_size=0))
    with pytest.raises(dist.DistConfigError, match="'cuda' or 'cpu'"):
        dist.setup_dist_util(dict(device_type="tpu"))


def test_auto_pipeline_stage_ids_match_libai():
    assert dist._auto_stage_ids(4, 2) == [0, 0, 1, 1]
    # Remainder layers go to the last stages.
    assert dist._auto_stage_ids(5, 2) == [0, 0, 1, 1, 1]
    assert dist._auto_stage_ids(7, 3) == [0, 0, 1, 1, 2, 2, 2]
    # 4+ stages with an even split of 8+ layers: the count is padded to 10 and cut
    # back to 8, so the last stage (which also holds the head) gets fewer layers.
    assert dist._auto_stage_ids(8, 4) == [0, 0, 1, 1, 2, 2, 2, 3]
    assert dist._auto_stage_ids(3, 1) == [0, 0, 0]


def test_custom_pipeline_stage_ids_are_checked():
    assert dist._check_custom_stage_ids([0, 0, 0, 1], 4, 2) == [0, 0, 0, 1]
    with pytest.raises(dist.DistConfigError, match="has 3 entries but .*pipeline_num_layers is 4"):
        dist._check_custom_stage_ids([0, 0, 1], 4, 2)
    with pytest.raises(dist.DistConfigError, match=r"contains 2, but stage ids must be in 0..1"):
        dist._check_custom_stage_ids([0, 1, 2, 1], 4, 2)


def test_same_sbp_and_get_nd_sbp_input_check():
    assert dist.same_sbp([flow.sbp.split(0)], [flow.sbp.split(0)])
    assert not dist.same_sbp([flow.sbp.split(0)], [flow.sbp.split(1)])
    assert not dist.same_sbp([flow.sbp.broadcast], [flow.sbp.broadcast, flow.sbp.broadcast])
    with pytest.raises(TypeError, match="two flow.sbp values"):
        dist.get_nd_sbp([flow.sbp.broadcast])


@pytest.fixture(scope="module")
def two_process_result(tmp_path_factory) -> dict:
    """One real 2-process launch (about 15 s); every test below reads its output."""
    out = tmp_path_factory.mktemp("two_proc") / "result.json"
    script = Path(__file__).parent / "dist_scripts" / "two_proc_check.py"
    # a callable: a fresh port for each attempt
    cmd = partial(launcher_command, 2, str(script), str(out))
    proc = run_process(cmd, env=subprocess_env(), timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(out.read_text())


def test_two_process_data_parallel_sum(two_process_result):
    assert two_process_result["world_size"] == 2
    # rank 0 holds [1, 1, 1], rank 1 holds [2, 2, 2]: the global sum is 9.
    assert two_process_result["dp_sum"] == 9.0


def test_two_process_tensor_parallel_linear_matches_one_process(two_process_result):
    tp = two_process_result["tp"]
    weight, bias = np.array(tp["weight"]), np.array(tp["bias"])
    x = np.arange(8, dtype=np.float32).reshape(2, 4) / 8
    np.testing.assert_allclose(np.array(tp["out"]), x @ weight.T + bias, rtol=1e-5, atol=1e-6)
    assert tp["out_sbp"] == "(oneflow.sbp.split(dim=1),)"
    assert tp["data_parallel_rank"] == 0


def test_two_process_evaluators_combine_rank_shards(two_process_result):
    from libai.evaluation import BLEUEvaluator, PPLEvaluator

    ev = two_process_result["eval"]
    # 3 of the 4 samples (two per rank) are right, whether each rank saw its own
    # local shard (gathered in evaluate) or global tensors (read whole).
    assert ev["local_acc"] == 75.0 and ev["global_acc"] == 75.0
    assert ev["gathered"] == [{"rank": 0}, {"rank": 1}]

    logits = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]], dtype=np.float32)
    ppl = PPLEvaluator()
    ppl.process({"labels": flow.tensor([1, 1, 1, 0])}, {"prediction_scores": flow.tensor(logits)})
    assert ev["ppl"] == pytest.approx(ppl.evaluate()["PPL"], rel=1e-9)

    bleu = BLEUEvaluator()
    bleu.process(
        {"reference": ["the cat is on the mat", "the quick brown fox"]},
        {"candidate": ["the cat sat on the mat", "a quick brown fox"]},
    )
    assert ev["bleu"] == pytest.approx(bleu.evaluate()["bleu_score"])


def test_two_process_checkpoint_round_trip(two_process_result):
    ck = two_process_result["checkpoint"]
    assert ck["extra"] == {"iteration": 0}
    assert ck["sbp"] == "(oneflow.sbp.broadcast,)"
    np.testing.assert_array_equal(np.array(ck["weight2"]), np.array(ck["weight"]))


def test_two_process_checkpoint_of_tensors_on_rank1_and_split(two_process_result):
    ck = two_process_result["placed_checkpoint"]
    assert ck["extra"] == {"iteration": 0}
    # loaded back with each parameter's own placement and sbp; one more Adam step on
    # both (optimizer state restored too) keeps them equal
    assert ck["placements"] == [
        'oneflow.placement(type="cpu", ranks=[0, 1]) (oneflow.sbp.split(dim=0),)',
        'oneflow.placement(type="cpu", ranks=[0, 1]) (oneflow.sbp.split(dim=0),)',
        'oneflow.placement(type="cpu", ranks=[1]) (oneflow.sbp.broadcast,)',
        'oneflow.placement(type="cpu", ranks=[1]) (oneflow.sbp.broadcast,)',
    ]
    for got, want in zip(ck["weights2"], ck["weights"]):
        np.testing.assert_array_equal(np.array(got), np.array(want))


def test_two_process_pipeline_stages_match_one_process(two_process_result):
    pipe = two_process_result["pipeline"]
    assert pipe["placements"] == [
        'oneflow.placement(type="cpu", ranks=[0])',
        'oneflow.placement(type="cpu", ranks=[1])',
    ]
    assert pipe["stage_ids"] == [0, 1]
    assert pipe["last_stage_by_rank"] == [False, True]
    w1, b1, w2, b2 = (np.array(w) for w in pipe["weights"])
    x = np.arange(8, dtype=np.float32).reshape(2, 4) / 8
    expected = (x @ w1.T + b1) @ w2.T + b2
    np.testing.assert_allclose(np.array(pipe["out"]), expected, rtol=1e-5, atol=1e-6)


def test_two_process_whole_value_from_a_2d_placement(two_process_result):
    assert two_process_result["whole_2d"] == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
