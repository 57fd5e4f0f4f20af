"""Read a local Hugging Face checkpoint directory without torch.

``config.json`` plus either ``model.safetensors`` (read with the ``safetensors`` numpy
API) or ``pytorch_model.bin`` (a torch zip archive, unpickled here with a restricted
unpickler that rebuilds tensors as numpy arrays, so neither torch nor arbitrary pickled
code is loaded).
"""

from __future__ import annotations

import json
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")

_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class CheckpointError(ValueError):
    """The checkpoint directory is incomplete or in an unsupported format."""


def read_config(path: Path) -> dict:
    config_file = path / "config.json"
    if not config_file.is_file():
        raise CheckpointError(f"{path}: no config.json (a Hugging Face checkpoint needs one)")
    return json.loads(config_file.read_text())


def read_state_dict(path: Path) -> dict[str, np.ndarray]:
    """Return ``{name: array}`` from ``model.safetensors`` or ``pytorch_model.bin`` in ``path``."""
    if (path / "model.safetensors").is_file():
        from safetensors.numpy import load_file

        return dict(load_file(str(path / "model.safetensors")))
    if (path / "pytorch_model.bin").is_file():
        return read_torch_zip(path / "pytorch_model.bin")
    present = sorted(p.name for p in path.iterdir()) if path.is_dir() else []
    raise CheckpointError(
        f"{path}: none of {', '.join(WEIGHT_FILES)} found (sharded checkpoints are not "
        f"supported); the directory holds {present}"
    )


class _StorageType:
    def __init__(self, dtype: Any) -> None:
        self.dtype = np.dtype(dtype)


def _rebuild_tensor(storage, storage_offset, size, stride, *_unused):
    itemsize = storage.dtype.itemsize
    if not size:
        return storage[storage_offset : storage_offset + 1].reshape(()).copy()
    return np.lib.stride_tricks.as_strided(
        storage[storage_offset:], shape=tuple(size), strides=tuple(s * itemsize for s in stride)
    ).copy()


class _TorchUnpickler(pickle.Unpickler):
    def __init__(self, file, archive: zipfile.ZipFile, prefix: str) -> None:
        super().__init__(file)
        self._archive = archive
        self._prefix = prefix

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(_STORAGE_DTYPES[name])
        if module == "collections" and name == "OrderedDict":
            import collections

            return collections.OrderedDict
        if module == "torch" and name == "BFloat16Storage":
            raise CheckpointError("bfloat16 pytorch_model.bin is not supported; use safetensors")
        raise CheckpointError(f"pytorch_model.bin references {module}.{name}, which is not allowed")

    def persistent_load(self, pid: Any) -> Any:
        # ('storage', storage_type, key, location, numel)
        _, storage_type, key, _location, _numel = pid
        raw = self._archive.read(f"{self._prefix}/data/{key}")
        return np.frombuffer(raw, dtype=storage_type.dtype)


def read_torch_zip(file: Path) -> dict[str, np.ndarray]:
    """Read a ``torch.save`` zip archive of a state dict into numpy arrays."""
    if not zipfile.is_zipfile(file):
        raise CheckpointError(
            f"{file}: not a zip archive (legacy pre-1.6 torch format is not supported)"
        )
    with zipfile.ZipFile(file) as archive:
        pkl = [n for n in archive.namelist() if n.endswith("/data.pkl")]
        if not pkl:
            raise CheckpointError(f"{file}: no data.pkl inside; not a torch checkpoint")
        prefix = pkl[0][: -len("/data.pkl")]
        with archive.open(pkl[0]) as handle:
            state = _TorchUnpickler(handle, archive, prefix).load()
    return {k: np.asarray(v) for k, v in state.items()}
