"""Parity with Hugging Face transformers on the committed fixtures (fixtures/make_llama_fixtures.py).

Each fixture is a tiny trained Llama-family model; it is loaded through
``cfg.pretrained_model_path`` (sizes from its config.json, weights from its safetensors):

* logits within 1e-4 of transformers, with a left-padded row (only its real positions
  are compared: transformers fills padded queries differently) and without padding;
* greedy and beam-search ids equal transformers' ``generate`` up to the first step at
  which transformers' two best scores were within 1e-3 (a near tie that float rounding
  may decide either way).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from libai.utils.oneflow_env import flow
from libai_llama.modeling import LlamaForCausalLM

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "hf"
NAMES = ("llama2", "llama3", "qwen2", "mistral")
TOL = 1e-4


def _io(name: str) -> dict:
    return dict(np.load(FIXTURES / name / "io.npz"))


def _load(name: str) -> LlamaForCausalLM:
    return LlamaForCausalLM(cfg=dict(pretrained_model_path=str(FIXTURES / name))).eval()


@pytest.fixture(scope="module", params=NAMES)
def case(request):
    return request.param, _load(request.param), _io(request.param)


def test_fixture_layouts_are_the_ones_claimed():
    assert (FIXTURES / "llama3" / "model.safetensors.index.json").is_file()
    assert not (FIXTURES / "llama3" / "model.safetensors").exists()
    assert '"rope_parameters"' in (FIXTURES / "llama3" / "config.json").read_text()
    for name in ("llama2", "qwen2", "mistral"):
        text = (FIXTURES / name / "config.json").read_text()
        assert '"rope_theta"' in text and "rope_parameters" not in text


def test_sizes_come_from_config_json(case):
    name, model, _ = case
    cfg = model.cfg
    assert (cfg.hidden_size, cfg.hidden_layers, cfg.vocab_size) == (32, 2, 96)
    expected = {"llama2": 4, "llama3": 2, "qwen2": 2, "mistral": 2}[name]
    assert cfg.num_key_value_heads == expected
    assert model.tie_word_embeddings == (name == "qwen2")
    if name == "llama3":
        assert cfg.rope_scaling["rope_type"] == "llama3" and cfg.rope_theta == 500000.0


def test_logits_match_transformers(case):
    name, model, io = case
    ids, mask = io["in_input_ids"], io["in_attention_mask"]
    with flow.no_grad():
        logits = model(flow.tensor(ids), attention_mask=flow.tensor(mask))["logits"]
        plain = model(flow.tensor(ids[:, 4:]))["logits"]
    logits = logits.to_local().numpy()
    real = mask.astype(bool)
    assert np.abs(logits[real] - io["out_logits"][real]).max() < TOL, name
    assert np.abs(plain.to_local().numpy() - io["out_logits_unpadded"]).max() < TOL, name


def _first_difference(ours: np.ndarray, theirs: np.ndarray, start: int) -> int:
    diff = np.nonzero(ours[start:] != theirs[start:])[0]
    return int(diff[0]) if diff.size else len(ours) - start


def _check_ids(ours: np.ndarray, theirs: np.ndarray, tie_steps: np.ndarray, start: int) -> None:
    assert ours.shape[0] == theirs.shape[0]
    for row, (a, b) in enumerate(zip(ours, theirs)):
        tie = int(tie_steps[row])
        agree = _first_difference(a, b[: len(a)] if len(a) <= len(b) else b, start)
        assert agree >= min(tie, len(b) - start), (row, a.tolist(), b.tolist(), tie)


def test_greedy_ids_match_transformers(case):
    name, model, io = case
    prompt, mask = io["gen_prompt_ids"], io["gen_prompt_mask"]
    out = model.generate(
        flow.tensor(prompt),
        attention_mask=flow.tensor(mask),
        max_new_tokens=io["out_greedy"].shape[1] - prompt.shape[1],
        do_sample=False,
        num_beams=1,
        eos_token_id=1,
        pad_token_id=0,
    )
    ours = (out.to_local() if out.is_global else out).numpy()
    _check_ids(ours, io["out_greedy"], io["out_greedy_tie_step"], prompt.shape[1])


def test_beam_ids_match_transformers(case):
    name, model, io = case
    prompt, mask = io["gen_prompt_ids"], io["gen_prompt_mask"]
    out = model.generate(
        flow.tensor(prompt),
        attention_mask=flow.tensor(mask),
        max_new_tokens=io["out_beam"].shape[1] - prompt.shape[1],
        do_sample=False,
        num_beams=3,
        length_penalty=1.0,
        early_stopping=False,
        eos_token_id=1,
        pad_token_id=0,
    )
    ours = (out.to_local() if out.is_global else out).numpy()
    _check_ids(ours, io["out_beam"], io["out_beam_tie_step"], prompt.shape[1])


def test_cache_gives_the_logits_of_the_whole_sequence():
    model = _load("llama3")
    io = _io("llama3")
    ids = flow.tensor(io["in_input_ids"][[0, 2]])
    with flow.no_grad():
        whole, _ = model.generation_forward(
            ids, attention_mask=None, position_ids=None, past_key_values=None, use_cache=False
        )
        first, past = model.generation_forward(
            ids[:, :9], attention_mask=None, position_ids=None, past_key_values=None, use_cache=True
        )
        assert len(past) == 2 and tuple(past[0][0].shape) == (2, 2, 9, 8)
        rest, past = model.generation_forward(
            ids[:, 9:], attention_mask=None, position_ids=None, past_key_values=past, use_cache=True
        )
    stepped = np.concatenate([first.to_local().numpy(), rest.to_local().numpy()], axis=1)
    assert tuple(past[0][0].shape) == (2, 2, 14, 8)
    assert np.abs(stepped - whole.to_local().numpy()).max() < 1e-5
