"""Parity with Hugging Face ``transformers``: reference checkpoints and outputs are
committed fixtures (tests/fixtures/make_fixtures.py regenerates them with torch); here
they are loaded with libai's loaders and the OneFlow outputs must agree to 1e-4."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from libai.models import (
    BertForPreTraining,
    BertModel,
    GPTForPreTraining,
    GPTModel,
    RobertaForPreTraining,
    RobertaModel,
    T5ForPreTraining,
    T5Model,
)
from libai.models.utils import load_hf_checkpoint
from libai.models.utils.model_loader import (
    CheckpointError,
    WeightLoadError,
    interleave_heads,
)
from libai.models.utils.model_loader.checkpoint_files import read_torch_zip
from libai.utils.oneflow_env import flow

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "hf"
TOL = 1e-4


def _io(name: str) -> dict:
    return dict(np.load(FIXTURES / name / "io.npz"))


def _np(tensor) -> np.ndarray:
    return tensor.to_local().numpy()


def _max_diff(a, b) -> float:
    assert a.shape == b.shape
    return float(np.abs(a - b).max())


def test_gpt2_logits_match_transformers():
    io = _io("gpt2")
    model = load_hf_checkpoint(GPTForPreTraining, FIXTURES / "gpt2").eval()
    with flow.no_grad():
        logits = _np(model(flow.tensor(io["in_input_ids"]))["prediction_scores"])
    assert _max_diff(logits, io["out_logits"]) < TOL


def test_gpt2_bare_model_loads_from_the_same_checkpoint():
    io = _io("gpt2")
    model = load_hf_checkpoint(GPTModel, FIXTURES / "gpt2").eval()
    with flow.no_grad():
        logits = _np(model(flow.tensor(io["in_input_ids"])))
    assert _max_diff(logits, io["out_logits"]) < TOL


def test_bert_pretraining_outputs_match_transformers():
    io = _io("bert")
    model = load_hf_checkpoint(BertForPreTraining, FIXTURES / "bert").eval()
    args = [flow.tensor(io[k]) for k in ("in_input_ids", "in_attention_mask", "in_token_type_ids")]
    with flow.no_grad():
        out = model(*args)
        sequence_output, _ = model.bert(*args)
    assert _max_diff(_np(out["prediction_scores"]), io["out_prediction_logits"]) < TOL
    assert _max_diff(_np(out["seq_relationship_score"]), io["out_seq_relationship_logits"]) < TOL
    # Including the padded positions: only keys are masked, as in transformers.
    assert _max_diff(_np(sequence_output), io["out_last_hidden_state"]) < TOL


def test_bert_model_loads_without_heads():
    io = _io("bert")
    model = load_hf_checkpoint(BertModel, FIXTURES / "bert").eval()
    with flow.no_grad():
        sequence_output, pooled = model(
            *[
                flow.tensor(io[k])
                for k in ("in_input_ids", "in_attention_mask", "in_token_type_ids")
            ]
        )
    assert _max_diff(_np(sequence_output), io["out_last_hidden_state"]) < TOL
    assert tuple(pooled.shape) == (2, 32)


def test_roberta_masked_lm_matches_transformers():
    io = _io("roberta")
    model = load_hf_checkpoint(RobertaForPreTraining, FIXTURES / "roberta").eval()
    ids, mask = flow.tensor(io["in_input_ids"]), flow.tensor(io["in_attention_mask"])
    with flow.no_grad():
        logits = _np(model(ids, mask)["prediction_scores"])
    assert _max_diff(logits, io["out_logits"]) < TOL
    base = load_hf_checkpoint(RobertaModel, FIXTURES / "roberta").eval()
    with flow.no_grad():
        hidden, pooled = base(ids, mask)
    assert pooled is None  # the MLM checkpoint has no pooler
    assert _max_diff(_np(hidden), io["out_last_hidden_state"]) < TOL


def test_t5_logits_match_transformers():
    io = _io("t5")
    model = load_hf_checkpoint(T5ForPreTraining, FIXTURES / "t5").eval()
    with flow.no_grad():
        out = model(
            flow.tensor(io["in_input_ids"]),
            flow.tensor(io["in_decoder_input_ids"]),
            flow.tensor(io["in_attention_mask"]),
        )
    assert _max_diff(_np(out["prediction_scores"]), io["out_logits"]) < TOL
    bare = load_hf_checkpoint(T5Model, FIXTURES / "t5").eval()
    with flow.no_grad():
        encoded = bare.encode(flow.tensor(io["in_input_ids"]), flow.tensor(io["in_attention_mask"]))
    assert _max_diff(_np(encoded), io["out_encoder_last_hidden_state"]) < TOL


def test_pytorch_bin_is_read_without_torch():
    state = read_torch_zip(FIXTURES / "gpt2" / "pytorch_model.bin")
    assert state["transformer.wte.weight"].shape == (99, 32)
    assert state["transformer.wte.weight"].dtype == np.float32


def test_interleave_heads_puts_each_heads_qkv_together():
    q, k, v = (np.full((4, 1), x) for x in (1.0, 2.0, 3.0))
    fused = interleave_heads([q, k, v], num_heads=2)  # head_size 2
    assert fused[:, 0].tolist() == [1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3]


def test_missing_and_unexpected_keys_are_listed(tmp_path):
    ckpt = tmp_path / "gpt2"
    shutil.copytree(FIXTURES / "gpt2", ckpt)
    # config.json claims more layers than the weights hold.
    config = json.loads((ckpt / "config.json").read_text())
    config["n_layer"] = 3
    (ckpt / "config.json").write_text(json.dumps(config))
    with pytest.raises(
        WeightLoadError, match="the checkpoint has no weight 'h.2.attn.c_attn.weight'"
    ):
        load_hf_checkpoint(GPTModel, ckpt)

    config["n_layer"] = 1
    (ckpt / "config.json").write_text(json.dumps(config))
    with pytest.raises(WeightLoadError) as info:
        load_hf_checkpoint(GPTModel, ckpt, vocab_size=100)
    message = str(info.value)
    assert "shape mismatches" in message
    assert "embeddings.token_embeddings.weight: checkpoint (99, 32) vs model (100, 32)" in message


def test_unexpected_weights_are_named(tmp_path):
    from libai.models.utils.model_loader import load_converted

    model = GPTModel(
        hidden_layers=1,
        vocab_size=8,
        hidden_size=8,
        ffn_hidden_size=16,
        num_attention_heads=2,
        max_seq_length=4,
    )
    state = {k: v.to_local().numpy() for k, v in model.state_dict().items()}
    state["transformer.layers.1.mlp.dense_h_to_4h.weight"] = np.zeros((16, 8), np.float32)
    del state["transformer.layernorm_f.bias"]
    with pytest.raises(WeightLoadError) as info:
        load_converted(model, state, "")
    message = str(info.value)
    assert "missing in the checkpoint (1):\n    transformer.layernorm_f.bias" in message
    assert (
        "unexpected in the checkpoint (1): transformer.layers.1.mlp.dense_h_to_4h.weight" in message
    )


def test_checkpoint_without_weights_is_a_clear_error(tmp_path):
    (tmp_path / "config.json").write_text((FIXTURES / "gpt2" / "config.json").read_text())
    with pytest.raises(CheckpointError, match="none of model.safetensors, pytorch_model.bin"):
        load_hf_checkpoint(GPTModel, tmp_path)
