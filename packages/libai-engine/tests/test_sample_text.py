"""Token choice of SampleTextHook: greedy, top-k and temperature sampling."""

from __future__ import annotations

import numpy as np
import pytest
from libai.engine.hooks import SampleTextHook, _next_token


def test_temperature_zero_is_argmax() -> None:
    logits = np.array([0.1, 2.0, -1.0, 1.9], dtype=np.float32)
    assert _next_token(logits, 0.0, None, np.random.default_rng(0)) == 1


def test_top_k_one_is_argmax_at_any_temperature() -> None:
    logits = np.array([0.3, -2.0, 4.0, 3.9], dtype=np.float32)
    rng = np.random.default_rng(123)
    assert {_next_token(logits, 5.0, 1, rng) for _ in range(50)} == {2}


def test_top_k_never_picks_outside_the_k_likeliest() -> None:
    logits = np.array([5.0, 4.0, 3.0, 2.0, 1.0], dtype=np.float32)
    rng = np.random.default_rng(0)
    picks = {_next_token(logits, 10.0, 2, rng) for _ in range(200)}
    assert picks == {0, 1}


def test_sampling_follows_the_softmax_and_is_reproducible() -> None:
    logits = np.log(np.array([0.5, 0.3, 0.2]))
    draws = [_next_token(logits, 1.0, None, np.random.default_rng(7)) for _ in range(3)]
    assert len(set(draws)) == 1  # same seed, same token
    rng = np.random.default_rng(0)
    counts = np.bincount([_next_token(logits, 1.0, None, rng) for _ in range(4000)], minlength=3)
    np.testing.assert_allclose(counts / 4000, [0.5, 0.3, 0.2], atol=0.03)


@pytest.mark.parametrize(
    ("kwargs", "message"), [({"temperature": -1.0}, "temperature"), ({"top_k": 0}, "top_k")]
)
def test_bad_arguments_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SampleTextHook(prompt="x", **kwargs)
