"""Training-step time of the vision models (ViT-Tiny/16, Swin-T, SwinV2-T/8, ResMLP-12) on the CPU.

Each model is built from its shipped default config (full size, 1000 classes), trained
with AdamW on a fixed random batch, eagerly and as an nn.Graph; the median time of the
timed steps after the warm-up ones (graph compilation) is reported with images/s.

    GLOG_minloglevel=2 .tox/full/bin/python benchmarks/vision_bench.py [--batch 2] [--steps 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from libai.config import get_config, instantiate
from libai.engine.graph_base import GraphBase
from libai.utils import distributed as dist
from libai.utils.oneflow_env import flow

MODELS = {
    "ViT-Tiny/16 224": "common/models/vit/vit_tiny_patch16_224.py",
    "Swin-T 224": "common/models/swin/swin_tiny_patch4_window7_224.py",
    "SwinV2-T/8 256": "common/models/swinv2/swinv2_tiny_patch4_window8_256.py",
    "ResMLP-12 224": "common/models/resmlp/resmlp_12.py",
}


def _batch(img_size: int, batch: int) -> dict:
    rng = np.random.default_rng(0)
    placement = dist.get_layer_placement(0)
    sbp = dist.get_nd_sbp([flow.sbp.split(0), flow.sbp.broadcast])
    images = rng.standard_normal((batch, 3, img_size, img_size)).astype(np.float32)
    labels = rng.integers(0, 1000, size=(batch,)).astype(np.int64)
    return {
        "images": flow.tensor(images).to_global(placement=placement, sbp=sbp),
        "labels": flow.tensor(labels).to_global(placement=placement, sbp=sbp),
    }


def _time_steps(step, warmup: int, steps: int) -> float:
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench(path: str, batch: int, steps: int) -> dict:
    cfg = get_config(path)
    cfg.model.cfg.drop_path_rate = 0.0  # the same work in every step
    flow.manual_seed(0)
    model = instantiate(cfg.model)
    model.train()
    data = _batch(cfg.model.cfg.img_size, batch)
    optimizer = flow.optim.AdamW(model.parameters(), lr=1e-4)

    def eager_step():
        loss = model(**data)["losses"]
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        loss.to_local().numpy()  # wait for the step to finish

    graph = GraphBase(model, optimizer, None, is_train=True)

    def graph_step():
        graph(**data)["losses"].to_local().numpy()

    params = sum(int(np.prod(p.shape)) for p in model.parameters())
    return {
        "params": params,
        "eager": _time_steps(eager_step, 1, steps),
        "graph": _time_steps(graph_step, 1, steps),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()
    print(f"batch {args.batch}, median of {args.steps} steps after 1 warm-up step")
    print("| model | params | eager s/step | graph s/step | graph images/s |")
    print("| --- | --- | --- | --- | --- |")
    for name, path in MODELS.items():
        r = bench(path, args.batch, args.steps)
        print(
            f"| {name} | {r['params'] / 1e6:.1f} M | {r['eager']:.2f} | {r['graph']:.2f} | "
            f"{args.batch / r['graph']:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
