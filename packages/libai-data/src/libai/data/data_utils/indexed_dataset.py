"""Megatron's indexed dataset format: token arrays in ``PREFIX.bin``, offsets in ``PREFIX.idx``.

Byte-compatible with Megatron-LM / LiBai / fairseq files, so data preprocessed by
either tool loads here and the other way round.

``mmap`` layout of ``PREFIX.idx`` (little endian)::

    b"MMIDIDX\\x00\\x00"        9 bytes magic
    version                    uint64 (= 1)
    dtype code                 uint8  (1 uint8, 2 int8, 3 int16, 4 int32, 5 int64,
                                       6 float64, 7 float32, 8 uint16)
    len                        uint64 number of sequences (sentences)
    doc_count                  uint64 number of entries of doc_idx (documents + 1)
    sizes                      int32[len]     tokens per sequence
    pointers                   int64[len]     byte offset of each sequence in .bin
    doc_idx                    int64[doc_count]  first sequence of each document, then len

``lazy``/``cached`` layout: ``b"TNTIDX\\x00\\x00"``, version, dtype code and element
size, ``len`` and ``s`` (number of dims), ``doc_count``, then int64 arrays
``dim_offsets[len+1]``, ``data_offsets[len+1]`` (in elements), ``sizes[s]`` and
``doc_idx[doc_count]``.

``PREFIX.bin`` is the concatenation of every sequence's tokens in that dtype.
Opening a pair checks that the two files agree; a truncated or mismatched pair is
an :class:`IndexedDatasetError` naming the files.
"""

from __future__ import annotations

import logging
import os
import shutil
import struct
from collections.abc import Iterable
from typing import Any, Union

import numpy as np

logger = logging.getLogger(__name__)

DTYPES: dict[int, type] = {
    1: np.uint8,
    2: np.int8,
    3: np.int16,
    4: np.int32,
    5: np.int64,
    6: np.float64,
    7: np.float32,
    8: np.uint16,
}

_MMAP_MAGIC = b"MMIDIDX\x00\x00"
_LAZY_MAGIC = b"TNTIDX\x00\x00"
_VERSION = 1

EXPECTED_LAYOUT = (
    "an indexed dataset is two files with a common prefix: PREFIX.bin (tokens) and "
    "PREFIX.idx (offsets), written by `python tools/preprocess_data.py --input docs.jsonl "
    "--output-prefix OUT ...` (or `python -m libai.data.tools.preprocess`), which names them "
    "OUT_<json-key>_<document|sentence>.bin/.idx; pass PREFIX without the extension"
)


class IndexedDatasetError(ValueError):
    """A ``.bin``/``.idx`` pair is truncated, corrupt or mismatched; the message names the files."""


def dtype_code(dtype: Any) -> int:
    """Megatron's code of a numpy dtype (``np.int32`` -> 4)."""
    dtype = np.dtype(dtype)
    for code, candidate in DTYPES.items():
        if np.dtype(candidate) == dtype:
            return code
    raise ValueError(
        f"dtype {dtype} has no Megatron code; use one of {[np.dtype(d).name for d in DTYPES.values()]}"
    )


def best_fitting_dtype(vocab_size: int | None = None) -> type:
    """``uint16`` when every id fits (vocab < 65500, as Megatron), else ``int32``."""
    if vocab_size is not None and vocab_size < 65500:
        return np.uint16
    return np.int32


def index_file_path(prefix_path: str) -> str:
    return prefix_path + ".idx"


def data_file_path(prefix_path: str) -> str:
    return prefix_path + ".bin"


def get_available_dataset_impl() -> list[str]:
    return ["lazy", "cached", "mmap"]


def dataset_exists(path: str, impl: str = "mmap") -> bool:
    """Whether both ``path.bin`` and ``path.idx`` exist."""
    return os.path.isfile(index_file_path(path)) and os.path.isfile(data_file_path(path))


def _missing_files_error(path: str) -> FileNotFoundError:
    missing = [p for p in (data_file_path(path), index_file_path(path)) if not os.path.isfile(p)]
    hint = ""
    if path.endswith((".bin", ".idx")):
        hint = f" Drop the extension: data_prefix={path[:-4]!r}."
    else:
        parent = os.path.dirname(path) or "."
        base = os.path.basename(path)
        if os.path.isdir(parent):
            near = sorted(
                f[:-4] for f in os.listdir(parent) if f.endswith(".idx") and f.startswith(base[:3])
            )[:5]
            if near:
                hint = f" Prefixes found in {parent}: {', '.join(near)}."
    return FileNotFoundError(
        f"indexed dataset {path!r} not found: missing {', '.join(missing)}. Nothing is "
        f"downloaded; {EXPECTED_LAYOUT}.{hint}"
    )


def infer_dataset_impl(path: str) -> str | None:
    """``"mmap"`` or ``"cached"`` from the magic bytes of ``path.idx``; None if unknown."""
    if not dataset_exists(path):
        raise _missing_files_error(path)
    with open(index_file_path(path), "rb") as f:
        magic = f.read(9)
    if magic == _MMAP_MAGIC:
        return "mmap"
    if magic[:8] == _LAZY_MAGIC:
        return "cached"
    return None


def _check_doc_idx(doc_idx: np.ndarray, length: int, idx_path: str) -> None:
    if doc_idx.shape[0] < 1 or doc_idx[0] != 0 or doc_idx[-1] != length:
        raise IndexedDatasetError(
            f"{idx_path}: document index must start at 0 and end at the number of sequences "
            f"({length}); it is [{doc_idx[0] if len(doc_idx) else '-'} .. "
            f"{doc_idx[-1] if len(doc_idx) else '-'}] with {doc_idx.shape[0]} entries. The file is corrupt."
        )
    if np.any(np.diff(doc_idx) < 0):
        raise IndexedDatasetError(f"{idx_path}: document index is not sorted. The file is corrupt.")


# --------------------------------------------------------------------------- mmap format
class _MMapIndex:
    """The parsed ``.idx`` of the mmap format (arrays are views of a read-only memmap)."""

    def __init__(self, path: str, skip_warmup: bool = False) -> None:
        self.path = path
        file_size = os.path.getsize(path)
        with open(path, "rb") as stream:
            header = stream.read(9 + 8 + 1 + 8 + 8)
        if len(header) < 34 or header[:9] != _MMAP_MAGIC:
            hint = (
                " (it is a lazy/cached index: use data_impl='cached')"
                if header[:8] == _LAZY_MAGIC
                else ""
            )
            raise IndexedDatasetError(
                f"{path}: not an mmap indexed-dataset index (expected magic {_MMAP_MAGIC!r}, "
                f"file has {header[:9]!r}){hint}"
            )
        (version,) = struct.unpack("<Q", header[9:17])
        if version != _VERSION:
            raise IndexedDatasetError(
                f"{path}: index version {version}, only version {_VERSION} is supported"
            )
        (code,) = struct.unpack("<B", header[17:18])
        if code not in DTYPES:
            raise IndexedDatasetError(
                f"{path}: unknown dtype code {code} (known: {sorted(DTYPES)})"
            )
        self.dtype = DTYPES[code]
        self.dtype_size = np.dtype(self.dtype).itemsize
        self.length, self.doc_count = struct.unpack("<QQ", header[18:34])
        offset = 34
        expected = offset + self.length * (4 + 8) + self.doc_count * 8
        if file_size != expected:
            raise IndexedDatasetError(
                f"{path}: index is {'truncated' if file_size < expected else 'too long'}: "
                f"{file_size} bytes, but its header ({self.length} sequences, {self.doc_count} "
                f"document entries) needs {expected} bytes"
            )
        if not skip_warmup:
            _warmup(path)
        self._mmap = np.memmap(path, mode="r", order="C")
        buffer = memoryview(self._mmap)
        self.sizes = np.frombuffer(buffer, dtype=np.int32, count=self.length, offset=offset)
        self.pointers = np.frombuffer(
            buffer, dtype=np.int64, count=self.length, offset=offset + self.sizes.nbytes
        )
        self.doc_idx = np.frombuffer(
            buffer,
            dtype=np.int64,
            count=self.doc_count,
            offset=offset + self.sizes.nbytes + self.pointers.nbytes,
        )
        _check_doc_idx(self.doc_idx, self.length, path)

    def data_bytes(self) -> int:
        """Size the ``.bin`` file must have."""
        if self.length == 0:
            return 0
        return int(self.pointers[-1]) + int(self.sizes[-1]) * self.dtype_size


def _warmup(path: str) -> None:
    """Read a file once so that later random access hits the page cache (Megatron's warmup)."""
    with open(path, "rb") as stream:
        while stream.read(100 * 1024 * 1024):
            pass


class MMapIndexedDataset:
    """Read-only, memory-mapped indexed dataset (``data_impl="mmap"``).

    ``ds[i]`` is sequence ``i`` as a numpy array (a view of the mapped ``.bin``),
    ``ds[a:b]`` a list of them, ``ds.get(i, offset, length)`` part of one.
    ``sizes`` and ``doc_idx`` are the arrays of the index. Picklable (reopens on load),
    so it works in DataLoader worker processes.

    Raises:
        FileNotFoundError: ``path.bin`` or ``path.idx`` is missing (the message shows the layout).
        IndexedDatasetError: the files are truncated or do not match.
    """

    def __init__(self, path: str, skip_warmup: bool = False) -> None:
        self._do_init(os.fspath(path), skip_warmup)

    def _do_init(self, path: str, skip_warmup: bool = True) -> None:
        if not dataset_exists(path):
            raise _missing_files_error(path)
        self._path = path
        self._skip_warmup = skip_warmup
        self._index = _MMapIndex(index_file_path(path), skip_warmup)
        bin_path = data_file_path(path)
        bin_size = os.path.getsize(bin_path)
        expected = self._index.data_bytes()
        if bin_size != expected:
            state = "truncated" if bin_size < expected else "longer than its index says"
            raise IndexedDatasetError(
                f"{bin_path} is {state}: {bin_size} bytes, but {index_file_path(path)} describes "
                f"{self._index.length} sequences of {np.dtype(self._index.dtype).name} needing "
                f"{expected} bytes. The .bin and .idx do not belong together or one was cut short; "
                "preprocess the data again."
            )
        if not skip_warmup:
            _warmup(bin_path)
        if bin_size:
            self._bin_mmap = np.memmap(bin_path, mode="r", order="C")
            self._bin_buffer = memoryview(self._bin_mmap)
        else:  # numpy cannot map an empty file
            self._bin_mmap = None
            self._bin_buffer = memoryview(b"")
        self._doc_idx_override: np.ndarray | None = None

    def __getstate__(self) -> Any:
        return (self._path, self._doc_idx_override)

    def __setstate__(self, state: Any) -> None:
        path, override = state
        self._do_init(path, skip_warmup=True)
        self._doc_idx_override = override

    @property
    def path(self) -> str:
        return self._path

    def __len__(self) -> int:
        return self._index.length

    def __getitem__(
        self, idx: Union[int, slice, np.integer]
    ) -> Union[np.ndarray, list[np.ndarray]]:
        if isinstance(idx, slice):
            start, stop, step = idx.indices(len(self))
            if step != 1:
                raise ValueError("slices of an indexed dataset must be contiguous (step 1)")
            if stop <= start:
                return []
            sizes = self._index.sizes[start:stop]
            total = int(sizes.sum())
            array = np.frombuffer(
                self._bin_buffer,
                dtype=self._index.dtype,
                count=total,
                offset=int(self._index.pointers[start]),
            )
            return np.split(array, np.cumsum(sizes)[:-1])
        i = int(idx)
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(
                f"sequence {idx} out of range for {self._path} ({len(self)} sequences)"
            )
        return np.frombuffer(
            self._bin_buffer,
            dtype=self._index.dtype,
            count=int(self._index.sizes[i]),
            offset=int(self._index.pointers[i]),
        )

    def get(self, idx: int, offset: int = 0, length: int | None = None) -> np.ndarray:
        """Tokens ``offset .. offset+length`` of sequence ``idx`` (to its end when length is None)."""
        size = int(self._index.sizes[idx])
        if length is None:
            length = size - offset
        if offset < 0 or length < 0 or offset + length > size:
            raise IndexError(
                f"get({idx}, offset={offset}, length={length}) is outside sequence {idx} of "
                f"{self._path}, which has {size} tokens"
            )
        pointer = int(self._index.pointers[idx]) + offset * self._index.dtype_size
        return np.frombuffer(
            self._bin_buffer, dtype=self._index.dtype, count=length, offset=pointer
        )

    @property
    def dtype(self) -> type:
        return self._index.dtype

    @property
    def sizes(self) -> np.ndarray:
        return self._index.sizes

    @property
    def doc_idx(self) -> np.ndarray:
        if self._doc_idx_override is not None:
            return self._doc_idx_override
        return self._index.doc_idx

    def get_doc_idx(self) -> np.ndarray:
        return self.doc_idx

    def set_doc_idx(self, doc_idx: np.ndarray) -> None:
        """Restrict the documents seen by datasets built on this one (LiBai's train/valid/test split)."""
        self._doc_idx_override = None if doc_idx is self._index.doc_idx else np.asarray(doc_idx)

    @property
    def supports_prefetch(self) -> bool:
        return False

    @staticmethod
    def exists(path: str) -> bool:
        return dataset_exists(path)

    def __repr__(self) -> str:
        return (
            f"MMapIndexedDataset({self._path!r}, sequences={len(self)}, "
            f"documents={self.doc_idx.shape[0] - 1}, dtype={np.dtype(self.dtype).name})"
        )


class MMapIndexedDatasetBuilder:
    """Write an mmap indexed dataset: ``add_item`` per sequence, ``end_document`` per document."""

    def __init__(self, out_file: str, dtype: Any = np.int64) -> None:
        self._out_file = out_file
        self._data_file = open(out_file, "wb")
        self._dtype = np.dtype(dtype).type
        self._sizes: list[int] = []
        self._doc_idx: list[int] = [0]

    def add_item(self, tensor: Any) -> None:
        """Append one sequence (a list, numpy array or tensor of token ids)."""
        if hasattr(tensor, "numpy"):
            tensor = tensor.numpy()
        array = np.asarray(tensor, dtype=self._dtype).reshape(-1)
        self._data_file.write(array.tobytes(order="C"))
        self._sizes.append(int(array.size))

    def end_document(self) -> None:
        self._doc_idx.append(len(self._sizes))

    def merge_file_(self, another_prefix: str) -> None:
        """Append the sequences and documents of another mmap dataset (same dtype)."""
        index = _MMapIndex(index_file_path(another_prefix), skip_warmup=True)
        if np.dtype(index.dtype) != np.dtype(self._dtype):
            raise IndexedDatasetError(
                f"cannot merge {another_prefix}: its dtype is {np.dtype(index.dtype).name}, "
                f"this builder writes {np.dtype(self._dtype).name}"
            )
        offset = len(self._sizes)
        self._sizes.extend(int(s) for s in index.sizes)
        self._doc_idx.extend(int(d) + offset for d in index.doc_idx[1:])
        with open(data_file_path(another_prefix), "rb") as f:
            shutil.copyfileobj(f, self._data_file)

    def finalize(self, index_file: str) -> None:
        """Close the ``.bin`` and write the ``.idx``."""
        self._data_file.close()
        if self._doc_idx[-1] != len(self._sizes):  # sequences after the last end_document()
            self._doc_idx.append(len(self._sizes))
        write_mmap_index(index_file, self._dtype, self._sizes, self._doc_idx)


def write_mmap_index(path: str, dtype: Any, sizes: Iterable[int], doc_idx: Iterable[int]) -> None:
    """Write an mmap ``.idx`` file for sequences of ``sizes`` tokens of ``dtype``."""
    sizes_arr = np.asarray(list(sizes), dtype=np.int32)
    itemsize = np.dtype(dtype).itemsize
    pointers = np.zeros(sizes_arr.shape[0], dtype=np.int64)
    if sizes_arr.shape[0] > 1:
        np.cumsum(sizes_arr[:-1].astype(np.int64) * itemsize, out=pointers[1:])
    doc = np.asarray(list(doc_idx), dtype=np.int64)
    with open(path, "wb") as f:
        f.write(_MMAP_MAGIC)
        f.write(struct.pack("<Q", _VERSION))
        f.write(struct.pack("<B", dtype_code(dtype)))
        f.write(struct.pack("<Q", sizes_arr.shape[0]))
        f.write(struct.pack("<Q", doc.shape[0]))
        f.write(sizes_arr.tobytes(order="C"))
        f.write(pointers.tobytes(order="C"))
        f.write(doc.tobytes(order="C"))


# --------------------------------------------------------------------------- lazy / cached
class IndexedDataset:
    """Indexed dataset in the ``lazy`` format: reads each sequence from disk when asked.

    Raises:
        FileNotFoundError: a file is missing; IndexedDatasetError: the pair is inconsistent.
    """

    def __init__(self, path: str) -> None:
        path = os.fspath(path)
        if not dataset_exists(path):
            raise _missing_files_error(path)
        self.path = path
        self.data_file = None
        self._doc_idx_override: np.ndarray | None = None
        self._read_index(index_file_path(path))
        bin_path = data_file_path(path)
        expected = int(self.data_offsets[-1]) * self.element_size
        actual = os.path.getsize(bin_path)
        if actual != expected:
            state = "truncated" if actual < expected else "longer than its index says"
            raise IndexedDatasetError(
                f"{bin_path} is {state}: {actual} bytes, but {index_file_path(path)} needs {expected} "
                "bytes. The .bin and .idx do not belong together or one was cut short."
            )

    def _read_index(self, idx_path: str) -> None:
        size = os.path.getsize(idx_path)
        with open(idx_path, "rb") as f:
            header = f.read(56)
            if len(header) < 56 or header[:8] != _LAZY_MAGIC:
                hint = (
                    " (it is an mmap index: use data_impl='mmap')"
                    if header[:9] == _MMAP_MAGIC
                    else ""
                )
                raise IndexedDatasetError(
                    f"{idx_path}: not a lazy/cached indexed-dataset index (magic {_LAZY_MAGIC!r}){hint}"
                )
            (version,) = struct.unpack("<Q", header[8:16])
            if version != _VERSION:
                raise IndexedDatasetError(
                    f"{idx_path}: index version {version}, expected {_VERSION}"
                )
            code, self.element_size = struct.unpack("<QQ", header[16:32])
            if code not in DTYPES:
                raise IndexedDatasetError(f"{idx_path}: unknown dtype code {code}")
            self.dtype = DTYPES[code]
            self._len, self.s = struct.unpack("<QQ", header[32:48])
            (self.doc_count,) = struct.unpack("<Q", header[48:56])
            expected = 56 + 8 * (2 * (self._len + 1) + self.s + self.doc_count)
            if size != expected:
                raise IndexedDatasetError(
                    f"{idx_path}: index is {'truncated' if size < expected else 'too long'}: {size} "
                    f"bytes, its header needs {expected}"
                )
            arrays = np.frombuffer(f.read(), dtype=np.int64)
        n = self._len + 1
        self.dim_offsets = arrays[:n]
        self.data_offsets = arrays[n : 2 * n]
        self.sizes = arrays[2 * n : 2 * n + self.s]
        self._doc_idx = arrays[2 * n + self.s :]
        _check_doc_idx(self._doc_idx, self._len, idx_path)

    def _open(self) -> None:
        if self.data_file is None:
            self.data_file = open(data_file_path(self.path), "rb", buffering=0)

    def __getstate__(self) -> Any:
        state = dict(self.__dict__)
        state["data_file"] = None
        return state

    def __del__(self) -> None:
        if getattr(self, "data_file", None) is not None:
            self.data_file.close()

    def _check(self, i: int) -> int:
        if i < 0:
            i += self._len
        if not 0 <= i < self._len:
            raise IndexError(f"sequence {i} out of range for {self.path} ({self._len} sequences)")
        return i

    def __getitem__(self, idx: Union[int, slice]) -> Union[np.ndarray, list[np.ndarray]]:
        if isinstance(idx, slice):
            start, stop, step = idx.indices(len(self))
            if step != 1:
                raise ValueError("slices of an indexed dataset must be contiguous (step 1)")
            return [self[i] for i in range(start, stop)]
        i = self._check(int(idx))
        self._open()
        count = int(self.data_offsets[i + 1] - self.data_offsets[i])
        array = np.empty(count, dtype=self.dtype)
        self.data_file.seek(int(self.data_offsets[i]) * self.element_size)
        self.data_file.readinto(array)
        return array

    def get(self, idx: int, offset: int = 0, length: int | None = None) -> np.ndarray:
        array = self[idx]
        end = None if length is None else offset + length
        return array[offset:end]

    def __len__(self) -> int:
        return self._len

    @property
    def doc_idx(self) -> np.ndarray:
        return self._doc_idx if self._doc_idx_override is None else self._doc_idx_override

    def get_doc_idx(self) -> np.ndarray:
        return self.doc_idx

    def set_doc_idx(self, doc_idx: np.ndarray) -> None:
        self._doc_idx_override = None if doc_idx is self._doc_idx else np.asarray(doc_idx)

    def num_tokens(self, index: int) -> int:
        return int(self.sizes[index])

    def size(self, index: int) -> int:
        return int(self.sizes[index])

    @staticmethod
    def exists(path: str) -> bool:
        return dataset_exists(path)

    @property
    def supports_prefetch(self) -> bool:
        return False


class IndexedCachedDataset(IndexedDataset):
    """The ``cached`` flavour: ``prefetch(indices)`` loads sequences into memory once.

    Sequences not prefetched are read from disk like the lazy flavour.
    """

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.cache: np.ndarray | None = None
        self.cache_index: dict[int, int] = {}

    @property
    def supports_prefetch(self) -> bool:
        return True

    def prefetch(self, indices: Iterable[int]) -> None:
        indices = sorted(set(int(i) for i in indices))
        if all(i in self.cache_index for i in indices):
            return
        self._open()
        total = sum(int(self.data_offsets[i + 1] - self.data_offsets[i]) for i in indices)
        self.cache = np.empty(total, dtype=self.dtype)
        self.cache_index = {}
        position = 0
        for i in indices:
            self.cache_index[i] = position
            count = int(self.data_offsets[i + 1] - self.data_offsets[i])
            self.data_file.seek(int(self.data_offsets[i]) * self.element_size)
            self.data_file.readinto(self.cache[position : position + count])
            position += count
        # Close the file so the dataset pickles into DataLoader workers with its cache.
        self.data_file.close()
        self.data_file = None

    def __getitem__(self, idx: Union[int, slice]) -> Union[np.ndarray, list[np.ndarray]]:
        if isinstance(idx, slice) or self.cache is None:
            return super().__getitem__(idx)
        i = self._check(int(idx))
        start = self.cache_index.get(i)
        if start is None:
            return super().__getitem__(i)
        count = int(self.data_offsets[i + 1] - self.data_offsets[i])
        return self.cache[start : start + count].copy()


class IndexedDatasetBuilder:
    """Write a ``lazy``/``cached`` indexed dataset."""

    def __init__(self, out_file: str, dtype: Any = np.int32) -> None:
        self.out_file = open(out_file, "wb")
        self.dtype = np.dtype(dtype).type
        self.element_size = np.dtype(dtype).itemsize
        self.data_offsets = [0]
        self.dim_offsets = [0]
        self.sizes: list[int] = []
        self.doc_idx = [0]

    def add_item(self, tensor: Any) -> None:
        if hasattr(tensor, "numpy"):
            tensor = tensor.numpy()
        array = np.asarray(tensor, dtype=self.dtype)
        self.out_file.write(array.tobytes(order="C"))
        self.data_offsets.append(self.data_offsets[-1] + int(array.size))
        shape = array.shape or (1,)
        self.sizes.extend(int(s) for s in shape)
        self.dim_offsets.append(self.dim_offsets[-1] + len(shape))

    def end_document(self) -> None:
        self.doc_idx.append(len(self.data_offsets) - 1)

    def finalize(self, index_file: str) -> None:
        self.out_file.close()
        n = len(self.data_offsets) - 1
        if self.doc_idx[-1] != n:
            self.doc_idx.append(n)
        with open(index_file, "wb") as f:
            f.write(_LAZY_MAGIC)
            f.write(struct.pack("<Q", _VERSION))
            f.write(struct.pack("<QQ", dtype_code(self.dtype), self.element_size))
            f.write(struct.pack("<QQ", n, len(self.sizes)))
            f.write(struct.pack("<Q", len(self.doc_idx)))
            for values in (self.dim_offsets, self.data_offsets, self.sizes, self.doc_idx):
                f.write(np.asarray(values, dtype=np.int64).tobytes())


# --------------------------------------------------------------------------- factories
IndexedDatasetType = Union[MMapIndexedDataset, IndexedDataset]


def make_builder(out_file: str, impl: str, vocab_size: int | None = None) -> Any:
    """A builder for ``impl`` (``mmap``, ``lazy`` or ``cached``) writing ``out_file`` (.bin)."""
    if impl == "mmap":
        return MMapIndexedDatasetBuilder(out_file, dtype=best_fitting_dtype(vocab_size))
    if impl in ("lazy", "cached"):
        return IndexedDatasetBuilder(out_file, dtype=best_fitting_dtype(vocab_size))
    raise ValueError(
        f"unknown dataset implementation {impl!r}; choose from {get_available_dataset_impl()}"
    )


def make_dataset(path: str, impl: str, skip_warmup: bool = False) -> IndexedDatasetType:
    """Open the indexed dataset ``path`` (a prefix) with implementation ``impl`` (or ``infer``)."""
    if not dataset_exists(path):
        raise _missing_files_error(path)
    if impl == "infer":
        impl = infer_dataset_impl(path) or "mmap"
    if impl == "mmap":
        return MMapIndexedDataset(path, skip_warmup)
    if impl == "cached":
        return IndexedCachedDataset(path)
    if impl == "lazy":
        return IndexedDataset(path)
    raise ValueError(
        f"unknown data_impl {impl!r} for {path}; choose from {get_available_dataset_impl() + ['infer']}"
    )


def get_indexed_dataset(
    data_prefix: str,
    data_impl: str = "mmap",
    skip_warmup: bool = False,
    align_postfix: str | None = None,
) -> Any:
    """Open the indexed dataset at ``data_prefix`` (LiBai's ``get_indexed_dataset``).

    Args:
        data_prefix: path without ``.bin``/``.idx``.
        data_impl: ``"mmap"``, ``"cached"``, ``"lazy"`` or ``"infer"``.
        skip_warmup: do not pre-read the files into the page cache.
        align_postfix: also open ``data_prefix-<align_postfix>`` and return both (LiBai).

    Raises:
        FileNotFoundError: the files do not exist; the message gives the expected layout.
        IndexedDatasetError: the files are truncated or mismatched.
    """
    dataset = make_dataset(os.fspath(data_prefix), data_impl, skip_warmup)
    logger.info(
        "indexed dataset %s: %d documents, %d sequences",
        data_prefix,
        dataset.doc_idx.shape[0] - 1,
        len(dataset),
    )
    if align_postfix is not None:
        aligned = make_dataset(f"{data_prefix}-{align_postfix}", data_impl, skip_warmup)
        return dataset, aligned
    return dataset
