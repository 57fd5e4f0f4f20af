"""Graph step time with and without libai's fix of OneFlow 0.9.0's lazy-job queue race.

The fix (``libai.utils.graph_race_fix``, engine README "Graph runs and the CPU
segfault") adds a mutex and two counters to every graph step and, when a job
finishes before OneFlow records it, makes the finish callback wait for that. This
measures what that costs: the tiny MLP graph of ``segfault_probe.py`` (a few ms per
step, so any per-step overhead shows) is trained for ``--steps`` steps in fresh
processes, alternately with ``LIBAI_GRAPH_RACE_FIX=0`` and ``=1``, ``--rounds`` times.
Reported per step after the first (which compiles the graph): the median and best wall
time and the median process CPU time (all threads) of each setting, and their ratio.

Run: GLOG_minloglevel=2 .tox/full/bin/python benchmarks/graph_race_fix_bench.py [--rounds 10]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1] / "packages/libai-engine/tests"
PROBE = TESTS / "segfault_probe.py"
sys.path.insert(0, str(TESTS))

from segfault_probe import run_child  # noqa: E402


def _one(fix: str, steps: int, worker_thread: str) -> dict[str, float]:
    env = dict(os.environ, GLOG_minloglevel="2", LIBAI_GRAPH_RACE_FIX=fix)
    env["ONEFLOW_VM_COMPUTE_ON_WORKER_THREAD"] = worker_thread
    cmd = [sys.executable, str(PROBE), "--child", "--mode", "numpy", "--steps", str(steps)]
    proc = run_child(cmd, env)
    if proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd)} (fix={fix}) exited {proc.returncode}:\n{proc.stderr[-2000:]}"
        )
    fields = dict(f.split("=") for f in proc.stdout.split() if "=" in f)
    return {k: float(v) for k, v in fields.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument(
        "--worker-thread",
        default="1",
        help="ONEFLOW_VM_COMPUTE_ON_WORKER_THREAD (1: OneFlow's default; 0: the probe's crash-prone mode)",
    )
    args = parser.parse_args()
    runs: dict[str, list[dict[str, float]]] = {"0": [], "1": []}
    crashed = {"0": 0, "1": 0}
    for _ in range(args.rounds):
        for fix in ("0", "1"):
            try:
                runs[fix].append(_one(fix, args.steps, args.worker_thread))
            except RuntimeError as exc:
                if f"exited -{signal.SIGSEGV}" not in str(exc):
                    raise
                crashed[fix] += 1  # only expected without the fix
    print(
        f"{args.rounds} rounds x {args.steps} steps, "
        f"ONEFLOW_VM_COMPUTE_ON_WORKER_THREAD={args.worker_thread}"
    )
    print(
        "| fix | runs (crashed) | median ms/step | best ms/step | median CPU ms/step | waits/run |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    medians = {}
    for fix, label in (("0", "off"), ("1", "on")):
        rows = runs[fix]
        wall = [r["step_ms"] for r in rows]
        medians[fix] = statistics.median(wall)
        waits = statistics.mean(r["waits"] for r in rows) if fix == "1" else float("nan")
        print(
            f"| {label} | {len(rows)} ({crashed[fix]}) | {medians[fix]:.2f} | {min(wall):.2f} | "
            f"{statistics.median(r['cpu_ms'] for r in rows):.2f} | {waits:.2f} |"
        )
    print(f"median on/off: {medians['1'] / medians['0']:.3f}")


if __name__ == "__main__":
    main()
