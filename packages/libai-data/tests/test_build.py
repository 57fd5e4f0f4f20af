"""Loader builders, instantiated from configs the way the trainer does it."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from libai.config import LazyCall, instantiate
from libai.config.engine_args import engine_supplied_args
from libai.data import (
    CyclicSampler,
    DistTensorData,
    Instance,
    build_image_test_loader,
    build_image_train_loader,
    build_nlp_test_loader,
    build_nlp_train_loader,
    build_nlp_train_val_test_loader,
)
from libai.data.build import split_boundaries
from libai.data.datasets.cifar import CIFAR100Dataset
from libai.data.transforms import eval_transform
from libai.utils.oneflow_env import flow


class Numbers:
    """A map-style dataset: sample i holds the value i."""

    def __init__(self, size: int) -> None:
        self.size = size

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, i: int) -> Instance:
        return Instance(x=DistTensorData(flow.tensor([i], dtype=flow.long)))


def _values(loader, n=None):
    out = []
    for i, batch in enumerate(loader):
        if n is not None and i == n:
            break
        out.append(batch.x.tensor.numpy().reshape(-1).tolist())
    return out


def _trainer_builds(node, **filled):
    # What the trainer does: fill the engine-supplied arguments, build without recursion.
    for key, value in filled.items():
        node[key] = value
    return instantiate(node, _recursive_=False)


def test_builders_declare_the_arguments_the_engine_fills():
    assert engine_supplied_args(build_nlp_train_val_test_loader) == {
        "train_batch_size", "test_batch_size", "seed", "consumed_samples",
        "train_val_test_num_samples",
    }  # fmt: skip
    for builder in (build_nlp_train_loader, build_image_train_loader):
        assert engine_supplied_args(builder) == {
            "train_batch_size", "test_batch_size", "seed", "consumed_samples",
        }  # fmt: skip
    for builder in (build_nlp_test_loader, build_image_test_loader):
        assert engine_supplied_args(builder) == {"test_batch_size", "seed"}


def test_split_boundaries_follow_megatron_rounding():
    assert split_boundaries(100, [949, 50, 1]) == [0, 95, 100, 100]
    assert split_boundaries(10, [8, 1, 1]) == [0, 8, 9, 10]
    assert split_boundaries(7, [1]) == [0, 7, 7, 7]
    with pytest.raises(ValueError):
        split_boundaries(10, [0, 0, 0])


def test_nlp_train_val_test_loader_splits_by_sample_for_plain_datasets():
    node = LazyCall(build_nlp_train_val_test_loader)(
        dataset=[LazyCall(Numbers)(size=20)],
        splits=[[8.0, 1.0, 1.0]],
        weights=[1.0],
        num_workers=0,
        train_val_test_num_samples=None,
    )
    train, valid, test = _trainer_builds(node, train_batch_size=4, test_batch_size=3, seed=1)
    first_epoch = sum(_values(train, 4), [])
    assert sorted(first_epoch) == list(range(16))  # shuffled train share [0, 16)
    assert _values(valid) == [[16, 17]]
    assert _values(test) == [[18, 19]]


def test_nlp_train_loader_resumes_after_consumed_samples():
    def build(consumed):
        node = LazyCall(build_nlp_train_loader)(dataset=LazyCall(Numbers)(size=30), num_workers=0)
        loader, none1, none2 = _trainer_builds(
            node, train_batch_size=4, seed=3, consumed_samples=consumed
        )
        assert none1 is None and none2 is None
        return loader

    reference = _values(build(0), 12)
    assert _values(build(5 * 4), 7) == reference[5:]


def test_custom_sampler_node_gets_the_dataset_and_layout():
    node = LazyCall(build_nlp_test_loader)(
        dataset=LazyCall(Numbers)(size=5),
        sampler=LazyCall(CyclicSampler)(shuffle=False),
        num_workers=0,
    )
    loader = _trainer_builds(node, test_batch_size=2, seed=0)
    assert _values(loader, 3) == [[0, 1], [2, 3], [0, 1]]


def test_image_loaders_from_real_cifar_files(tmp_path):
    images = np.random.RandomState(0).randint(0, 256, size=(6, 32, 32, 3), dtype=np.uint8)
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    entry = {"data": images.transpose(0, 3, 1, 2).reshape(6, -1), "fine_labels": [0, 1, 2, 3, 4, 5],
             "coarse_labels": [0] * 6}  # fmt: skip
    for name in ("train", "test"):
        with open(folder / name, "wb") as f:
            pickle.dump(entry, f)
    aug = LazyCall(eval_transform)(size=16, resize=16)
    train_node = LazyCall(build_image_train_loader)(
        dataset=[LazyCall(CIFAR100Dataset)(root=str(tmp_path), train=True, transform=aug)],
        num_workers=0,
    )
    train, _, _ = _trainer_builds(train_node, train_batch_size=3, seed=0)
    assert train.mixup_func is None
    batch = next(iter(train))
    assert batch.images.tensor.shape == (3, 3, 16, 16)
    assert batch.images.tensor.dtype == flow.float32
    labels = batch.labels.tensor.numpy().tolist()
    assert len(set(labels)) == 3 and set(labels) <= set(range(6))

    test_node = LazyCall(build_image_test_loader)(
        dataset=LazyCall(CIFAR100Dataset)(root=str(tmp_path), train=False), num_workers=0
    )
    test = _trainer_builds(test_node, test_batch_size=4, seed=0)
    labels = [b.labels.tensor.numpy().tolist() for b in test]
    assert labels == [[0, 1, 2, 3], [4, 5]]
    first = next(iter(test)).images.tensor.numpy()[2]
    np.testing.assert_allclose(first, images[2].transpose(2, 0, 1) / 255.0, atol=1e-6)


def test_image_loader_with_worker_processes(tmp_path):
    node = LazyCall(build_image_test_loader)(dataset=LazyCall(Numbers)(size=6), num_workers=2)
    loader = _trainer_builds(node, test_batch_size=2, seed=0)
    assert _values(loader) == [[0, 1], [2, 3], [4, 5]]


def test_mismatched_splits_and_missing_batch_size_are_clear_errors():
    with pytest.raises(ValueError, match="one split triple and one weight per dataset"):
        build_nlp_train_val_test_loader(
            dataset=[Numbers(10), Numbers(10)], splits=[[1, 0, 0]], weights=[1.0],
            train_val_test_num_samples=None, train_batch_size=2, test_batch_size=2, num_workers=0,
        )  # fmt: skip
    with pytest.raises(ValueError, match="train_batch_size is None"):
        build_nlp_train_loader(Numbers(4), None, num_workers=0)


def _write_megatron(prefix, num_docs=10, tokens_per_doc=21):
    from libai.data.data_utils import make_builder

    builder = make_builder(f"{prefix}.bin", "mmap", vocab_size=5000)
    for doc in range(num_docs):
        # Document d holds the ids d*100 ... d*100+20: every token says where it came from.
        builder.add_item(np.arange(doc * 100, doc * 100 + tokens_per_doc))
        builder.end_document()
    builder.finalize(f"{prefix}.idx")


def test_megatron_dataset_is_split_by_documents(tmp_path):
    from libai.data.data_utils import get_indexed_dataset
    from libai.data.datasets import GPT2Dataset

    prefix = str(tmp_path / "corpus_text_document")
    _write_megatron(prefix)
    node = LazyCall(build_nlp_train_val_test_loader)(
        dataset=[
            LazyCall(GPT2Dataset)(
                name="toy",
                data_prefix=prefix,
                indexed_dataset=LazyCall(get_indexed_dataset)(
                    data_prefix=prefix, data_impl="mmap", skip_warmup=True
                ),
                max_seq_length=4,
                seed=1,
            )
        ],
        splits=[[8.0, 1.0, 1.0]],
        weights=[1.0],
        num_workers=0,
        train_val_test_num_samples=None,
    )
    train, valid, test = _trainer_builds(
        node, train_batch_size=4, test_batch_size=2, seed=1,
        train_val_test_num_samples=[64, 6, 3],
    )  # fmt: skip

    def docs_of(loader, n=None):
        seen = set()
        for i, batch in enumerate(loader):
            if n is not None and i == n:
                break
            ids = batch.input_ids.tensor.numpy()
            labels = batch.labels.tensor.numpy()
            # GPT targets are the inputs shifted by one token.
            np.testing.assert_array_equal(ids[:, 1:], labels[:, :-1])
            seen |= set((ids // 100).reshape(-1).tolist())
        return seen

    # Megatron datasets cover whole epochs: at least the samples asked for.
    assert len(train.dataset) >= 64
    assert 6 <= len(valid.dataset) < 64
    assert 3 <= len(test.dataset) < 64
    assert docs_of(train, 16) == set(range(8))
    assert docs_of(valid) == {8}
    assert docs_of(test) == {9}
