"""Megatron indexed datasets: byte layout, reading back, and errors that name the files."""

from __future__ import annotations

import pickle
import struct

import numpy as np
import pytest
from libai.data.data_utils import (
    IndexedCachedDataset,
    IndexedDataset,
    IndexedDatasetError,
    MMapIndexedDataset,
    get_indexed_dataset,
    make_builder,
)
from libai.data.data_utils.indexed_dataset import MMapIndexedDatasetBuilder

DOCS = [[[5, 6, 7], [8, 9]], [[10]], [[11, 12, 13, 14], [15], [16, 17]]]


def write(prefix, impl="mmap", docs=DOCS, vocab_size=100):
    builder = make_builder(str(prefix) + ".bin", impl, vocab_size=vocab_size)
    for doc in docs:
        for sentence in doc:
            builder.add_item(np.array(sentence))
        builder.end_document()
    builder.finalize(str(prefix) + ".idx")
    return str(prefix)


def test_mmap_index_bytes_are_megatron_layout(tmp_path):
    prefix = write(tmp_path / "d")
    raw = (tmp_path / "d.idx").read_bytes()
    assert raw[:9] == b"MMIDIDX\x00\x00"
    assert struct.unpack("<Q", raw[9:17]) == (1,)
    assert raw[17] == 8  # uint16 for a vocabulary under 65500 tokens
    length, doc_count = struct.unpack("<QQ", raw[18:34])
    assert (length, doc_count) == (6, 4)
    sizes = np.frombuffer(raw, np.int32, 6, 34)
    pointers = np.frombuffer(raw, np.int64, 6, 34 + 24)
    doc_idx = np.frombuffer(raw, np.int64, 4, 34 + 24 + 48)
    assert sizes.tolist() == [3, 2, 1, 4, 1, 2]
    assert pointers.tolist() == [0, 6, 10, 12, 20, 22]  # bytes, 2 per uint16 token
    assert doc_idx.tolist() == [0, 2, 3, 6]
    assert len(raw) == 34 + 6 * 12 + 4 * 8
    data = np.frombuffer((tmp_path / "d.bin").read_bytes(), np.uint16)
    assert data.tolist() == [t for doc in DOCS for s in doc for t in s]
    assert prefix


def test_large_vocab_uses_int32(tmp_path):
    write(tmp_path / "d", vocab_size=70000)
    assert (tmp_path / "d.idx").read_bytes()[17] == 4
    ds = MMapIndexedDataset(str(tmp_path / "d"))
    assert ds.dtype == np.int32 and ds[3].tolist() == [11, 12, 13, 14]


@pytest.mark.parametrize("impl", ["mmap", "lazy", "cached"])
def test_read_back(tmp_path, impl):
    prefix = write(tmp_path / "d", impl)
    ds = get_indexed_dataset(prefix, impl, skip_warmup=False)
    sentences = [s for doc in DOCS for s in doc]
    assert len(ds) == len(sentences)
    assert [ds[i].tolist() for i in range(len(ds))] == sentences
    assert [a.tolist() for a in ds[1:4]] == sentences[1:4]
    assert ds.get(3, offset=1, length=2).tolist() == [12, 13]
    assert ds.get(3, offset=2).tolist() == [13, 14]
    assert ds.sizes.tolist() == [3, 2, 1, 4, 1, 2]
    assert ds.doc_idx.tolist() == [0, 2, 3, 6]
    if impl == "cached":
        ds.prefetch([0, 3])
        assert ds[3].tolist() == [11, 12, 13, 14] and ds[1].tolist() == [8, 9]


def test_infer_impl_and_type(tmp_path):
    assert isinstance(get_indexed_dataset(write(tmp_path / "a"), "infer"), MMapIndexedDataset)
    cached = get_indexed_dataset(write(tmp_path / "b", "cached"), "infer")
    assert isinstance(cached, IndexedCachedDataset) and isinstance(cached, IndexedDataset)


def test_set_doc_idx_restricts_and_restores(tmp_path):
    ds = MMapIndexedDataset(write(tmp_path / "d"))
    full = ds.get_doc_idx()
    ds.set_doc_idx(full[1:3])
    assert ds.doc_idx.tolist() == [2, 3]
    ds.set_doc_idx(full)
    assert ds.doc_idx.tolist() == [0, 2, 3, 6]


def test_pickles_for_worker_processes(tmp_path):
    ds = MMapIndexedDataset(write(tmp_path / "d"))
    clone = pickle.loads(pickle.dumps(ds))
    assert clone[3].tolist() == [11, 12, 13, 14] and len(clone) == 6


def test_merge_files(tmp_path):
    a, b = write(tmp_path / "a"), write(tmp_path / "b", docs=[[[1, 2]], [[3], [4]]])
    builder = MMapIndexedDatasetBuilder(str(tmp_path / "m.bin"), dtype=np.uint16)
    builder.merge_file_(a)
    builder.merge_file_(b)
    builder.finalize(str(tmp_path / "m.idx"))
    merged = MMapIndexedDataset(str(tmp_path / "m"))
    assert [merged[i].tolist() for i in range(len(merged))][-3:] == [[1, 2], [3], [4]]
    assert merged.doc_idx.tolist() == [0, 2, 3, 6, 7, 9]


def test_missing_files_explain_layout(tmp_path):
    write(tmp_path / "corpus_text_sentence")
    with pytest.raises(FileNotFoundError) as info:
        get_indexed_dataset(str(tmp_path / "corpus"), "mmap", skip_warmup=True)
    message = str(info.value)
    assert "corpus.bin" in message and "corpus.idx" in message
    assert "PREFIX.bin" in message and "Nothing is downloaded" in message
    assert "corpus_text_sentence" in message  # the prefixes that do exist
    with pytest.raises(FileNotFoundError, match="Drop the extension"):
        get_indexed_dataset(str(tmp_path / "corpus_text_sentence.bin"), "mmap")


def test_truncated_bin_names_the_file(tmp_path):
    prefix = write(tmp_path / "d")
    data = (tmp_path / "d.bin").read_bytes()
    (tmp_path / "d.bin").write_bytes(data[:-4])
    with pytest.raises(IndexedDatasetError) as info:
        MMapIndexedDataset(prefix)
    assert str(tmp_path / "d.bin") in str(info.value) and "truncated" in str(info.value)


@pytest.mark.parametrize("impl", ["lazy", "cached"])
def test_truncated_bin_lazy_formats(tmp_path, impl):
    prefix = write(tmp_path / "d", impl)
    (tmp_path / "d.bin").write_bytes((tmp_path / "d.bin").read_bytes()[:-2])
    with pytest.raises(IndexedDatasetError, match="d.bin is truncated"):
        get_indexed_dataset(prefix, impl)


def test_mismatched_idx_names_both_files(tmp_path):
    write(tmp_path / "d")
    write(tmp_path / "other", docs=[[[1, 2, 3, 4, 5, 6, 7, 8, 9]]])
    (tmp_path / "d.idx").write_bytes((tmp_path / "other.idx").read_bytes())
    with pytest.raises(IndexedDatasetError) as info:
        MMapIndexedDataset(str(tmp_path / "d"))
    message = str(info.value)
    assert str(tmp_path / "d.bin") in message and str(tmp_path / "d.idx") in message
    assert "do not belong together" in message


def test_truncated_idx_names_the_file(tmp_path):
    prefix = write(tmp_path / "d")
    (tmp_path / "d.idx").write_bytes((tmp_path / "d.idx").read_bytes()[:-8])
    with pytest.raises(IndexedDatasetError, match=r"d\.idx: index is truncated"):
        MMapIndexedDataset(prefix)


def test_wrong_impl_is_explained(tmp_path):
    prefix = write(tmp_path / "d", "cached")
    with pytest.raises(IndexedDatasetError, match="data_impl='cached'"):
        MMapIndexedDataset(prefix)


def test_out_of_range(tmp_path):
    ds = MMapIndexedDataset(write(tmp_path / "d"))
    with pytest.raises(IndexError, match="out of range"):
        ds[6]
    with pytest.raises(IndexError, match="outside sequence 1"):
        ds.get(1, offset=1, length=5)
