"""The shared part of the Hugging Face loaders: read, convert, check, copy.

A loader turns a local Hugging Face checkpoint into a libai model::

    loader = BertLoaderHuggerFace(BertForPreTraining, cfg, "path/to/checkpoint")
    model = loader.load()

``cfg`` (a LiBai model ``cfg`` dict, may be ``None``) is updated with the sizes read
from ``config.json``; keyword arguments override both. The converted weights must
cover every parameter of the model and match its shapes: otherwise
:class:`WeightLoadError` lists the missing and unexpected names.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import numpy as np
from libai.models.utils.config_utils import as_dictconfig
from libai.models.utils.model_loader.checkpoint_files import read_config, read_state_dict
from libai.utils.oneflow_env import flow
from omegaconf import DictConfig


class WeightLoadError(ValueError):
    """Converted weights do not fit the model: the message lists every mismatch."""


def interleave_heads(parts: list, num_heads: int) -> np.ndarray:
    """Stack q/k/v (or k/v) projections per head, LiBai's fused-projection layout.

    Each part is ``(heads * head_size, ...)``; the result is
    ``(heads * len(parts) * head_size, ...)`` with head ``h``'s rows ``[q_h, k_h, v_h]``
    adjacent, so a column-parallel split keeps whole heads on each rank.
    """
    head_size = parts[0].shape[0] // num_heads
    tail = parts[0].shape[1:]
    stacked = np.stack([p.reshape((num_heads, head_size) + tail) for p in parts], axis=1)
    return stacked.reshape((num_heads * len(parts) * head_size,) + tail)


class ModelLoaderHuggerFace:
    """Base class; subclasses define the config mapping and the key conversion.

    Attributes for subclasses:
        base_prefix: where the base model sits in the pre-training wrapper
            (``"bert."``); weights outside it belong to heads.
        hf_prefix: the prefix of the base model's keys in a full HF checkpoint.
    """

    base_prefix = ""
    hf_prefix = ""

    def __init__(
        self, model: Any, libai_cfg: Any, pretrained_model_path: str, **kwargs: Any
    ) -> None:
        self.model = model
        self.libai_cfg = libai_cfg
        self.pretrained_model_path = Path(pretrained_model_path)
        self.kwargs = kwargs

    # -- subclass API ------------------------------------------------------------
    def cfg_from_hf(self, hf_config: dict) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    def convert(self, state: dict, cfg: Any) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- shared ------------------------------------------------------------------
    def strip_hf_prefix(self, state: dict) -> dict:
        """Drop ``hf_prefix`` from the base model's keys (absent when saved from the base class)."""
        if self.hf_prefix and any(k.startswith(self.hf_prefix) for k in state):
            return {
                (k[len(self.hf_prefix) :] if k.startswith(self.hf_prefix) else k): v
                for k, v in state.items()
            }
        return state

    def build_cfg(self) -> Any:
        hf_config = read_config(self.pretrained_model_path)
        cfg = dict(as_dictconfig(self.libai_cfg or {}))
        cfg.update(self.cfg_from_hf(hf_config))
        cfg.update(self.kwargs)
        return as_dictconfig(cfg)

    def load(self) -> Any:
        """Build the model from the merged cfg and copy the converted weights in.

        Raises :class:`WeightLoadError` on missing/unexpected keys or shape mismatches,
        and ``CheckpointError`` when the directory is incomplete.
        """
        cfg = self.build_cfg()
        state = self.strip_hf_prefix(read_state_dict(self.pretrained_model_path))
        try:
            converted = self.convert(state, cfg)
        except KeyError as exc:
            name = exc.args[0]
            close = difflib.get_close_matches(str(name), list(state), n=3)
            raise WeightLoadError(
                f"cannot load {self.pretrained_model_path}: the checkpoint has no weight "
                f"{name!r}, which its config.json (and the overrides {sorted(self.kwargs)}) "
                f"imply" + (f"; closest names present: {close}" if close else "")
            ) from exc
        model = self._build(cfg)
        load_converted(model, converted, self.base_prefix, str(self.pretrained_model_path))
        return model

    def _build(self, cfg: Any) -> Any:
        """The model to fill: built from a class or a LazyCall config, or the given instance.

        LiBai's call passes the model's LazyCall (``configs/common/models/*.py``'s
        ``pretrain_model``) as the first argument; its target is built with the merged cfg.
        """
        model = self.model
        target = model.get("_target_") if isinstance(model, DictConfig) else None
        if target is not None:
            from libai.config.targets import resolve_target

            model = resolve_target(target) if isinstance(target, str) else target
        if isinstance(model, type):
            return model(cfg=cfg)
        if isinstance(self.model, DictConfig):
            raise TypeError(
                f"{type(self).__name__}: the first argument is a config without _target_; "
                "pass the model's LazyCall, its class, or a built model"
            )
        return model


def load_converted(model: Any, converted: dict, base_prefix: str, source: str = "") -> None:
    """Copy ``converted`` (names of the pre-training wrapper) into ``model``'s parameters.

    When ``model`` is the bare base model (its names lack ``base_prefix``), the prefix is
    stripped and head weights are ignored.
    """
    params = dict(model.named_parameters())
    if base_prefix and not any(name.startswith(base_prefix) for name in params):
        converted = {
            k[len(base_prefix) :]: v for k, v in converted.items() if k.startswith(base_prefix)
        }
    missing = sorted(set(params) - set(converted))
    unexpected = sorted(set(converted) - set(params))
    shape_errors = [
        f"{name}: checkpoint {tuple(converted[name].shape)} vs model {tuple(params[name].shape)}"
        for name in sorted(set(params) & set(converted))
        if tuple(converted[name].shape) != tuple(params[name].shape)
    ]
    if missing or unexpected or shape_errors:
        lines = [f"cannot load {source or 'the checkpoint'} into {type(model).__name__}:"]
        if missing:
            lines.append(f"  missing in the checkpoint ({len(missing)}):")
            for name in missing:
                close = difflib.get_close_matches(name, unexpected, n=1)
                lines.append(
                    f"    {name}" + (f"  (closest unexpected: {close[0]})" if close else "")
                )
        if unexpected:
            lines.append(
                f"  unexpected in the checkpoint ({len(unexpected)}): {', '.join(unexpected)}"
            )
        if shape_errors:
            lines.append("  shape mismatches: " + "; ".join(shape_errors))
        raise WeightLoadError("\n".join(lines))
    with flow.no_grad():
        for name, param in params.items():
            value = flow.tensor(np.ascontiguousarray(converted[name]), dtype=param.dtype)
            broadcast = [flow.sbp.broadcast] * len(param.sbp)
            value = value.to_global(placement=param.placement, sbp=broadcast)
            param.copy_(value.to_global(sbp=param.sbp))
