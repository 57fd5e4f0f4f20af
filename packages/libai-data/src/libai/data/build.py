"""Loader builders: the callables that ``dataloader.train`` / ``dataloader.test`` name.

LiBai's builders, with LiBai's names and arguments. A config describes them lazily::

    dataloader.train = LazyCall(build_nlp_train_val_test_loader)(
        dataset=[LazyCall(GPT2Dataset)(data_prefix=..., indexed_dataset=LazyCall(
            get_indexed_dataset)(data_prefix=..., data_impl="mmap"), max_seq_length=1024)],
        splits=[[949.0, 50.0, 1.0]], weights=[1.0], num_workers=4,
        train_val_test_num_samples=None,   # filled in by the trainer
    )

The trainer instantiates the builder node with ``_recursive_=False`` after filling the
arguments declared with :func:`~libai.config.engine_supplied` (batch sizes, ``seed``,
``consumed_samples`` on resume, ``train_val_test_num_samples``). The builder then
builds datasets and samplers itself: samplers need the dataset and the data-parallel
layout, and a Megatron dataset is split into train/valid/test by *documents* before
it is built. Dataset and sampler arguments may be config nodes or built objects.

``consumed_samples`` reaches the training sampler, so ``--resume`` continues with
exactly the batch after the last one trained (DESIGN.md section 4).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Callable

from libai.config import LazyCall, engine_supplied, instantiate
from libai.data.samplers import CyclicSampler, SingleRoundSampler
from libai.data.structures import Instance
from libai.utils import distributed as dist
from libai.utils.oneflow_env import flow
from omegaconf import DictConfig, ListConfig, OmegaConf

__all__ = [
    "build_image_test_loader",
    "build_image_train_loader",
    "build_nlp_test_loader",
    "build_nlp_train_loader",
    "build_nlp_train_val_test_loader",
    "split_boundaries",
    "trivial_batch_collator",
]

DataLoader = flow.utils.data.DataLoader
ConcatDataset = flow.utils.data.ConcatDataset
Subset = flow.utils.data.Subset

# The samplers a builder uses unless told otherwise (LiBai's defaults). Shared, never
# modified: a builder instantiates a copy with the dataset and layout filled in.
DEFAULT_TRAIN_SAMPLER = LazyCall(CyclicSampler)(shuffle=True)
DEFAULT_TEST_SAMPLER = LazyCall(SingleRoundSampler)(shuffle=False, drop_last=False)

_TRAIN_ARGS = ("train_batch_size", "test_batch_size", "seed", "consumed_samples")
_SPLIT_NAMES = ("train", "valid", "test")


def trivial_batch_collator(batch: list) -> Instance:
    """Collate ``Instance`` samples with :meth:`Instance.stack` (the default collate_fn)."""
    if not batch or not isinstance(batch[0], Instance):
        found = type(batch[0]).__name__ if batch else "an empty batch"
        raise TypeError(
            f"the default collate function expects Instance samples, got {found}; return an "
            "Instance from the dataset's __getitem__ or pass collate_fn to the loader builder"
        )
    return Instance.stack(batch)


def split_boundaries(size: int, weights: Sequence[float]) -> list[int]:
    """Cut ``size`` items into train/valid/test ranges proportional to ``weights``.

    Returns four boundaries ``[0, a, b, size]``: train is ``[0, a)``, valid ``[a, b)``,
    test ``[b, size)``. Megatron's rule: each share is rounded, the rounding error is
    taken off the end. Missing weights count as 0.
    """
    weights = [float(w) for w in list(weights)[:3]]
    weights += [0.0] * (3 - len(weights))
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError(f"split weights must be >= 0 with a positive sum, got {weights}")
    total = sum(weights)
    bounds = [0]
    for w in weights:
        bounds.append(bounds[-1] + int(round(w / total * size)))
    excess = bounds[-1] - size
    bounds = [bounds[0]] + [b - excess for b in bounds[1:]]
    return [max(0, b) for b in bounds]


def _is_node(value: Any) -> bool:
    return isinstance(value, (DictConfig, dict)) and "_target_" in value


def _build(value: Any, **overrides: Any) -> Any:
    """Instantiate a config node with ``overrides``; a built object is returned as is."""
    if _is_node(value):
        return instantiate(value, **overrides)
    return value


def _as_list(value: Any) -> list:
    if isinstance(value, ListConfig) or OmegaConf.is_list(value):
        return list(value)
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _mix(datasets: list, dataset_mixer: Callable) -> Any:
    datasets = [d for d in datasets if d is not None and len(d) > 0]
    if not datasets:
        return None
    if len(datasets) == 1:
        return datasets[0]
    return dataset_mixer(datasets)


def _data_parallel() -> dict:
    return {
        "data_parallel_rank": dist.get_data_parallel_rank(),
        "data_parallel_size": dist.get_data_parallel_size(),
    }


def _loader(dataset: Any, sampler: Any, num_workers: int, collate_fn: Any, **kwargs: Any) -> Any:
    return DataLoader(
        dataset,
        batch_sampler=sampler,
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
        collate_fn=trivial_batch_collator if collate_fn is None else collate_fn,
        **kwargs,
    )


def _split_dataset(node: Any, split: Sequence[float], num_samples: Sequence | None) -> list:
    """Build the train/valid/test datasets of one entry of ``dataset``."""
    if _is_node(node) and "indexed_dataset" in node:
        return _split_by_documents(node, split, num_samples)
    dataset = _build(node)
    bounds = split_boundaries(len(dataset), split)
    return [
        Subset(dataset, range(bounds[i], bounds[i + 1])) if bounds[i + 1] > bounds[i] else None
        for i in range(3)
    ]


def _split_by_documents(node: Any, split: Sequence[float], num_samples: Sequence | None) -> list:
    # A Megatron dataset is cut by documents (never inside one) before the dataset
    # builds its sample index: the indexed dataset's document index is narrowed to each
    # range in turn while that split's dataset is built, then restored.
    indexed = _build(node["indexed_dataset"])
    for attr in ("get_doc_idx", "set_doc_idx"):
        if not hasattr(indexed, attr):
            raise TypeError(
                f"dataset.indexed_dataset built a {type(indexed).__name__}, which has no "
                f"{attr}(); build_nlp_train_val_test_loader splits Megatron indexed datasets "
                "(libai.data.data_utils.get_indexed_dataset) by documents"
            )
    # The node without its indexed_dataset: instantiating that key again for every
    # split would reopen (and, without skip_warmup, re-read) the whole data file.
    rest = {key: node[key] for key in node if key != "indexed_dataset"}
    doc_idx = indexed.get_doc_idx()
    total_docs = len(doc_idx) - 1
    bounds = split_boundaries(total_docs, split)
    built = []
    for i, split_name in enumerate(_SPLIT_NAMES):
        if bounds[i + 1] <= bounds[i]:
            built.append(None)
            continue
        overrides: dict[str, Any] = {"indexed_dataset": indexed}
        if num_samples is not None and num_samples[i] is not None:
            overrides["max_num_samples"] = int(num_samples[i])
        if "name" in node:
            # Megatron caches each split's sample index under the dataset's name: one
            # name per split keeps valid and test from sharing a cache file.
            overrides["name"] = f"{node['name']}_{split_name}"
        indexed.set_doc_idx(doc_idx[bounds[i] : bounds[i + 1] + 1])
        try:
            built.append(instantiate(rest, **overrides))
        finally:
            indexed.set_doc_idx(doc_idx)
    return built


@engine_supplied(*_TRAIN_ARGS, "train_val_test_num_samples")
def build_nlp_train_val_test_loader(
    dataset: Any,
    splits: Sequence[Sequence[float]],
    weights: Sequence[float],
    train_val_test_num_samples: Sequence[int] | None,
    train_batch_size: int,
    test_batch_size: int,
    train_sampler: Any = DEFAULT_TRAIN_SAMPLER,
    test_sampler: Any = DEFAULT_TEST_SAMPLER,
    num_workers: int = 4,
    consumed_samples: int = 0,
    seed: int = 0,
    collate_fn: Callable | None = None,
    dataset_mixer: Callable = ConcatDataset,
) -> tuple:
    """Split each dataset into train/valid/test and return the three loaders.

    :param dataset: a dataset (node) or a list of them; a node with an
        ``indexed_dataset`` key is split by documents, anything else by sample index.
    :param splits: one ``[train, valid, test]`` weight triple per dataset.
    :param weights: one weight per dataset (LiBai accepts them; mixing is by
        concatenation, as in LiBai).
    :param train_val_test_num_samples: samples each split must provide (the trainer
        fills it from ``train.train_iter``, ``train.eval_period`` and ``train.eval_iter``).
    :returns: ``(train_loader, valid_loader, test_loader)``; a split with no documents
        gives ``None``.
    :raises ValueError: when the lengths of ``dataset``, ``splits`` and ``weights`` differ.
    """
    datasets = _as_list(dataset)
    splits = [list(s) for s in _as_list(splits)]
    weights = _as_list(weights)
    if not (len(datasets) == len(splits) == len(weights)):
        raise ValueError(
            f"dataloader.train: dataset has {len(datasets)} entries, splits {len(splits)} and "
            f"weights {len(weights)}; give one split triple and one weight per dataset"
        )
    num_samples = None if train_val_test_num_samples is None else list(train_val_test_num_samples)
    parts: list[list] = [[], [], []]
    for node, split in zip(datasets, splits):
        for i, part in enumerate(_split_dataset(node, split, num_samples)):
            parts[i].append(part)
    train_dataset, valid_dataset, test_dataset = (_mix(p, dataset_mixer) for p in parts)
    if train_dataset is None:
        raise ValueError(
            f"dataloader.train: the train split is empty (splits={splits}); give the train "
            "split a positive weight and enough documents"
        )
    train_loader, _, _ = build_nlp_train_loader(
        train_dataset,
        train_batch_size,
        sampler=train_sampler,
        num_workers=num_workers,
        consumed_samples=consumed_samples,
        seed=seed,
        collate_fn=collate_fn,
    )
    valid_loader, test_loader = (
        None
        if ds is None
        else build_nlp_test_loader(
            ds,
            test_batch_size,
            sampler=test_sampler,
            num_workers=num_workers,
            seed=seed,
            collate_fn=collate_fn,
        )
        for ds in (valid_dataset, test_dataset)
    )
    return train_loader, valid_loader, test_loader


@engine_supplied(*_TRAIN_ARGS)
def build_nlp_train_loader(
    dataset: Any,
    train_batch_size: int,
    test_batch_size: int | None = None,
    sampler: Any = DEFAULT_TRAIN_SAMPLER,
    num_workers: int = 4,
    consumed_samples: int = 0,
    seed: int = 0,
    collate_fn: Callable | None = None,
    dataset_mixer: Callable = ConcatDataset,
    **kwargs: Any,
) -> tuple:
    """Return ``(train_loader, None, None)`` over ``dataset`` (a dataset or a list).

    The sampler (a config node or a built sampler) is given the dataset, the micro
    batch, ``consumed_samples``, ``seed`` and this rank's data-parallel layout.
    ``kwargs`` go to ``DataLoader``.
    """
    return _train_loader(
        dataset, train_batch_size, sampler, num_workers, consumed_samples, seed,
        collate_fn, dataset_mixer, **kwargs,
    )  # fmt: skip


@engine_supplied("test_batch_size", "seed")
def build_nlp_test_loader(
    dataset: Any,
    test_batch_size: int,
    sampler: Any = DEFAULT_TEST_SAMPLER,
    num_workers: int = 4,
    seed: int = 0,
    collate_fn: Callable | None = None,
) -> Any:
    """Return one loader that walks ``dataset`` once, split over data-parallel ranks."""
    return _test_loader(dataset, test_batch_size, sampler, num_workers, seed, collate_fn)


@engine_supplied(*_TRAIN_ARGS)
def build_image_train_loader(
    dataset: Any,
    train_batch_size: int,
    test_batch_size: int | None = None,
    sampler: Any = DEFAULT_TRAIN_SAMPLER,
    num_workers: int = 4,
    consumed_samples: int = 0,
    seed: int = 0,
    collate_fn: Callable | None = None,
    dataset_mixer: Callable = ConcatDataset,
    mixup_func: Any = None,
    **kwargs: Any,
) -> tuple:
    """Return ``(train_loader, None, None)``; ``loader.mixup_func`` is the built mixup.

    As in LiBai, the trainer's ``get_batch`` applies ``mixup_func`` (when not ``None``)
    to the images and labels of each batch.
    """
    loader, _, _ = _train_loader(
        dataset, train_batch_size, sampler, num_workers, consumed_samples, seed,
        collate_fn, dataset_mixer, **kwargs,
    )  # fmt: skip
    loader.mixup_func = _build(mixup_func)
    return loader, None, None


@engine_supplied("test_batch_size", "seed")
def build_image_test_loader(
    dataset: Any,
    test_batch_size: int,
    sampler: Any = DEFAULT_TEST_SAMPLER,
    num_workers: int = 4,
    seed: int = 0,
    collate_fn: Callable | None = None,
    **kwargs: Any,
) -> Any:
    """Return one loader that walks ``dataset`` once; ``kwargs`` go to ``DataLoader``."""
    return _test_loader(dataset, test_batch_size, sampler, num_workers, seed, collate_fn, **kwargs)


def _train_loader(
    dataset: Any,
    train_batch_size: int,
    sampler: Any,
    num_workers: int,
    consumed_samples: int,
    seed: int,
    collate_fn: Any,
    dataset_mixer: Callable,
    **kwargs: Any,
) -> tuple:
    if train_batch_size is None:
        raise ValueError(
            "train_batch_size is None: the trainer fills it from train.train_micro_batch_size; "
            "pass it when calling the builder yourself"
        )
    datasets = [_build(d) for d in _as_list(dataset)]
    mixed = datasets[0] if len(datasets) == 1 else dataset_mixer(datasets)
    sampler = _build(
        sampler,
        dataset=mixed,
        micro_batch_size=int(train_batch_size),
        consumed_samples=int(consumed_samples or 0),
        seed=int(seed),
        **_data_parallel(),
    )
    return _loader(mixed, sampler, num_workers, collate_fn, **kwargs), None, None


def _test_loader(
    dataset: Any,
    test_batch_size: int,
    sampler: Any,
    num_workers: int,
    seed: int,
    collate_fn: Any,
    **kwargs: Any,
) -> Any:
    if test_batch_size is None:
        raise ValueError(
            "test_batch_size is None: the trainer fills it from train.test_micro_batch_size; "
            "pass it when calling the builder yourself"
        )
    dataset = _build(dataset)
    sampler = _build(
        sampler,
        dataset=dataset,
        micro_batch_size=int(test_batch_size),
        seed=int(seed),
        **_data_parallel(),
    )
    return _loader(dataset, sampler, num_workers, collate_fn, **kwargs)
