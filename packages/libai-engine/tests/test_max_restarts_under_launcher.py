"""``--max-restarts`` under ``python -m oneflow.distributed.launch`` (DESIGN.md section 9):
the whole group restarts, and the restarted run has the losses of one that never crashed."""

from __future__ import annotations

from libai.engine.testing import launcher_command, run_process
from runner import CONFIGS, check_ok, engine_env, losses, run_engine

MLP = str(CONFIGS / "toy_mlp.py")
DATA_PARALLEL_2 = [
    "train.train_micro_batch_size=4",
    "train.global_batch_size=8",
    "train.dist.data_parallel_size=2",
]


def test_a_crash_of_one_rank_restarts_the_whole_launcher_group(tmp_path):
    reference = tmp_path / "reference"
    check_ok(run_engine([MLP, f"train.output_dir={reference}"], tmp_path))

    out, marker = tmp_path / "out", tmp_path / "crashed"
    faults = f"+dataloader.train.faults={{crash_at:6,crash_rank:1,crash_marker:{marker}}}"
    cmd = launcher_command(
        2, "libai.engine.cli", "run", MLP, "--max-restarts", "1",
        f"train.output_dir={out}", *DATA_PARALLEL_2, faults, module=True,
    )  # fmt: skip
    proc = run_process(cmd, cwd=tmp_path, env=engine_env(), timeout=400, crash_retries=0)
    check_ok(proc)
    assert marker.read_text() == "rank 1 crashed at batch 6\n"
    assert "rank 1 steps aside: rank 0 starts and supervises all 2 ranks" in proc.stderr
    assert "training rank 1 died of SIGSEGV; restart 1/1 with --resume from iteration 4" in (
        proc.stderr
    )
    got, ref = losses(out), losses(reference)
    assert sorted(got) == list(range(12))
    for it in range(12):  # two data-parallel ranks == one process within summation order
        assert abs(got[it] - ref[it]) <= 1e-5, (it, got[it], ref[it])
