"""Throughput of libai-data's loaders on this machine (2 cores, OneFlow 0.9.0 CPU).

    GLOG_minloglevel=2 python benchmarks/data_bench.py

Measures, each for a fixed number of batches after one warm-up batch:

1. ``CyclicSampler`` alone: index batches per second (shuffled, 2 data-parallel ranks);
2. the quickstart's GPT loader (``build_nlp_train_val_test_loader`` over the bundled
   Shakespeare, Megatron indexed dataset, ``GPT2Dataset``, seq 128, micro batch 16);
3. a CIFAR-100 loader (synthetic files in the real pickle format, 2048 images) with the
   standard train augmentation (random resized crop 224 + flip + normalize), micro
   batch 32, with 0 and 2 worker processes.
"""

from __future__ import annotations

import itertools
import pickle
import tempfile
import time
from pathlib import Path

import numpy as np
from libai.config import LazyCall, instantiate
from libai.data import CyclicSampler, build_image_train_loader, build_nlp_train_val_test_loader
from libai.data.data_utils import get_indexed_dataset
from libai.data.datasets import CIFAR100Dataset, GPT2Dataset
from libai.data.quickstart import data_prefix, quickstart_indexed_dataset
from libai.data.transforms import CIFAR100_MEAN, CIFAR100_STD, train_transform


def _rate(iterable, batches: int) -> float:
    it = iter(iterable)
    next(it)  # warm-up: worker start, first index build
    start = time.perf_counter()
    for _ in itertools.islice(it, batches):
        pass
    return batches / (time.perf_counter() - start)


def bench_sampler() -> float:
    sampler = CyclicSampler(range(1_000_000), 32, shuffle=True, data_parallel_size=2, seed=1)
    return _rate(sampler, 20_000)


def bench_gpt(cache: Path) -> float:
    quickstart_indexed_dataset(2048, cache)  # build (or reuse) the dataset first
    prefix = data_prefix(2048, cache)
    node = LazyCall(build_nlp_train_val_test_loader)(
        dataset=[
            LazyCall(GPT2Dataset)(
                name="bench",
                data_prefix=prefix,
                indexed_dataset=LazyCall(get_indexed_dataset)(data_prefix=prefix, skip_warmup=True),
                max_seq_length=128,
            )
        ],
        splits=[[90.0, 10.0, 0.0]],
        weights=[1.0],
        num_workers=0,
        train_val_test_num_samples=[16 * 400, 160, 0],
        train_batch_size=16,
        test_batch_size=16,
    )
    train, _, _ = instantiate(node, _recursive_=False)
    return _rate(train, 200)


def bench_cifar(root: Path, num_workers: int) -> float:
    folder = root / "cifar-100-python"
    if not folder.exists():
        folder.mkdir(parents=True)
        rng = np.random.RandomState(0)
        entry = {
            "data": rng.randint(0, 256, size=(2048, 3072), dtype=np.uint8),
            "fine_labels": rng.randint(0, 100, 2048).tolist(),
            "coarse_labels": rng.randint(0, 20, 2048).tolist(),
        }
        with open(folder / "train", "wb") as f:
            pickle.dump(entry, f)
    aug = LazyCall(train_transform)(size=224, mean=CIFAR100_MEAN, std=CIFAR100_STD)
    node = LazyCall(build_image_train_loader)(
        dataset=LazyCall(CIFAR100Dataset)(root=str(root), train=True, transform=aug),
        num_workers=num_workers,
        train_batch_size=32,
    )
    train, _, _ = instantiate(node, _recursive_=False)
    return _rate(train, 20) * 32


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        print(f"CyclicSampler: {bench_sampler():,.0f} index batches/s (micro batch 32, 2 ranks)")
        gpt = bench_gpt(tmp_path / "cache")
        print(f"GPT loader (quickstart data, seq 128, batch 16): {gpt:,.0f} batches/s")
        for workers in (0, 2):
            rate = bench_cifar(tmp_path / "cifar", workers)
            print(
                f"CIFAR-100 loader, 224px train augmentation, {workers} workers: {rate:,.0f} images/s"
            )


if __name__ == "__main__":
    main()
