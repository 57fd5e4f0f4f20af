"""SampleTextHook: its settings map onto ``generate`` keywords; bad settings are refused."""

from __future__ import annotations

import pytest
from libai.engine.hooks import SampleTextHook


def test_temperature_zero_is_greedy() -> None:
    hook = SampleTextHook(prompt="x", max_new_tokens=5)
    assert hook.generate_kwargs() == {"max_new_tokens": 5, "do_sample": False}


def test_sampling_keywords() -> None:
    hook = SampleTextHook(prompt="x", max_new_tokens=7, temperature=0.8, top_k=20, seed=3)
    assert hook.generate_kwargs() == {
        "max_new_tokens": 7,
        "do_sample": True,
        "temperature": 0.8,
        "top_k": 20,
        "seed": 3,
    }
    # top_k=None means every token (0 switches transformers' top-k filter off)
    assert SampleTextHook(prompt="x", temperature=1.0).generate_kwargs()["top_k"] == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"temperature": -1.0}, "temperature"),
        ({"top_k": 0}, "top_k"),
        ({"max_new_tokens": 0}, "max_new"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SampleTextHook(prompt="x", **kwargs)
