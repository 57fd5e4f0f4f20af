"""Benchmark of the engine's library modules: checkpoints, evaluators, schedulers.

Run with the dev venv from the repository root:

    GLOG_minloglevel=2 .tox/full/bin/python benchmarks/engine_lib_bench.py [--repeat 3]

What is measured (median of ``--repeat`` runs):

1. ``Checkpointer.save`` of a 25M-parameter model (global tensors) with its AdamW
   state (3 x 100 MB) and a scheduler, atomically (tmp dir, manifest, renames), against
   plain ``flow.save`` of the same three state dicts into a directory: the cost of
   the atomic write and the manifest.
2. ``Checkpointer.load`` of that checkpoint (manifest check, model + optimizer +
   scheduler + RNG) against plain ``flow.load`` of the three directories.
3. ``ClsEvaluator`` and ``PPLEvaluator`` on 100 batches of 256 samples (1,000 classes /
   64 tokens x 1,000 vocabulary): the time per batch.
4. 10,000 ``WarmupCosineLR.step()`` calls.

Targets (2-core machine): atomic save and load within 1.3 x plain flow.save / flow.load.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from typing import Callable

import numpy as np
from libai.evaluation import ClsEvaluator, PPLEvaluator
from libai.scheduler import WarmupCosineLR
from libai.utils import distributed as dist
from libai.utils.checkpoint import Checkpointer
from libai.utils.oneflow_env import flow


def _median(func: Callable[[], None], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        tic = time.perf_counter()
        func()
        times.append(time.perf_counter() - tic)
    return statistics.median(times)


def _median_pair(first: Callable[[], None], second: Callable[[], None], repeat: int) -> tuple:
    a, b = [], []
    for _ in range(repeat):
        for func, times in ((first, a), (second, b)):
            tic = time.perf_counter()
            func()
            times.append(time.perf_counter() - tic)
    return statistics.median(a), statistics.median(b)


def _model_and_optimizer():
    dist.setup_dist_util({"data_parallel_size": 1})
    flow.manual_seed(0)
    # 5 x (2240 x 2240) weights + biases = 25.1M parameters.
    model = flow.nn.Sequential(*[flow.nn.Linear(2240, 2240) for _ in range(5)])
    dist.convert_to_distributed_default_setting(model)
    optimizer = flow.optim.AdamW(model.parameters(), lr=1e-3)
    x = flow.ones(2, 2240).to_global(placement=dist.get_layer_placement(0), sbp=flow.sbp.broadcast)
    model(x).sum().backward()
    optimizer.step()  # creates the moments
    scheduler = WarmupCosineLR(optimizer, max_iter=1000, warmup_factor=0.01, warmup_iter=10)
    return model, optimizer, scheduler


def bench_checkpoint(repeat: int) -> None:
    model, optimizer, scheduler = _model_and_optimizer()
    params = sum(p.numel() for p in model.parameters())
    root = tempfile.mkdtemp(prefix="libai-ckpt-bench-")
    try:
        ckpt = Checkpointer(model, root, optimizer=optimizer, lr_scheduler=scheduler)

        def atomic_save():
            ckpt.save("model_final", iteration=1)

        def plain_save():
            path = os.path.join(root, "plain")
            shutil.rmtree(path, ignore_errors=True)
            os.makedirs(path)
            flow.save(model.state_dict(), os.path.join(path, "model"), global_dst_rank=0)
            flow.save(optimizer.state_dict(), os.path.join(path, "optimizer"), global_dst_rank=0)
            flow.save(scheduler.state_dict(), os.path.join(path, "lr_scheduler"))

        # Interleaved, so both see the same page-cache and write-back state.
        t_atomic, t_plain = _median_pair(atomic_save, plain_save, repeat)

        def atomic_load():
            ckpt.load(os.path.join(root, "model_final"))

        def plain_load():
            for key in ("model", "optimizer", "lr_scheduler"):
                flow.load(os.path.join(root, "plain", key))

        t_atomic_load, t_plain_load = _median_pair(atomic_load, plain_load, repeat)
        size = sum(
            os.path.getsize(os.path.join(d, f))
            for d, _, files in os.walk(os.path.join(root, "model_final"))
            for f in files
        )
        print(f"checkpoint: {params / 1e6:.1f}M params, {size / 1e6:.0f} MB on disk")
        print(
            f"  save  atomic {t_atomic:.3f} s   plain flow.save {t_plain:.3f} s   "
            f"ratio {t_atomic / t_plain:.2f}"
        )
        print(
            f"  load  atomic {t_atomic_load:.3f} s   plain flow.load {t_plain_load:.3f} s   "
            f"ratio {t_atomic_load / t_plain_load:.2f}"
        )
    finally:
        shutil.rmtree(root)


def bench_evaluators(repeat: int) -> None:
    rng = np.random.default_rng(0)
    cls_batches = [
        (
            flow.tensor(rng.normal(size=(256, 1000)).astype(np.float32)),
            flow.tensor(rng.integers(0, 1000, 256)),
        )
        for _ in range(100)
    ]
    lm_batches = [
        (
            flow.tensor(rng.normal(size=(4, 64, 1000)).astype(np.float32)),
            flow.tensor(rng.integers(0, 1000, (4, 64))),
        )
        for _ in range(100)
    ]

    def run(evaluator, batches):
        def go():
            evaluator.reset()
            for logits, labels in batches:
                evaluator.process({"labels": labels}, {"prediction_scores": logits})
            evaluator.evaluate()

        return go

    t_cls = _median(run(ClsEvaluator((1, 5)), cls_batches), repeat)
    t_ppl = _median(run(PPLEvaluator(), lm_batches), repeat)
    print(f"ClsEvaluator (256 x 1000 logits): {t_cls / 100 * 1e3:.2f} ms/batch")
    print(f"PPLEvaluator (4 x 64 x 1000 logits): {t_ppl / 100 * 1e3:.2f} ms/batch")


def bench_scheduler(repeat: int) -> None:
    param = flow.nn.Parameter(flow.zeros(1))

    def go():
        optimizer = flow.optim.SGD([param], lr=0.1)
        scheduler = WarmupCosineLR(optimizer, max_iter=10000, warmup_factor=0.01, warmup_iter=100)
        for _ in range(10000):
            scheduler.step()

    t = _median(go, repeat)
    print(f"WarmupCosineLR.step(): {t / 10000 * 1e6:.1f} us/step")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    bench_checkpoint(args.repeat)
    bench_evaluators(args.repeat)
    bench_scheduler(args.repeat)


if __name__ == "__main__":
    main()
