"""bfloat16 checkpoints and linear / dynamic rope scaling against transformers.

The fixtures in ``fixtures/hf_extra`` are written by ``fixtures/make_llama_fixtures.py``
(``tox -e reference``): tiny trained Llamas saved by transformers, and the logits that
transformers computes from them in float32 (each forward by a freshly loaded model).

* ``bf16`` / ``bf16_sharded``: weights stored in bfloat16, one file and three shards; read
  exactly (each value equals the float32 transformers upcasts it to), so the logits agree
  with transformers' float32 model of the same weights within 1e-4.
* ``rope_linear``, ``rope_dynamic``: ``rope_scaling`` type ``linear`` and ``dynamic``; the
  dynamic one has ``max_position_embeddings=8`` and inputs of 10 and 14 tokens, past
  the length where dynamic scaling starts changing the frequencies.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from libai.models.utils.model_loader import CheckpointError
from libai.utils.oneflow_env import flow
from libai_llama.hf_loading import read_hf_weights, read_safetensors
from libai_llama.modeling import LlamaForCausalLM

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "hf_extra"
TOL = 1e-4


def _io(name: str) -> dict:
    return dict(np.load(FIXTURES / name / "io.npz"))


def _logits(name: str):
    model = LlamaForCausalLM(cfg=dict(pretrained_model_path=str(FIXTURES / name))).eval()
    io = _io(name)
    ids, mask = io["in_input_ids"], io["in_attention_mask"]
    with flow.no_grad():
        padded = model(flow.tensor(ids), attention_mask=flow.tensor(mask))["logits"]
        plain = model(flow.tensor(ids[:, 4:]))["logits"]
    return model, io, padded.to_local().numpy(), plain.to_local().numpy()


def _dtypes(file: Path) -> set:
    with open(file, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
    return {v["dtype"] for k, v in header.items() if k != "__metadata__"}


def test_fixtures_are_stored_as_claimed():
    assert _dtypes(FIXTURES / "bf16" / "model.safetensors") == {"BF16"}
    shards = sorted((FIXTURES / "bf16_sharded").glob("model-*.safetensors"))
    assert len(shards) >= 2 and all(_dtypes(s) == {"BF16"} for s in shards)
    assert (FIXTURES / "bf16_sharded" / "model.safetensors.index.json").is_file()
    linear = json.loads((FIXTURES / "rope_linear" / "config.json").read_text())
    assert linear["rope_scaling"] == {"rope_type": "linear", "factor": 2.0}
    dynamic = json.loads((FIXTURES / "rope_dynamic" / "config.json").read_text())
    assert dynamic["rope_scaling"] == {"rope_type": "dynamic", "factor": 2.0}
    assert dynamic["max_position_embeddings"] == 8 < _io("rope_dynamic")["in_input_ids"].shape[1]


def test_bf16_values_are_exact_and_sharded_equals_single():
    single = read_hf_weights(FIXTURES / "bf16")
    sharded = read_hf_weights(FIXTURES / "bf16_sharded")
    assert sorted(single) == sorted(sharded) and len(single) == 2 * 9 + 3
    for name, value in single.items():
        assert value.dtype == np.float32, name
        # A bfloat16 is the top half of a float32: the low 16 bits are all zero.
        assert not (value.view(np.uint32) & 0xFFFF).any(), name
        np.testing.assert_array_equal(value, sharded[name], err_msg=name)
    # Not all zeros or garbage: trained weights of ordinary size.
    embed = single["model.embed_tokens.weight"]
    assert embed.shape == (96, 32) and 0.01 < np.abs(embed).mean() < 10


@pytest.mark.parametrize("name", ["bf16", "bf16_sharded", "rope_linear", "rope_dynamic"])
def test_logits_match_transformers(name):
    _, io, padded, plain = _logits(name)
    real = io["in_attention_mask"].astype(bool)
    assert np.abs(padded[real] - io["out_logits"][real]).max() < TOL, name
    assert np.abs(plain - io["out_logits_unpadded"]).max() < TOL, name


def test_rope_scaling_reaches_the_model():
    linear, _, _, _ = _logits("rope_linear")
    assert dict(linear.cfg.rope_scaling) == {"rope_type": "linear", "factor": 2.0}
    dynamic, _, _, _ = _logits("rope_dynamic")
    assert dict(dynamic.cfg.rope_scaling) == {"rope_type": "dynamic", "factor": 2.0}
    assert dynamic.cfg.max_position_embeddings == 8


@pytest.mark.parametrize("name", ["rope_linear", "rope_dynamic"])
def test_the_scaling_matters_at_these_lengths(name):
    """transformers' logits of the same weights without the scaling are far from the
    scaled ones: the fixtures test the scaled frequencies, not plain rope."""
    io = _io(name)
    real = io["in_attention_mask"].astype(bool)
    assert np.abs(io["out_logits_unscaled"][real] - io["out_logits"][real]).max() > 0.05


def test_truncated_safetensors_is_named(tmp_path):
    bad = tmp_path / "model.safetensors"
    bad.write_bytes(struct.pack("<Q", 1000) + b"{}")
    with pytest.raises(CheckpointError, match="truncated header"):
        read_safetensors(bad)
