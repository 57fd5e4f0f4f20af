"""Where a pipeline's weights come from: check the source, then build and load the model.

Modes (LiBai's): ``"libai"`` is a checkpoint directory written by ``libai-engine run``
(``model_final``, ``model_0000999``, or a bare ``flow.save`` directory of a state dict);
``"huggingface"`` is a Hugging Face model directory (``config.json`` plus
``model.safetensors``, a sharded ``model.safetensors.index.json`` or
``pytorch_model.bin``); ``"random"`` builds the config's model as it is.

:func:`check_model_source` looks only at the file system, so a command can refuse bad
input before it builds anything. The Hugging Face loader of a model is found through
the model class itself (its ``hf_loader`` attribute names the loader), so this module
never imports ``libai.models``.
"""

from __future__ import annotations

import difflib
import os
from typing import Any, Optional

__all__ = ["MODES", "ModelSourceError", "check_model_source", "hf_loader_for", "load_model"]

MODES = ("libai", "huggingface", "random")
HF_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")


class ModelSourceError(ValueError):
    """The mode or model directory cannot work; the message says what is missing."""


def check_model_source(mode: str, model_path: Optional[str]) -> None:
    """Raise :class:`ModelSourceError` unless ``model_path`` holds weights for ``mode``."""
    if mode not in MODES:
        close = difflib.get_close_matches(str(mode), MODES, n=1)
        raise ModelSourceError(
            f"mode {mode!r} does not exist; use one of {', '.join(MODES)}"
            + (f" (did you mean {close[0]!r}?)" if close else "")
        )
    if mode == "random":
        return
    if not model_path:
        raise ModelSourceError(f"mode {mode!r} needs a model directory (--model-path / model_path)")
    if not os.path.isdir(model_path):
        raise ModelSourceError(f"model directory {model_path} does not exist")
    if mode == "huggingface":
        if not os.path.isfile(os.path.join(model_path, "config.json")):
            raise ModelSourceError(
                f"{model_path} is not a Hugging Face model directory: it has no config.json"
            )
        if not any(os.path.isfile(os.path.join(model_path, f)) for f in HF_WEIGHT_FILES):
            raise ModelSourceError(
                f"{model_path} has no weights: expected one of {', '.join(HF_WEIGHT_FILES)}"
            )
        return
    # libai: <dir>/model/ (a checkpoint of libai-engine run) or a bare flow.save directory
    if not (
        os.path.isdir(os.path.join(model_path, "model"))
        or any(os.path.isfile(os.path.join(model_path, f)) for f in ("snapshot_done", "meta"))
    ):
        hint = ""
        if os.path.isfile(os.path.join(model_path, "last_checkpoint")):
            with open(os.path.join(model_path, "last_checkpoint")) as f:
                hint = f" (it is an output directory: try {os.path.join(model_path, f.read().strip())})"
        raise ModelSourceError(
            f"{model_path} is not a checkpoint written by libai-engine run: it has no model/ "
            f"directory{hint}"
        )


def _target_class(model_cfg: Any) -> Any:
    from libai.config.targets import resolve_target

    target = model_cfg.get("_target_") if hasattr(model_cfg, "get") else None
    if target is None:
        raise ModelSourceError("the config's model has no _target_ (it must be a LazyCall)")
    return resolve_target(target) if isinstance(target, str) else target


def hf_loader_for(model_cfg: Any) -> Any:
    """The Hugging Face loader class of the model that ``model_cfg`` (a LazyCall) builds."""
    from libai.config.targets import resolve_target

    cls = _target_class(model_cfg)
    loader = getattr(cls, "hf_loader", None)
    if loader is None:
        raise ModelSourceError(
            f"{getattr(cls, '__name__', cls)} has no Hugging Face loader (no hf_loader "
            "attribute); use mode 'libai' or 'random'"
        )
    return resolve_target(loader) if isinstance(loader, str) else loader


def load_model(cfg: Any, model_path: Optional[str], mode: str) -> Any:
    """Build ``cfg.model`` and load its weights as ``mode`` says; returns it in eval mode.

    In ``"huggingface"`` mode the sizes in ``config.json`` override ``cfg.model.cfg`` (as
    LiBai's loaders do) and are written back into it.
    """
    from libai.engine.default import DefaultTrainer
    from libai.utils import distributed as dist

    check_model_source(mode, model_path)
    if mode == "huggingface":
        loader_cls = hf_loader_for(cfg.model)
        model_cfg = cfg.model.get("cfg")
        model = loader_cls(cfg.model, model_cfg, model_path).load()
        if model_cfg is not None and hasattr(model, "cfg"):
            for key, value in dict(model.cfg).items():
                model_cfg[key] = value
        dist.convert_to_distributed_default_setting(model)
    else:
        model = DefaultTrainer.build_model(cfg)
        if mode == "libai":
            from libai.utils.checkpoint import Checkpointer

            Checkpointer(model).load(model_path, checkpointables=[])
    return model.eval()
