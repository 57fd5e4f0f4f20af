"""BlendableDataset: samples come from each dataset in the requested proportions."""

from __future__ import annotations

import numpy as np
import pytest
from libai.data.data_utils import BlendableDataset
from libai.data.data_utils.helpers import build_blending_indices


class Tagged:
    def __init__(self, tag, n):
        self.tag, self.n = tag, n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return (self.tag, i)


def test_proportions_are_exact():
    blend = BlendableDataset(
        [Tagged("a", 50), Tagged("b", 500), Tagged("c", 80)], weights=[0.5, 0.3, 0.2], size=1000
    )
    tags = [blend[i][0] for i in range(len(blend))]
    assert (tags.count("a"), tags.count("b"), tags.count("c")) == (500, 300, 200)
    # evenly spread: every window of 100 samples holds 50/30/20 give or take one
    for start in range(0, 1000, 100):
        window = tags[start : start + 100]
        assert abs(window.count("a") - 50) <= 1 and abs(window.count("b") - 30) <= 1
    # a dataset smaller than its share wraps around
    a_indices = [blend[i][1] for i in range(1000) if blend[i][0] == "a"]
    assert a_indices[:3] == [0, 1, 2] and a_indices[50] == 0 and max(a_indices) == 49


def test_unnormalised_weights_and_default_size():
    blend = BlendableDataset([Tagged("a", 30), Tagged("b", 70)], weights=[1, 3])
    assert len(blend) == 100
    tags = [blend[i][0] for i in range(100)]
    assert tags.count("a") == 25 and tags.count("b") == 75


def test_rounding_adds_up():
    index, sample = build_blending_indices(np.array([1.0, 1.0, 1.0]), 10)
    assert np.bincount(index).tolist() == [4, 3, 3] and len(sample) == 10


@pytest.mark.parametrize(
    ("weights", "match"),
    [([1.0], "2 datasets but 1 weights"), ([0, 0], "positive sum"), ([-1, 2], ">= 0")],
)
def test_bad_weights(weights, match):
    with pytest.raises(ValueError, match=match):
        BlendableDataset([Tagged("a", 3), Tagged("b", 3)], weights=weights)
