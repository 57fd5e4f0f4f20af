"""Copy a Hugging Face Llama / Mistral / Qwen2 checkpoint's weights into ``LlamaForCausalLM``.

The reading and the checked copy are libai-models' (``read_state_dict``,
``load_converted``: missing, unexpected and mis-shaped tensors listed by name); this
module adds the sharded layout (``model.safetensors.index.json`` naming one file per
tensor) and the small renaming: our submodules carry Hugging Face's names, so only the
tied ``lm_head`` and non-parameter buffers (``rotary_emb.inv_freq`` of old checkpoints)
need handling.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from libai.models.utils.model_loader import CheckpointError, ModelLoaderHuggerFace, load_converted
from libai.models.utils.model_loader.checkpoint_files import read_state_dict

from libai_llama.hf_config import cfg_from_hf_config

SHARD_INDEX = "model.safetensors.index.json"


def read_hf_weights(path: Path) -> dict[str, np.ndarray]:
    """``{name: array}`` of the checkpoint in ``path``, single-file or sharded.

    Raises ``CheckpointError`` when the index names a shard that is not there.
    """
    path = Path(path)
    index_file = path / SHARD_INDEX
    if not index_file.is_file():
        return read_state_dict(path)
    from safetensors.numpy import load_file

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
        state.update(load_file(str(shard_file)))
    absent = sorted(set(weight_map) - set(state))
    if absent:
        raise CheckpointError(f"{index_file}: tensors listed but not in their shards: {absent}")
    return state


def convert_hf_state(state: dict[str, np.ndarray], tie_word_embeddings: bool) -> dict:
    """Hugging Face names -> ``LlamaForCausalLM`` parameter names."""
    converted = {}
    for name, value in state.items():
        if name.endswith("rotary_emb.inv_freq"):
            continue  # recomputed from the config
        if tie_word_embeddings and name == "lm_head.weight":
            continue  # the embedding table is the output projection
        converted[name] = value
    return converted


def load_hf_weights(model: Any, path: Path) -> None:
    """Load the checkpoint in ``path`` into ``model`` (a ``LlamaForCausalLM``).

    Raises ``WeightLoadError`` listing every missing, unexpected or mis-shaped tensor.
    """
    state = read_hf_weights(Path(path))
    converted = convert_hf_state(state, model.tie_word_embeddings)
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

    def convert(self, state: dict, cfg: Any) -> dict:
        return convert_hf_state(state, bool(cfg.tie_word_embeddings))

    def load(self) -> Any:
        cfg = self.build_cfg()
        cfg.pretrained_model_path = str(self.pretrained_model_path)
        model = self._build(cfg)
        if model is self.model:  # a built model: fill it
            load_hf_weights(model, self.pretrained_model_path)
        return model
