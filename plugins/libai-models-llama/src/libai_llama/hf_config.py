"""Hugging Face ``config.json`` (model_type llama, mistral, qwen2) -> LiBai's Llama ``cfg`` keys.

Both layouts of rotary settings are read: transformers 4 writes ``rope_theta`` and
``rope_scaling`` at the top level, transformers 5 writes one ``rope_parameters`` dict
(``{"rope_type": ..., "rope_theta": ..., <scaling keys>}``). Configs this model cannot
reproduce exactly (an active sliding window, a rope type other than default, linear,
dynamic and llama3, an activation other than SiLU) are refused with the reason.

No OneFlow here: the mapping is plain data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

SUPPORTED_MODEL_TYPES = ("llama", "mistral", "qwen2")
ROPE_TYPES = ("default", "linear", "dynamic", "llama3")


class HFConfigError(ValueError):
    """A ``config.json`` describes a model this plugin cannot reproduce exactly."""


def rope_settings(hf: dict, source: str = "config.json") -> tuple[float, Optional[dict]]:
    """Return ``(rope_theta, rope_scaling)`` from either config layout.

    ``rope_scaling`` is ``None`` for plain rotary embeddings, else a dict with
    ``rope_type`` and that type's keys (``factor``, ``low_freq_factor``, ...).
    Raises :class:`HFConfigError` for a rope type not in :data:`ROPE_TYPES`.
    """
    params = hf.get("rope_parameters")
    if isinstance(params, dict) and params:
        # transformers 5; a per-layer-type dict ({"full_attention": {...}}) is not Llama's.
        if "rope_type" not in params and "rope_theta" not in params:
            raise HFConfigError(
                f"{source}: rope_parameters per layer type ({sorted(params)}) are not supported; "
                "expected one dict with rope_type and rope_theta"
            )
        theta = float(params.get("rope_theta", hf.get("rope_theta", 10000.0)))
        scaling = {k: v for k, v in params.items() if k != "rope_theta"}
    else:
        theta = float(hf.get("rope_theta", 10000.0))
        scaling = dict(hf.get("rope_scaling") or {})
    return theta, normalize_rope_scaling(scaling, source)


def normalize_rope_scaling(scaling: Optional[dict], source: str = "cfg") -> Optional[dict]:
    """``None`` for default rotary embeddings, else ``scaling`` with a checked ``rope_type``.

    transformers 4.x wrote the type as ``"type"``; it is renamed ``rope_type`` here.
    """
    if not scaling:
        return None
    scaling = dict(scaling)
    rope_type = scaling.pop("rope_type", None) or scaling.pop("type", None) or "default"
    scaling.pop("type", None)
    if rope_type not in ROPE_TYPES:
        raise HFConfigError(
            f"{source}: rope type {rope_type!r} is not supported; supported: {list(ROPE_TYPES)}"
        )
    if rope_type == "default":
        return None
    if "factor" not in scaling:
        raise HFConfigError(f"{source}: rope scaling {rope_type!r} needs a 'factor'")
    if rope_type == "llama3":
        missing = [
            k
            for k in ("low_freq_factor", "high_freq_factor", "original_max_position_embeddings")
            if k not in scaling
        ]
        if missing:
            raise HFConfigError(f"{source}: llama3 rope scaling lacks {missing}")
    return {"rope_type": rope_type, **scaling}


def _check_sliding_window(hf: dict, source: str) -> None:
    model_type = hf.get("model_type")
    window = hf.get("sliding_window")
    max_positions = hf.get("max_position_embeddings", 0)
    if model_type == "qwen2":
        active = bool(hf.get("use_sliding_window")) and window is not None
    else:
        active = window is not None and window < max_positions
    if active:
        raise HFConfigError(
            f"{source}: sliding-window attention (sliding_window={window}, "
            f"max_position_embeddings={max_positions}) is not supported; this model attends to "
            "every earlier position. Use a checkpoint without a sliding window (e.g. "
            "Mistral-7B v0.2 or later, whose config has sliding_window: null)"
        )


def cfg_from_hf_config(hf: dict, source: str = "config.json") -> dict:
    """Map a Hugging Face config dict onto LiBai's Llama ``cfg`` keys.

    Raises :class:`HFConfigError` naming the unsupported setting.
    """
    model_type = hf.get("model_type")
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise HFConfigError(
            f"{source}: model_type {model_type!r} is not supported; supported: "
            f"{list(SUPPORTED_MODEL_TYPES)}"
        )
    act = hf.get("hidden_act", "silu")
    if act not in ("silu", "swish"):
        raise HFConfigError(f"{source}: hidden_act={act!r}; the Llama family uses 'silu'")
    _check_sliding_window(hf, source)
    theta, scaling = rope_settings(hf, source)
    heads = hf["num_attention_heads"]
    if model_type == "qwen2":
        qkv_bias, out_bias, mlp_bias = True, False, False
    else:
        qkv_bias = out_bias = bool(hf.get("attention_bias", False))
        mlp_bias = bool(hf.get("mlp_bias", False))
    cfg: dict[str, Any] = dict(
        hidden_layers=hf["num_hidden_layers"],
        vocab_size=hf["vocab_size"],
        hidden_size=hf["hidden_size"],
        intermediate_size=hf["intermediate_size"],
        num_attention_heads=heads,
        num_key_value_heads=hf.get("num_key_value_heads") or heads,
        head_dim=hf.get("head_dim"),
        max_position_embeddings=hf.get("max_position_embeddings", 2048),
        rms_norm_eps=hf.get("rms_norm_eps", 1e-6),
        initializer_range=hf.get("initializer_range", 0.02),
        rope_theta=theta,
        rope_scaling=scaling,
        tie_word_embeddings=bool(hf.get("tie_word_embeddings", False)),
        attention_bias=qkv_bias,
        attention_output_bias=out_bias,
        mlp_bias=mlp_bias,
        attention_dropout_prob=float(hf.get("attention_dropout", 0.0)),
    )
    for key in ("bos_token_id", "eos_token_id", "pad_token_id"):
        if hf.get(key) is not None:
            cfg[key] = hf[key]
    return cfg


def read_hf_config(path: Path) -> dict:
    """The LiBai ``cfg`` keys of the checkpoint directory ``path`` (its ``config.json``)."""
    from libai.models.utils.model_loader.checkpoint_files import read_config

    return cfg_from_hf_config(read_config(Path(path)), str(Path(path) / "config.json"))
