"""Count OneFlow 0.9.0's sporadic crashes in short nn.Graph runs (README, "Graph runs and the CPU segfault").

Each run is a fresh process training a tiny MLP graph for ``--steps`` steps,
treating the loss as ``--mode`` says. The driver runs ``--runs`` of them and
prints how many died of a signal (SIGSEGV; now and then SIGABRT from a corrupted
heap: both are the same race), with tracebacks of crashed runs in ``--keep``.

    GLOG_minloglevel=2 python packages/libai-engine/tests/segfault_probe.py --mode numpy --runs 150

Modes: ``item`` (``loss.item()`` every step), ``numpy`` (``.to_local().numpy()``
every step), ``sync`` (``Sync()`` then numpy), ``keep`` (numpy, keep all outputs
alive), ``sleep`` (sleep 20 ms, then numpy), ``none`` (never read in the loop),
``deferred`` (eager copy every step, read once at the end), ``lag1`` (eager
copy every step, read the previous step's copy once the next step is queued).
Extra ``KEY=VALUE`` arguments are set in the children's environment.

The children import OneFlow through ``libai.utils.oneflow_env``, so OneFlow's queue
race is fixed in them (``libai.utils.graph_race_fix``) unless ``LIBAI_GRAPH_RACE_FIX=0``
is passed. The most crash-prone setting, two probes at once, before and after::

    for fix in 0 1; do for i in 1 2; do
      python packages/libai-engine/tests/segfault_probe.py --runs 150 \\
        ONEFLOW_VM_COMPUTE_ON_WORKER_THREAD=0 LIBAI_GRAPH_RACE_FIX=$fix &
    done; wait; done

Besides the crash count, the driver prints the median time of a graph step (steps 2
to ``--steps``, each run's mean; the first step compiles the graph) over the runs that
finished, and how many dequeues the fix made wait for their enqueue (crashes averted).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Optional

MODES = ("item", "numpy", "sync", "keep", "sleep", "none", "deferred", "lag1")


def one_run(mode: str, steps: int) -> None:
    """The child: train a tiny graph for ``steps`` steps, treating the loss as ``mode`` says."""
    import numpy as np
    from libai.utils.oneflow_env import flow

    flow.manual_seed(0)
    placement = flow.placement("cpu", ranks=[0])
    model = flow.nn.Sequential(flow.nn.Linear(32, 64), flow.nn.GELU(), flow.nn.Linear(64, 1))
    model = model.to_global(placement=placement, sbp=flow.sbp.broadcast)
    opt = flow.optim.AdamW(model.parameters(), lr=1e-3)

    class Graph(flow.nn.Graph):
        def __init__(self) -> None:
            super().__init__()
            self.m = model
            self.add_optimizer(opt)

        def build(self, x, y):
            loss = ((self.m(x) - y) ** 2).mean()
            loss.backward()
            return {"loss": loss}

    graph = Graph()
    rng = np.random.default_rng(0)
    kept, values = [], []
    started = cpu_started = 0.0
    for step in range(steps):
        if step == 1:  # step 0 compiles the graph
            started, cpu_started = time.perf_counter(), time.process_time()
        x = flow.tensor(
            rng.standard_normal((16, 32)).astype("float32"),
            placement=placement,
            sbp=flow.sbp.split(0),
        )
        y = flow.tensor(
            rng.standard_normal((16, 1)).astype("float32"),
            placement=placement,
            sbp=flow.sbp.split(0),
        )
        loss = graph(x, y)["loss"]
        if mode == "item":
            values.append(loss.item())
        elif mode in ("numpy", "keep"):
            values.append(float(loss.to_local().numpy()))
            if mode == "keep":
                kept.append(loss)
        elif mode == "sync":
            flow._oneflow_internal.eager.Sync()
            values.append(float(loss.to_local().numpy()))
        elif mode == "sleep":
            time.sleep(0.02)
            values.append(float(loss.to_local().numpy()))
        elif mode == "deferred":
            kept.append(loss.to_local().clone())
        elif mode == "lag1":
            # read the previous step's (copied) loss once this step is queued
            kept.append(loss.to_local().clone())
            if len(kept) > 1:
                values.append(float(kept.pop(0).numpy()))
    if mode in ("deferred", "lag1"):
        values += [float(t.numpy()) for t in kept]
    step_ms = (time.perf_counter() - started) * 1000 / max(steps - 1, 1)
    cpu_ms = (time.process_time() - cpu_started) * 1000 / max(steps - 1, 1)
    from libai.utils import graph_race_fix

    stats = graph_race_fix.stats() or {"waits": -1, "deferred": -1}
    print(
        f"done {mode} {sum(values):.6f} step_ms={step_ms:.3f} cpu_ms={cpu_ms:.3f} waits={stats['waits']} deferred={stats['deferred']}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mode", choices=MODES, default="numpy")
    parser.add_argument("--runs", type=int, default=150)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument(
        "--keep", type=Path, default=None, help="directory for the stderr of crashed runs"
    )
    parser.add_argument(
        "--time-budget",
        type=float,
        default=0,
        metavar="SECONDS",
        help="start no new run after this long (0: no limit); the summary counts the runs made",
    )
    parser.add_argument(
        "--progress", type=int, default=0, metavar="N", help="print the counts every N runs"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("env", nargs="*", metavar="KEY=VALUE")
    args = parser.parse_args()
    if args.child:
        one_run(args.mode, args.steps)
        return
    env = dict(os.environ, PYTHONFAULTHANDLER="1", GLOG_minloglevel="2")
    env.update(kv.split("=", 1) for kv in args.env)
    crashes: Counter[str] = Counter()
    step_ms, waits, deferred, done = [], [], 0, 0
    deadline = time.monotonic() + args.time_budget if args.time_budget else None
    for i in range(args.runs):
        if deadline is not None and time.monotonic() > deadline:
            break
        cmd = [sys.executable, __file__, "--child", "--mode", args.mode, "--steps", str(args.steps)]
        proc = run_child(cmd, env)
        done += 1
        crash = _crash_signal(proc.returncode)
        if proc.returncode == 0:
            fields = dict(f.split("=") for f in proc.stdout.split() if "=" in f)
            if "step_ms" not in fields:
                raise SystemExit(
                    f"run {i} printed no result:\n{proc.stdout}\n{proc.stderr[-2000:]}"
                )
            step_ms.append(float(fields["step_ms"]))
            waits.append(int(fields["waits"]))
            deferred += max(int(fields["deferred"]), 0)
        elif crash:
            crashes[crash] += 1
            if args.keep:
                args.keep.mkdir(parents=True, exist_ok=True)
                (args.keep / f"{args.mode}_{i}.txt").write_text(proc.stderr)
        else:
            raise SystemExit(f"run {i} failed with rc={proc.returncode}:\n{proc.stderr[-2000:]}")
        if args.progress and done % args.progress == 0:
            print(f"{done} runs, {sum(crashes.values())} crashed", flush=True)
    median = statistics.median(step_ms) if step_ms else float("nan")
    fix = "off" if min(waits, default=-1) < 0 else f"on, {sum(waits)} dequeues waited"
    fix += f", {deferred} deferred" if fix != "off" else ""
    by_signal = ", ".join(f"{name} {n}" for name, n in sorted(crashes.items()))
    print(
        f"mode={args.mode} steps={args.steps} env={args.env}: {sum(crashes.values())} / {done} "
        f"runs crashed{f' ({by_signal})' if by_signal else ''}; median step {median:.2f} ms; "
        f"fix {fix}"
    )


def _crash_signal(returncode: int) -> Optional[str]:
    """The name of the signal that killed a run (SIGSEGV, SIGABRT, ...), or None."""
    number = -returncode if returncode < 0 else returncode - 128 if returncode > 128 else 0
    if number in (signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS, signal.SIGILL, signal.SIGFPE):
        return signal.Signals(number).name
    return None


def run_child(
    cmd: list[str], env: dict, *, cwd: Optional[Path] = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    """Run ``cmd`` in its own process group; on timeout kill the group (returncode -9)."""
    with subprocess.Popen(
        cmd,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            err += f"\n(killed with its process group after {timeout} s)"
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


if __name__ == "__main__":
    main()
