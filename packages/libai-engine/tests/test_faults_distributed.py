"""Runs that survive faults on two ranks (DESIGN.md section 9), through
``libai-engine run --nproc-per-node 2`` as a user runs it.

- SIGTERM mid-run, to the whole process group (as a scheduler sends it) or to rank 1
  alone: exit 143, both ranks stop after the same iteration (rank 0 learns of rank 1's
  signal through the all-reduce in ``libai.engine.stop``), exactly one checkpoint of
  that iteration is written, complete and newest, no restart follows (even with
  ``--max-restarts``: a stop is not a crash), and ``--resume``
  on two ranks gives every loss of an uninterrupted two-rank run.
- The same under ``python -m oneflow.distributed.launch``, whose own exit status on
  SIGTERM is 1 at once (its code): the ranks still stop together, save, and resume.
- A checkpoint rank 0 cannot write (``RLIMIT_FSIZE``), of a model split over two
  ranks: both ranks report the same error naming the path and exit 1 instead of
  waiting for each other, nothing is left running, and ``--resume`` continues from the
  previous checkpoint.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import time
from pathlib import Path

import pytest
from libai.engine.testing import BackgroundProcess, engine_command, launcher_command, run_process
from runner import CONFIGS, check_ok, engine_env, losses, metrics, run_engine

MLP = str(CONFIGS / "toy_mlp.py")
TWO_RANKS = [
    "--nproc-per-node",
    "2",
    "train.train_micro_batch_size=4",
    "train.global_batch_size=8",
    "train.dist.data_parallel_size=2",
]
ITERS = 30
LONG = [f"train.train_iter={ITERS}", "train.log_period=1"]
TIMEOUT = 400  # two ranks on cores shared with other jobs: generous


def _proc_stat(pid: str) -> list[str]:
    """The fields of ``/proc/<pid>/stat`` after the command name (state, ppid, pgrp, ...)."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def _processes() -> list[str]:
    return [p for p in os.listdir("/proc") if p.isdigit()]


def _living_in_group(pgid: int) -> list[int]:
    """Processes of group ``pgid`` that are still running (zombies do not count)."""
    alive = []
    for pid in _processes():
        try:
            state, _, pgrp = _proc_stat(pid)[:3]
        except (OSError, IndexError):
            continue  # ended while we looked
        if int(pgrp) == pgid and state != "Z":
            alive.append(int(pid))
    return alive


def _rank_pid(supervisor: int, rank: int) -> int:
    """The pid of the supervisor's child that runs ``rank``."""
    for pid in _processes():
        try:
            if int(_proc_stat(pid)[1]) != supervisor:
                continue
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = f.read().split(b"\0")
        except (OSError, IndexError):
            continue
        if f"RANK={rank}".encode() in env:
            return int(pid)
    raise AssertionError(f"no rank {rank} among the children of {supervisor}")


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    """A two-rank toy_mlp run of 30 iterations that nothing interrupts."""
    out = tmp_path_factory.mktemp("uninterrupted") / "out"
    check_ok(run_engine([MLP, *TWO_RANKS, f"train.output_dir={out}", *LONG], out.parent,
                        timeout=TIMEOUT))  # fmt: skip
    assert sorted(losses(out)) == list(range(ITERS))
    return out


def _assert_same_losses(run: Path, reference: Path) -> None:
    got, ref = losses(run), losses(reference)
    assert sorted(got) == list(range(ITERS))
    for it in range(ITERS):
        assert got[it] == pytest.approx(ref[it], abs=1e-6), f"iteration {it}"


@pytest.mark.parametrize("target", ["group", "rank1"])
def test_sigterm_stops_both_ranks_at_one_iteration_and_resume_is_exact(
    tmp_path, uninterrupted, target
):
    out = tmp_path / "out"
    # With restarts allowed: a rank that stopped on a signal must not count as a crash.
    cmd = engine_command("run", str(CONFIGS / "toy_mlp_slow.py"), *TWO_RANKS,
                         "--max-restarts", "1", f"train.output_dir={out}", *LONG)  # fmt: skip
    with BackgroundProcess(cmd, env=engine_env()) as run:
        supervisor = run.proc.pid  # the leader of the run's process group
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline and run.poll() is None:
            if (out / "metrics.json").exists() and any(
                r.get("iteration", 0) >= 5 for r in metrics(out)
            ):
                if target == "group":  # what a scheduler does: the supervisor and both ranks
                    os.killpg(supervisor, signal.SIGTERM)
                else:
                    os.kill(_rank_pid(supervisor, 1), signal.SIGTERM)
                break
            time.sleep(0.05)
        returncode = run.wait(timeout=max(deadline - time.monotonic(), 1))
        err = run.stderr()
        left = _living_in_group(supervisor)
    assert returncode == 128 + signal.SIGTERM, err[-3000:]
    assert left == [], f"processes left running after the run ended: {left}"
    assert "restart" not in err

    stopped_at = max(losses(out))
    assert 5 <= stopped_at < ITERS - 1
    name = f"model_{stopped_at:07d}"
    stopped = f"stopped by SIGTERM after iteration {stopped_at}; checkpoint {out / name} written"
    # each rank says where it stopped: the same iteration, the same checkpoint
    for log in ("log.txt", "log.txt.rank1"):
        assert stopped in (out / log).read_text(), log
    assert err.count(stopped) == 2
    if target == "rank1":  # only rank 1 got the signal; rank 0 stopped because rank 1 did
        assert "SIGTERM received" in (out / "log.txt.rank1").read_text()
        assert "SIGTERM received" not in (out / "log.txt").read_text()

    # exactly one checkpoint of that iteration, complete and newest
    assert (out / "last_checkpoint").read_text() == name
    assert not list(out.glob("*.tmp-*"))
    numbered = sorted(p.name for p in out.glob("model_???????"))
    assert numbered[-1] == name and numbered.count(name) == 1
    meta = json.loads((out / name / "meta.json").read_text())
    assert meta["extra"]["iteration"] == stopped_at and meta["world_size"] == 2
    assert len(meta["rng_states"]) == 2

    proc = run_engine([MLP, *TWO_RANKS, "--resume", f"train.output_dir={out}", *LONG],
                      tmp_path, timeout=TIMEOUT)  # fmt: skip
    check_ok(proc)
    assert f"Resumed from iteration {stopped_at + 1}" in proc.stdout + proc.stderr
    _assert_same_losses(out, uninterrupted)


def _wait_until_gone(pgid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while _living_in_group(pgid):
        assert time.monotonic() < deadline, f"ranks still running: {_living_in_group(pgid)}"
        time.sleep(0.2)


def test_sigterm_under_oneflows_launcher_stops_both_ranks_at_one_iteration(tmp_path, uninterrupted):
    out = tmp_path / "out"
    dist = TWO_RANKS[2:]  # the launcher starts the ranks: no --nproc-per-node
    script = ["libai.engine.cli", "run", str(CONFIGS / "toy_mlp_slow.py"), *dist,
              f"train.output_dir={out}", *LONG]  # fmt: skip
    with BackgroundProcess(launcher_command(2, *script, module=True), env=engine_env()) as run:
        launcher = run.proc.pid
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline and run.poll() is None:
            if (out / "metrics.json").exists() and any(
                r.get("iteration", 0) >= 5 for r in metrics(out)
            ):
                os.killpg(launcher, signal.SIGTERM)
                break
            time.sleep(0.05)
        returncode = run.wait(timeout=max(deadline - time.monotonic(), 1))
        # OneFlow's launcher exits at once; its ranks finish the iteration and the save
        _wait_until_gone(launcher, max(deadline - time.monotonic(), 1))
        err = run.stderr()
    assert returncode == 1, err[-3000:]  # oneflow/distributed/launch.py: sys.exit(1)

    stopped_at = max(losses(out))
    name = f"model_{stopped_at:07d}"
    stopped = f"stopped by SIGTERM after iteration {stopped_at}; checkpoint {out / name} written"
    for log in ("log.txt", "log.txt.rank1"):
        assert stopped in (out / log).read_text(), log
    assert (out / "last_checkpoint").read_text() == name
    assert not list(out.glob("*.tmp-*"))

    proc = run_process(
        launcher_command(2, *script, "--resume", module=True),
        cwd=tmp_path,
        env=engine_env(),
        timeout=TIMEOUT,
    )
    check_ok(proc)
    _assert_same_losses(out, uninterrupted)


def test_a_checkpoint_rank0_cannot_write_fails_every_rank_without_a_hang(tmp_path):
    """hidden=4096 makes fc1's weight 256 KiB; 12 iterations save model_0000003, 7 and final
    normally; the resumed run to 20 iterations under a 128 KiB file size limit cannot."""
    out = tmp_path / "out"
    # fc1 split over the two ranks (tensor parallel): rank 0 must receive rank 1's half,
    # so a gather that rank 0 abandons when its write fails would leave rank 1 waiting
    tensor_parallel = ["--nproc-per-node", "2", "train.dist.tensor_parallel_size=2",
                       "train.dist.data_parallel_size=1", "model.split_fc1=True"]  # fmt: skip
    common = [*tensor_parallel, f"train.output_dir={out}", "model.hidden=4096",
              "train.evaluation.enabled=False"]  # fmt: skip
    check_ok(run_engine([MLP, *common], tmp_path, timeout=TIMEOUT))
    assert (out / "last_checkpoint").read_text() == "model_final"

    def limited() -> None:  # inherited by both ranks
        resource.setrlimit(resource.RLIMIT_FSIZE, (128 * 1024, 128 * 1024))

    with BackgroundProcess(
        engine_command("run", MLP, "--resume", *common, "train.train_iter=20"),
        cwd=tmp_path,
        env=engine_env(),
        preexec_fn=limited,
    ) as run:
        returncode = run.wait(timeout=TIMEOUT)
        err = run.stderr()
        left = _living_in_group(run.proc.pid)
    assert returncode == 1, err[-3000:]
    assert left == [], f"processes left running after the run ended: {left}"
    message = f"error: cannot write checkpoint 'model_0000015': {out}/model_0000015.tmp-"
    assert err.count(message) == 2, err[-3000:]  # rank 0's error, raised on both ranks
    assert "File too large" in err
    for log in ("log.txt", "log.txt.rank1"):
        assert "cannot write checkpoint 'model_0000015'" in (out / log).read_text(), log
    assert (out / "last_checkpoint").read_text() == "model_final"
    assert not (out / "model_0000015").exists() and not list(out.glob("*.tmp-*"))

    proc = run_engine([MLP, "--resume", *common, "train.train_iter=20"], tmp_path,
                      timeout=TIMEOUT)  # fmt: skip
    check_ok(proc)
    assert "Resumed from iteration 12" in proc.stdout + proc.stderr
    assert (out / "last_checkpoint").read_text() == "model_final"
    assert sorted(losses(out)) == list(range(20))
