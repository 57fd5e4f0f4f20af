"""config.json mapping and rotary frequencies: both transformers layouts, the refusals,
and the scalings checked against their formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
from libai_llama.hf_config import HFConfigError, cfg_from_hf_config, rope_settings
from libai_llama.rotary import inv_frequencies

LLAMA = dict(
    model_type="llama",
    vocab_size=128,
    hidden_size=64,
    intermediate_size=96,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=256,
    rms_norm_eps=1e-5,
)
LLAMA3_SCALING = dict(
    factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0, original_max_position_embeddings=64
)


def test_transformers4_and_transformers5_layouts_agree():
    v4 = dict(LLAMA, rope_theta=500000.0, rope_scaling=dict(rope_type="llama3", **LLAMA3_SCALING))
    v5 = dict(
        LLAMA, rope_parameters=dict(rope_type="llama3", rope_theta=500000.0, **LLAMA3_SCALING)
    )
    assert cfg_from_hf_config(v4) == cfg_from_hf_config(v5)
    cfg = cfg_from_hf_config(v5)
    assert cfg["rope_theta"] == 500000.0
    assert cfg["rope_scaling"] == dict(rope_type="llama3", **LLAMA3_SCALING)
    assert (cfg["num_key_value_heads"], cfg["hidden_layers"]) == (2, 2)


def test_old_type_key_and_default_rope_read_as_no_scaling():
    assert rope_settings(dict(rope_scaling={"type": "linear", "factor": 2.0})) == (
        10000.0,
        {"rope_type": "linear", "factor": 2.0},
    )
    assert rope_settings(dict(rope_parameters={"rope_type": "default", "rope_theta": 5.0})) == (
        5.0,
        None,
    )


def test_qwen2_has_qkv_biases_and_llama_follows_attention_bias():
    qwen = cfg_from_hf_config(dict(LLAMA, model_type="qwen2", tie_word_embeddings=True))
    assert (qwen["attention_bias"], qwen["attention_output_bias"], qwen["tie_word_embeddings"]) == (
        True,
        False,
        True,
    )
    llama = cfg_from_hf_config(dict(LLAMA, attention_bias=True))
    assert (llama["attention_bias"], llama["attention_output_bias"]) == (True, True)


@pytest.mark.parametrize(
    "hf, expected",
    [
        (dict(LLAMA, model_type="mistral", sliding_window=128), "sliding_window=128"),
        (
            dict(LLAMA, model_type="qwen2", use_sliding_window=True, sliding_window=64),
            "sliding_window=64",
        ),
        (dict(LLAMA, model_type="gemma"), "model_type 'gemma' is not supported"),
        (dict(LLAMA, rope_scaling={"rope_type": "yarn", "factor": 4.0}), "'yarn' is not supported"),
        (
            dict(LLAMA, rope_scaling={"rope_type": "llama3", "factor": 4.0}),
            "llama3 rope scaling lacks",
        ),
        (dict(LLAMA, hidden_act="gelu"), "hidden_act='gelu'"),
    ],
)
def test_configs_that_cannot_be_reproduced_are_refused(hf, expected):
    with pytest.raises(HFConfigError, match=expected.replace("(", r"\(")) as info:
        cfg_from_hf_config(hf, "ckpt/config.json")
    assert str(info.value).startswith("ckpt/config.json: ")


def test_inactive_sliding_windows_are_accepted():
    assert cfg_from_hf_config(dict(LLAMA, model_type="mistral", sliding_window=None))
    assert cfg_from_hf_config(dict(LLAMA, model_type="mistral", sliding_window=4096))
    assert cfg_from_hf_config(dict(LLAMA, model_type="qwen2", sliding_window=64))


def test_rotary_frequencies_follow_their_formulas():
    dim, theta = 16, 10000.0
    default = inv_frequencies(dim, theta)
    np.testing.assert_allclose(
        default, [theta ** (-2 * i / dim) for i in range(dim // 2)], rtol=1e-6
    )
    linear = inv_frequencies(dim, theta, {"rope_type": "linear", "factor": 4.0})
    np.testing.assert_allclose(linear, default / 4.0, rtol=1e-6)

    dynamic = {"rope_type": "dynamic", "factor": 2.0}
    np.testing.assert_array_equal(inv_frequencies(dim, theta, dynamic, 64, seq_len=64), default)
    base = theta * (2.0 * 128 / 64 - 1.0) ** (dim / (dim - 2))
    np.testing.assert_allclose(
        inv_frequencies(dim, theta, dynamic, 64, seq_len=128),
        [base ** (-2 * i / dim) for i in range(dim // 2)],
        rtol=1e-5,
    )

    llama3 = inv_frequencies(dim, theta, dict(rope_type="llama3", **LLAMA3_SCALING))
    wavelen = 2 * math.pi / default
    long = wavelen > 64 / 1.0  # longer than the low-frequency wavelength: divided by factor
    short = wavelen < 64 / 4.0  # shorter than the high-frequency one: kept
    assert long.any() and short.any()
    np.testing.assert_allclose(llama3[long], default[long] / 8.0, rtol=1e-6)
    np.testing.assert_allclose(llama3[short], default[short], rtol=1e-6)
    medium = ~long & ~short
    smooth = (64 / wavelen[medium] - 1.0) / 3.0
    np.testing.assert_allclose(
        llama3[medium], (1 - smooth) * default[medium] / 8.0 + smooth * default[medium], rtol=1e-5
    )
