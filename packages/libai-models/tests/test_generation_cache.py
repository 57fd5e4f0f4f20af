"""GPT and T5 generate through libai.layers' KV cache: the cache changes no token.

Random weights with a large init (peaked, distinct logits) so that every comparison is
about the code path, not float noise. Parity with transformers on trained weights is in
test_generation_parity.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from libai.models import GPTForPreTraining, GPTModel, T5ForPreTraining
from libai.utils import distributed as dist
from libai.utils.oneflow_env import flow

NO_FUSION = dict(
    bias_gelu_fusion=False,
    bias_dropout_fusion=False,
    scale_mask_softmax_fusion=False,
    apply_query_key_layer_scaling=False,
)
GPT_CFG = dict(
    hidden_layers=2,
    vocab_size=64,
    hidden_size=32,
    ffn_hidden_size=64,
    num_attention_heads=4,
    max_seq_length=40,
    initializer_range=0.3,
    **NO_FUSION,
)
T5_HF = dict(
    position_embedding_type="relative",
    norm_type="rmsnorm",
    mlp_activation="relu",
    use_bias=False,
    attention_scale=1.0,
    scale_decoder_output=True,
)


def _t5_cfg(variant: str) -> dict:
    cfg = dict(
        vocab_size=64,
        hidden_size=32,
        hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        embedding_dropout_prob=0.0,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        max_position_embeddings=40,
        initializer_range=0.3,
        decoder_start_token_id=0,
        eos_token_id=1,
        **NO_FUSION,
    )
    if variant == "huggingface":
        cfg.update(T5_HF)
    return cfg


@pytest.fixture(scope="module")
def gpt():
    flow.manual_seed(0)
    return GPTForPreTraining(GPT_CFG)


def _greedy_by_hand(model, ids: np.ndarray, steps: int) -> np.ndarray:
    """The whole sequence through ``forward`` at every step, argmax of the last logits."""
    seq = ids.copy()
    model.eval()
    with flow.no_grad():
        for _ in range(steps):
            logits = dist.to_whole_local(model(flow.tensor(seq))["prediction_scores"]).numpy()
            seq = np.concatenate([seq, logits[:, -1].argmax(-1)[:, None]], axis=1)
    return seq


def test_gpt_greedy_with_cache_equals_forward_by_hand(gpt) -> None:
    ids = np.array([[5, 9, 11, 3]])
    expected = _greedy_by_hand(gpt, ids, 10)
    assert gpt.generate(ids, max_new_tokens=10).numpy().tolist() == expected.tolist()
    assert (
        gpt.generate(ids, max_new_tokens=10, use_cache=False).numpy().tolist() == expected.tolist()
    )


def test_gpt_left_padded_batch_equals_each_prompt_alone(gpt) -> None:
    prompts = [[5, 9, 11, 3], [7, 2, 30, 31, 32, 8]]
    batch = np.array([[0, 0] + prompts[0], prompts[1]])
    mask = np.array([[0, 0, 1, 1, 1, 1], [1] * 6])
    out = gpt.generate(batch, attention_mask=mask, max_new_tokens=8).numpy()
    for row, prompt in enumerate(prompts):
        alone = gpt.generate(np.array([prompt]), max_new_tokens=8).numpy()[0]
        assert out[row, 6 - len(prompt) :].tolist() == alone.tolist()


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(num_beams=3, num_return_sequences=3, length_penalty=0.5),
        dict(repetition_penalty=1.5, no_repeat_ngram_size=2),
        dict(do_sample=True, top_k=10, top_p=0.9, temperature=0.7, seed=3),
    ],
    ids=["beam", "penalties", "sampling"],
)
def test_gpt_cache_changes_no_token(gpt, kwargs) -> None:
    batch = np.array([[0, 0, 5, 9, 11, 3], [7, 2, 30, 31, 32, 8]])
    mask = np.array([[0, 0, 1, 1, 1, 1], [1] * 6])
    a = gpt.generate(batch, mask, max_new_tokens=9, **kwargs).numpy()
    b = gpt.generate(batch, mask, max_new_tokens=9, use_cache=False, **kwargs).numpy()
    assert a.shape[0] == 2 * kwargs.get("num_return_sequences", 1)
    assert a.tolist() == b.tolist()


def test_gpt_model_generates_and_stops_at_its_positions() -> None:
    flow.manual_seed(1)
    model = GPTModel(cfg=GPT_CFG)
    out = model.generate(np.array([[1, 2, 3]]), max_new_tokens=100).numpy()
    assert out.shape == (1, GPT_CFG["max_seq_length"])  # clipped to max_seq_length
    with pytest.raises(ValueError, match="at most 40 positions"):
        model.generate(np.arange(40)[None] % 64, max_new_tokens=1)


def test_gpt_generate_reads_defaults_from_cfg() -> None:
    flow.manual_seed(0)
    probe = GPTForPreTraining(GPT_CFG)
    first = int(probe.generate(np.array([[5, 9]]), max_new_tokens=1).numpy()[0, -1])
    flow.manual_seed(0)
    model = GPTForPreTraining(dict(GPT_CFG, eos_token_id=first, max_length=12))
    out = model.generate(np.array([[5, 9]])).numpy()
    assert out.tolist() == [[5, 9, first]]  # stopped at the cfg's eos
    longer = model.generate(np.array([[5, 9]]), eos_token_id=63).numpy()
    assert longer.shape == (1, 12)  # cfg.max_length


@pytest.mark.parametrize("variant", ["huggingface", "libai"])
@pytest.mark.parametrize(
    "kwargs", [{}, dict(num_beams=3, num_return_sequences=2)], ids=["greedy", "beam"]
)
def test_t5_cross_attention_cache_changes_no_token(variant, kwargs) -> None:
    flow.manual_seed(0)
    model = T5ForPreTraining(_t5_cfg(variant))
    enc = np.array([[5, 9, 11, 3, 7], [4, 8, 2, 0, 0]])
    mask = (enc != 0).astype(np.int64)
    a = model.generate(enc, mask, max_new_tokens=8, **kwargs).numpy()
    b = model.generate(enc, mask, max_new_tokens=8, use_cache=False, **kwargs).numpy()
    assert a.tolist() == b.tolist()
    assert (a[:, 0] == 0).all()  # decoder_start_token_id from cfg
    # by hand: the whole decoder input through forward at every step
    dec = np.zeros((2, 1), dtype=np.int64)
    if not kwargs:
        with flow.no_grad():
            for _ in range(a.shape[1] - 1):
                logits = model(flow.tensor(enc), flow.tensor(dec), flow.tensor(mask))
                logits = dist.to_whole_local(logits["prediction_scores"]).numpy()
                dec = np.concatenate([dec, logits[:, -1].argmax(-1)[:, None]], axis=1)
        finished = np.cumsum(dec == 1, axis=1) - (dec == 1) > 0  # after an eos: padding
        assert np.where(finished, a, dec).tolist() == a.tolist()
        assert a[~finished].tolist() == dec[~finished].tolist()
