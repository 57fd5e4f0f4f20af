"""libai.inference.generation: processors, settings and the search loops (no models package).

Values are checked by hand here; token-for-token parity with ``transformers`` on real
GPT-2 and T5 weights is in libai-models' tests/test_generation_parity.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from libai.inference.generation import GenerationMixin, resolve_generation_config
from libai.inference.generation import logits_process as lp
from libai.inference.generation.beam_search import BeamSearch
from libai.utils.oneflow_env import flow

F = np.float32


def test_repetition_penalty_divides_positive_and_multiplies_negative() -> None:
    scores = np.array([[2.0, -1.0, 0.5, 3.0]], dtype=F)
    out = lp.repetition_penalty(np.array([[0, 1, 1]]), scores, 2.0)
    np.testing.assert_allclose(out, [[1.0, -2.0, 0.5, 3.0]])


def test_no_repeat_ngram_bans_the_completing_token() -> None:
    ids = np.array([[5, 6, 7, 5, 6], [1, 2, 3, 4, 5]])
    out = lp.no_repeat_ngram(ids, np.zeros((2, 10), dtype=F), 3)
    assert np.isneginf(out[0, 7]) and np.isfinite(out[0]).sum() == 9  # "5 6 7" seen
    assert np.isfinite(out[1]).all()


def test_top_k_and_top_p_as_transformers() -> None:
    scores = np.log(np.array([[0.5, 0.3, 0.15, 0.05]], dtype=F))
    assert np.isfinite(lp.top_k(scores, 2)).tolist() == [[True, True, False, False]]
    # ascending cumulative mass 0.05, 0.20, 0.50, 1.0: with p=0.7 drop mass <= 0.3
    assert np.isfinite(lp.top_p(scores, 0.7)).tolist() == [[True, True, False, False]]
    assert np.isfinite(lp.top_p(scores, 0.96)).tolist() == [[True, True, True, True]]


def test_min_new_tokens_forbids_every_eos() -> None:
    scores = np.zeros((1, 5), dtype=F)
    kw = dict(eos_token_ids=[1, 3], min_new_tokens=2)
    out = lp.process(np.zeros((1, 4), np.int64), scores, new_tokens=1, **kw)
    assert np.isneginf(out[0, [1, 3]]).all() and np.isfinite(out[0, [0, 2, 4]]).all()
    assert np.isfinite(lp.process(np.zeros((1, 4), np.int64), scores, new_tokens=2, **kw)).all()


def test_settings_precedence_and_errors() -> None:
    class Model:
        cfg = {"eos_token_id": 7, "num_beams": 3, "hidden_size": 8}

    config = resolve_generation_config(Model(), {"num_beams": 2, "top_k": None})
    assert (config.eos_token_ids, config.num_beams, config.top_k) == ([7], 2, 50)
    with pytest.raises(TypeError, match="max_new_token.*did you mean 'max_new_tokens'"):
        resolve_generation_config(Model(), {"max_new_token": 3})
    with pytest.raises(ValueError, match="num_return_sequences"):
        resolve_generation_config(Model(), {"num_beams": 1, "num_return_sequences": 2})


def test_beam_search_keeps_the_best_finished_hypothesis() -> None:
    # vocab: 0 = eos, 1, 2. Step 1: beam takes 1 (p .6) or 2 (p .4); then eos.
    search = BeamSearch(np.array([[5], [5]]), 2, 10, 1.0, False, [0], 0)
    logp = np.log(np.array([[1e-6, 0.6, 0.4]] * 2, dtype=F))
    parents = search.step(logp)
    assert sorted(search.running_ids()[:, -1].tolist()) == [1, 2] and parents.tolist() == [0, 0]
    search.step(np.log(np.array([[0.9, 0.05, 0.05], [0.9, 0.05, 0.05]], dtype=F)))
    out = search.finalize(2)
    assert out.tolist() == [[5, 1, 0], [5, 2, 0]]
    assert search.done


class Bigram(GenerationMixin):
    """A fixed bigram table as a model: the next token depends on the last one only."""

    def __init__(self, table: np.ndarray) -> None:
        self.table = table.astype(F)
        self.calls: list[tuple] = []

    def generation_forward(
        self, input_ids, *, attention_mask, position_ids, past_key_values, use_cache, **_
    ):
        ids = input_ids.to_local().numpy()
        self.calls.append((ids.shape, position_ids.to_local().numpy().tolist()))
        logits = flow.tensor(self.table[ids])
        from libai.utils import distributed as dist

        placement = dist.get_layer_placement(0)
        logits = logits.to_global(placement=placement, sbp=flow.sbp.broadcast)
        past = None
        if use_cache:
            past = (
                (
                    flow.zeros(ids.shape[0], 1).to_global(
                        placement=placement, sbp=flow.sbp.broadcast
                    ),
                ),
            )
        return logits, past


def _table() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.normal(size=(6, 6)) * 3


def test_greedy_follows_the_table_and_cache_feeds_one_token() -> None:
    table = _table()
    model = Bigram(table)
    out = model.generate(np.array([[2, 4]]), max_new_tokens=5).numpy()
    expected = [2, 4]
    for _ in range(5):
        expected.append(int(table[expected[-1]].argmax()))
    assert out.tolist() == [expected]
    assert [shape for shape, _ in model.calls] == [(1, 2)] + [(1, 1)] * 4
    no_cache = Bigram(table)
    assert no_cache.generate(
        np.array([[2, 4]]), max_new_tokens=5, use_cache=False
    ).numpy().tolist() == [expected]
    assert [shape for shape, _ in no_cache.calls] == [(1, n) for n in range(2, 7)]


def test_left_padding_positions_and_eos_padding() -> None:
    table = _table()
    eos = int(table[3].argmax())
    model = Bigram(table)
    out = model.generate(
        np.array([[0, 0, 3], [1, 2, 3]]),
        attention_mask=np.array([[0, 0, 1], [1, 1, 1]]),
        max_new_tokens=4,
        eos_token_id=eos,
        pad_token_id=5,
    ).numpy()
    assert out[:, 3].tolist() == [eos, eos]
    assert out.shape == (2, 4)  # both rows ended at the first step
    assert model.calls[0][1] == [[0, 0, 0], [0, 1, 2]]


def test_sampling_is_reproducible_per_seed() -> None:
    model = Bigram(_table() / 3)
    a = model.generate(np.array([[1]] * 4), do_sample=True, max_new_tokens=12, seed=7).numpy()
    b = model.generate(np.array([[1]] * 4), do_sample=True, max_new_tokens=12, seed=7).numpy()
    c = model.generate(np.array([[1]] * 4), do_sample=True, max_new_tokens=12, seed=8).numpy()
    assert a.tolist() == b.tolist() and a.tolist() != c.tolist()
    greedy = model.generate(np.array([[1]]), do_sample=True, top_k=1, max_new_tokens=12, seed=1)
    assert (
        greedy.numpy().tolist()
        == model.generate(np.array([[1]]), max_new_tokens=12).numpy().tolist()
    )
