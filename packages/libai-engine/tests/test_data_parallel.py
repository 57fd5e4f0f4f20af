"""Data parallel: 2 CPU processes under ``python -m oneflow.distributed.launch`` train like 1.

Same config, same global batch (8): one process with micro batch 8, two with 4
each. Every loss and evaluation metric must agree within 1e-5 (absolute; the
sums are reduced in a different order, measured difference about 1e-7).
"""

import pytest
from libai.engine.testing import launcher_command, run_process
from runner import CONFIGS, check_ok, engine_env, losses, metrics, run_engine

MLP = str(CONFIGS / "toy_mlp.py")


def launch_two(args, cwd):
    """Two ranks under OneFlow's launcher (a fresh port and one retry if a rank crashed)."""
    return run_process(
        lambda: launcher_command(2, "libai.engine.cli", "run", *args, module=True),
        cwd=cwd,
        env=engine_env(),
        timeout=300,
    )


@pytest.mark.parametrize("graph", [False, True], ids=["eager", "graph"])
def test_two_processes_match_one(tmp_path, graph):
    one, two = tmp_path / "one", tmp_path / "two"
    common = [f"graph.enabled={graph}", "train.global_batch_size=8"]
    check_ok(
        run_engine(
            [MLP, f"train.output_dir={one}", "train.train_micro_batch_size=8", *common], tmp_path
        )
    )
    proc = launch_two(
        [
            MLP,
            f"train.output_dir={two}",
            "train.train_micro_batch_size=4",
            "train.dist.data_parallel_size=2",
            *common,
        ],
        tmp_path,
    )
    check_ok(proc)
    ref, dp = losses(one), losses(two)
    assert sorted(dp) == list(range(12))
    for it in range(12):
        assert dp[it] == pytest.approx(ref[it], abs=1e-5), f"iteration {it}"
    assert [r["Acc@1"] for r in metrics(two) if "Acc@1" in r] == [
        r["Acc@1"] for r in metrics(one) if "Acc@1" in r
    ]
    # rank 1 logs to its own file; only rank 0 writes metrics, events and config
    assert (two / "log.txt.rank1").exists() and (two / "model_final" / "meta.json").exists()
