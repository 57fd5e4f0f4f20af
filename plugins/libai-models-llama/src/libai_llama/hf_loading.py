"""Copy a Hugging Face Llama / Mistral / Qwen2 checkpoint's weights into ``LlamaForCausalLM``.

The reading and the checked copy are libai-models' (``read_state_dict``,
``load_converted``: missing, unexpected and mis-shaped tensors listed by name); this
module adds the sharded layout (``model.safetensors.index.json`` naming one file per
tensor), bfloat16 safetensors (read exactly as float32: see :func:`read_safetensors`)
and the conversion: our submodules carry Hugging Face's names except the fused
``query_key_value`` and ``gate_up_proj``; a tied ``lm_head`` and old checkpoints'
``rotary_emb.inv_freq`` are dropped.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
from libai.models.utils.model_loader import (
    CheckpointError,
    ModelLoaderHuggerFace,
    WeightLoadError,
    load_converted,
)
from libai.models.utils.model_loader.checkpoint_files import read_state_dict

from libai_llama.hf_config import cfg_from_hf_config

SHARD_INDEX = "model.safetensors.index.json"
SINGLE_FILE = "model.safetensors"


def _safetensors_header(file: Path) -> tuple[dict, int]:
    """``(header, data_start)`` of a safetensors file: the JSON header, ``{name: {"dtype",
    "shape", "data_offsets"}}`` (and ``"__metadata__"``), and the file offset its
    ``data_offsets`` count from, as the format lays it out: an 8-byte little-endian
    length, that many bytes of JSON, then the data."""
    with open(file, "rb") as f:
        prefix = f.read(8)
        if len(prefix) < 8:
            raise CheckpointError(f"{file}: not a safetensors file (shorter than its header)")
        (length,) = struct.unpack("<Q", prefix)
        raw = f.read(length)
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{file}: not a safetensors file (bad JSON header: {exc})") from exc
    if not isinstance(header, dict) or len(raw) != length:
        raise CheckpointError(f"{file}: not a safetensors file (truncated header)")
    return header, 8 + length


def read_safetensors(file: Path) -> dict[str, np.ndarray]:
    """``{name: array}`` of one safetensors file, bfloat16 tensors as float32.

    safetensors' numpy reader refuses bfloat16 (numpy has no such type), the dtype most
    Hugging Face checkpoints are stored in. The conversion is exact: a bfloat16 is the
    top 16 bits of the float32 of the same value, so each one is shifted into the high
    half of a 32-bit word. Every other dtype is read by safetensors itself.
    """
    from safetensors import safe_open

    file = Path(file)
    header, data_start = _safetensors_header(file)
    bf16 = {
        name: info
        for name, info in header.items()
        if name != "__metadata__" and info.get("dtype") == "BF16"
    }
    state: dict[str, np.ndarray] = {}
    with safe_open(str(file), framework="numpy") as f:
        for name in f.keys():
            if name not in bf16:
                state[name] = f.get_tensor(name)
    for name, info in bf16.items():
        begin, end = info["data_offsets"]
        count = int(np.prod(info["shape"], dtype=np.int64))
        if end - begin != 2 * count:
            raise CheckpointError(
                f"{file}: tensor {name!r} of shape {info['shape']} in BF16 needs {2 * count} "
                f"bytes, its data_offsets span {end - begin}"
            )
        half = np.fromfile(file, dtype="<u2", count=count, offset=data_start + begin)
        state[name] = (half.astype(np.uint32) << 16).view(np.float32).reshape(info["shape"])
    return state


def read_hf_weights(path: Path) -> dict[str, np.ndarray]:
    """``{name: array}`` of the checkpoint in ``path``, single-file or sharded safetensors
    (bfloat16 read as float32), or ``pytorch_model.bin``.

    Raises ``CheckpointError`` when the index names a shard that is not there.
    """
    path = Path(path)
    index_file = path / SHARD_INDEX
    if not index_file.is_file():
        if (path / SINGLE_FILE).is_file():
            return read_safetensors(path / SINGLE_FILE)
        return read_state_dict(path)

    weight_map = json.loads(index_file.read_text()).get("weight_map")
    if not isinstance(weight_map, dict) or not weight_map:
        raise CheckpointError(f"{index_file}: no 'weight_map' of tensor names to shard files")
    state: dict[str, np.ndarray] = {}
    for shard in sorted(set(weight_map.values())):
        shard_file = path / shard
        if not shard_file.is_file():
            names = sorted(k for k, v in weight_map.items() if v == shard)
            raise CheckpointError(
                f"{index_file} names shard {shard!r} (holding {names[:3]}"
                f"{' ...' if len(names) > 3 else ''}) but {shard_file} does not exist"
            )
        state.update(read_safetensors(shard_file))
    absent = sorted(set(weight_map) - set(state))
    if absent:
        raise CheckpointError(f"{index_file}: tensors listed but not in their shards: {absent}")
    return state


def _fuse_qkv(q: np.ndarray, k: np.ndarray, v: np.ndarray, kv_heads: int) -> np.ndarray:
    """q ``(H*d, ...)``, k and v ``(KV*d, ...)`` -> ``query_key_value``'s rows, per kv head
    ``[q of its group | k | v]`` (see LlamaAttention)."""
    head_dim = k.shape[0] // kv_heads
    tail = q.shape[1:]
    q = q.reshape((kv_heads, -1, head_dim) + tail)
    k = k.reshape((kv_heads, 1, head_dim) + tail)
    v = v.reshape((kv_heads, 1, head_dim) + tail)
    return np.concatenate([q, k, v], axis=1).reshape((-1,) + tail)


def _fuse_gate_up(gate: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Rows interleaved ``[gate_0, up_0, gate_1, up_1, ...]`` (see LlamaMLP)."""
    return np.stack([gate, up], axis=1).reshape((-1,) + gate.shape[1:])


def _hf_sources(name: str) -> tuple:
    """The Hugging Face tensors that make our parameter ``name``."""
    for fused, parts in (
        (
            "self_attn.query_key_value.",
            ("self_attn.q_proj.", "self_attn.k_proj.", "self_attn.v_proj."),
        ),
        ("mlp.gate_up_proj.", ("mlp.gate_proj.", "mlp.up_proj.")),
    ):
        if fused in name:
            return tuple(name.replace(fused, part) for part in parts)
    return (name,)


def convert_hf_state(state: dict, model: Any) -> dict:
    """Hugging Face names -> ``LlamaForCausalLM`` parameter names (q/k/v and gate/up fused).

    Raises ``WeightLoadError`` listing every Hugging Face tensor that is missing,
    unexpected, or of the wrong shape for ``model``'s sizes.
    """
    attn = model.model.layers[0].self_attn if len(model.model.layers) else None
    kv_heads = attn.num_kv_heads if attn is not None else 1
    head_dim = attn.head_dim if attn is not None else 1
    groups = attn.groups if attn is not None else 1
    state = {
        k: v
        for k, v in state.items()
        if not k.endswith("rotary_emb.inv_freq")  # recomputed from the config
        and not (model.tie_word_embeddings and k == "lm_head.weight")  # the table is the head
    }
    expected: dict[str, tuple] = {}
    for name, param in model.named_parameters():
        shape = tuple(param.shape)
        sources = _hf_sources(name)
        if len(sources) == 3:  # q, k, v
            rows = (groups * head_dim, head_dim, head_dim)
            for source, r in zip(sources, rows):
                expected[source] = (kv_heads * r,) + shape[1:]
        elif len(sources) == 2:  # gate, up
            expected.update({source: (shape[0] // 2,) + shape[1:] for source in sources})
        else:
            expected[name] = shape
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    mis_shaped = [
        f"{k}: checkpoint {tuple(state[k].shape)} vs model {expected[k]}"
        for k in sorted(set(expected) & set(state))
        if tuple(state[k].shape) != expected[k]
    ]
    if missing or unexpected or mis_shaped:
        lines = [f"cannot load the checkpoint into {type(model).__name__}:"]
        if missing:
            lines.append(f"  missing in the checkpoint ({len(missing)}): {', '.join(missing)}")
        if unexpected:
            lines.append(
                f"  unexpected in the checkpoint ({len(unexpected)}): {', '.join(unexpected)}"
            )
        if mis_shaped:
            lines.append("  shape mismatches: " + "; ".join(mis_shaped))
        raise WeightLoadError("\n".join(lines))
    converted = {}
    for name, _param in model.named_parameters():
        sources = [state[s] for s in _hf_sources(name)]
        if len(sources) == 3:
            converted[name] = _fuse_qkv(*sources, kv_heads)
        elif len(sources) == 2:
            converted[name] = _fuse_gate_up(*sources)
        else:
            converted[name] = sources[0]
    return converted


def load_hf_weights(model: Any, path: Path) -> None:
    """Load the checkpoint in ``path`` into ``model`` (a ``LlamaForCausalLM``).

    Raises ``WeightLoadError`` listing every missing, unexpected or mis-shaped tensor.
    """
    try:
        converted = convert_hf_state(read_hf_weights(Path(path)), model)
    except WeightLoadError as exc:
        raise WeightLoadError(f"{path}: {exc}") from None
    load_converted(model, converted, "", str(path))


class LlamaLoaderHuggerFace(ModelLoaderHuggerFace):
    """LiBai's loader interface (``LlamaLoaderHuggerFace(model, cfg, path).load()``), used by
    ``libai.inference``'s ``"huggingface"`` mode.

    ``model`` is the class, its LazyCall or a built model. The model is built with
    ``cfg.pretrained_model_path = path``, so it takes its sizes from ``config.json`` and
    loads the (single or sharded) weights itself.
    """

    def cfg_from_hf(self, hf_config: dict) -> dict:
        return cfg_from_hf_config(hf_config, str(self.pretrained_model_path / "config.json"))

    def convert(self, state: dict, cfg: Any) -> dict:  # pragma: no cover - load() is overridden
        raise NotImplementedError("the model converts its checkpoint itself (load_hf_weights)")

    def load(self) -> Any:
        cfg = self.build_cfg()
        cfg.pretrained_model_path = str(self.pretrained_model_path)
        model = self._build(cfg)
        if model is self.model:  # a built model: fill it
            load_hf_weights(model, self.pretrained_model_path)
        return model
