"""GPT2Dataset: contiguous windows of the shuffled document stream, cached index files."""

from __future__ import annotations

import os

import numpy as np
import pytest
from libai.data.data_utils import get_indexed_dataset, make_builder
from libai.data.datasets import GPT2Dataset


def write_documents(prefix, lengths, start=1):
    """Documents of the given lengths holding consecutive ids, so every token is unique."""
    builder = make_builder(str(prefix) + ".bin", "mmap", vocab_size=60000)
    docs, next_id = [], start
    for n in lengths:
        doc = list(range(next_id, next_id + n))
        next_id += n
        builder.add_item(np.array(doc))
        builder.end_document()
        docs.append(doc)
    builder.finalize(str(prefix) + ".idx")
    return str(prefix), docs


@pytest.fixture()
def data(tmp_path):
    lengths = [7, 3, 12, 1, 9, 5, 14, 2, 8, 6]
    return write_documents(tmp_path / "gpt_text_document", lengths)


def stream_of(dataset, docs):
    return np.concatenate([docs[d] for d in dataset.doc_idx])


def test_samples_are_contiguous_windows(data):
    prefix, docs = data
    indexed = get_indexed_dataset(prefix, "mmap", skip_warmup=True)
    ds = GPT2Dataset("gpt-2", None, prefix, indexed, max_num_samples=None, max_seq_length=8, seed=7)
    total = sum(len(d) for d in docs)
    assert len(ds) == (total - 1) // 8
    stream = stream_of(ds, docs)
    order = sorted(int(ds.shuffle_idx[i]) for i in range(len(ds)))
    assert order == list(range(len(ds)))  # a permutation of all windows
    for i in range(len(ds)):
        window = int(ds.shuffle_idx[i])
        sample = ds[i]
        inputs = sample.input_ids.tensor.numpy()
        labels = sample.labels.tensor.numpy()
        assert inputs.shape == (8,) and labels.shape == (8,)
        expected = stream[window * 8 : window * 8 + 9]
        assert inputs.tolist() == expected[:-1].tolist()
        assert labels.tolist() == expected[1:].tolist()
    assert sample.labels.placement_idx == -1 and sample.input_ids.placement_idx == 0


def test_more_samples_than_an_epoch_stacks_epochs(data):
    prefix, docs = data
    ds = GPT2Dataset("gpt-2", None, prefix, None, max_num_samples=30, max_seq_length=8, seed=1)
    assert len(ds) >= 30
    # 30 windows of 8 need 241 of the 67 tokens per epoch: 4 epochs, each document once in each
    assert np.bincount(ds.doc_idx).tolist() == [4] * len(docs)
    stream = stream_of(ds, docs)
    for i in (0, 13, 29):
        w = int(ds.shuffle_idx[i])
        assert ds.get_tokens(i).tolist() == stream[w * 8 : w * 8 + 9].tolist()


def test_index_files_are_cached_and_reused(data, tmp_path):
    prefix, _ = data
    first = GPT2Dataset("gpt-2", None, prefix, None, max_num_samples=12, max_seq_length=8, seed=3)
    files = sorted(p for p in os.listdir(tmp_path) if p.endswith(".npy"))
    assert [f.rsplit("_", 2)[-2] + "_" + f.rsplit("_", 2)[-1] for f in files] == [
        "doc_idx.npy",
        "sample_idx.npy",
        "shuffle_idx.npy",
    ]
    assert all("gpt-2_indexmap_12ns_8sl_3s" in f for f in files)
    mtimes = {f: os.stat(tmp_path / f).st_mtime_ns for f in files}
    second = GPT2Dataset("gpt-2", None, prefix, None, max_num_samples=12, max_seq_length=8, seed=3)
    assert {f: os.stat(tmp_path / f).st_mtime_ns for f in files} == mtimes
    assert sorted(p for p in os.listdir(tmp_path) if p.endswith(".npy")) == files
    assert [second.get_tokens(i).tolist() for i in range(len(second))] == [
        first.get_tokens(i).tolist() for i in range(len(first))
    ]


def test_seed_changes_order_not_content(data):
    prefix, docs = data
    a = GPT2Dataset("gpt-2", None, prefix, None, None, 8, seed=1)
    b = GPT2Dataset("gpt-2", None, prefix, None, None, 8, seed=2)
    assert a.doc_idx.tolist() != b.doc_idx.tolist()
    assert sorted(a.doc_idx.tolist()) == sorted(b.doc_idx.tolist()) == list(range(len(docs)))


def test_document_split_uses_only_its_documents(data):
    prefix, docs = data
    indexed = get_indexed_dataset(prefix, "mmap", skip_warmup=True)
    full = indexed.get_doc_idx()
    indexed.set_doc_idx(full[6:11])  # documents 6..9
    ds = GPT2Dataset("gpt-2_valid", None, prefix, indexed, None, 4, seed=1)
    indexed.set_doc_idx(full)
    allowed = {t for d in docs[6:] for t in d}
    tokens = {int(t) for i in range(len(ds)) for t in ds.get_tokens(i)}
    assert tokens <= allowed and len(tokens) > 20


def test_missing_data_prefix_explains_layout(tmp_path):
    with pytest.raises(FileNotFoundError, match="PREFIX.bin"):
        GPT2Dataset("gpt-2", None, str(tmp_path / "nothing_here"), None, None, 8)


@pytest.mark.parametrize(
    ("reference", "name"),
    [("datasets:gpt", "GPT2Dataset"), ("datasets:bert", "BertDataset"), ("datasets:roberta", "RobertaDataset"),
     ("datasets:t5", "T5Dataset"), ("datasets:GPT2Dataset", "GPT2Dataset")],
)  # fmt: skip
def test_registered_in_libai_datasets_group(reference, name):
    import libai.data.datasets
    from libai.config.registry import get_registry

    assert get_registry().resolve(reference) is getattr(libai.data.datasets, name)


def test_works_in_dataloader_worker_processes(data):
    from libai.data.structures import Instance
    from libai.utils.oneflow_env import flow

    prefix, _ = data
    ds = GPT2Dataset("gpt-2", None, prefix, None, None, 8, seed=1)
    loader = flow.utils.data.DataLoader(ds, batch_size=4, num_workers=2, collate_fn=Instance.stack)
    batches = list(loader)
    assert len(batches) == -(-len(ds) // 4)
    first = batches[0].get_fields()["input_ids"].tensor.numpy()
    assert first.shape == (4, 8)
    assert first.tolist() == [ds.get_tokens(i)[:-1].tolist() for i in range(4)]
