"""Parameter groups for OneFlow optimizers: weight decay per kind of parameter, grad clipping."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from libai.config import engine_supplied
from libai.utils.oneflow_env import flow

# OneFlow's own normalization layers. Layers from other packages (libai.layers.LayerNorm,
# RMSNorm, ...) are recognised by class name, because the engine must not import them.
_FLOW_NORM_TYPES = tuple(
    getattr(flow.nn, name)
    for name in (
        "LayerNorm",
        "BatchNorm1d",
        "BatchNorm2d",
        "BatchNorm3d",
        "GroupNorm",
        "InstanceNorm1d",
        "InstanceNorm2d",
        "InstanceNorm3d",
        "FusedBatchNorm1d",
        "FusedBatchNorm2d",
        "FusedBatchNorm3d",
    )
    if hasattr(flow.nn, name)
)


def _is_norm_module(module: Any) -> bool:
    if isinstance(module, _FLOW_NORM_TYPES):
        return True
    return any(cls.__name__.endswith("Norm") for cls in type(module).__mro__)


def _plain(value: Any) -> Any:
    """Turn an omegaconf container (from a config) into plain dicts/lists."""
    try:
        from omegaconf import DictConfig, ListConfig, OmegaConf

        if isinstance(value, (DictConfig, ListConfig)):
            return OmegaConf.to_container(value, resolve=True)
    except ImportError:  # pragma: no cover - omegaconf comes with libai-config
        pass
    return value


@engine_supplied("model")
def get_default_optimizer_params(
    model: Any,
    base_lr: float | None = None,
    weight_decay: float | None = None,
    weight_decay_norm: float | None = None,
    weight_decay_bias: float | None = None,
    clip_grad_max_norm: float | None = None,
    clip_grad_norm_type: float | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> list:
    """Return the optimizer's parameter groups for ``model`` (LiBai's rules).

    Every trainable parameter appears once. ``base_lr`` and ``weight_decay`` default
    every group's values (omit them to use the optimizer's); parameters of
    normalization layers get ``weight_decay_norm`` and parameters named ``bias`` get
    ``weight_decay_bias``; ``overrides`` maps a parameter *name* (``"bias"``,
    ``"embedding"``) to hyper-parameters for every parameter of that name.
    ``clip_grad_max_norm`` and ``clip_grad_norm_type`` (both, or neither) go into
    every group, where OneFlow's optimizers read them (``optimizer.clip_grad()`` in
    eager mode, the graph's optimizer config in ``nn.Graph``). Groups with equal
    hyper-parameters are merged.

    Raises ``ValueError`` when only one of the two clipping values is given, or
    ``overrides`` already has ``"bias"`` while ``weight_decay_bias`` is set.
    """
    overrides = dict(_plain(overrides) or {})
    defaults: dict = {}
    if base_lr is not None:
        defaults["lr"] = base_lr
    if weight_decay is not None:
        defaults["weight_decay"] = weight_decay
    if (clip_grad_max_norm is None) != (clip_grad_norm_type is None):
        raise ValueError(
            "get_default_optimizer_params: set both clip_grad_max_norm and "
            "clip_grad_norm_type (e.g. 1.0 and 2.0) to clip gradients, or neither; got "
            f"clip_grad_max_norm={clip_grad_max_norm}, clip_grad_norm_type={clip_grad_norm_type}"
        )
    if clip_grad_max_norm is not None:
        defaults["clip_grad_max_norm"] = float(clip_grad_max_norm)
        defaults["clip_grad_norm_type"] = float(clip_grad_norm_type)
    if weight_decay_bias is not None:
        if "bias" in overrides:
            raise ValueError(
                "get_default_optimizer_params: weight_decay_bias and overrides['bias'] both "
                "set the bias hyper-parameters; keep one of them"
            )
        overrides["bias"] = {"weight_decay": weight_decay_bias}

    groups = []
    seen: set = set()
    for module in model.modules():
        for name, param in module.named_parameters(recurse=False):
            if not param.requires_grad or id(param) in seen:
                continue
            seen.add(id(param))
            hyperparams = copy.copy(defaults)
            if weight_decay_norm is not None and _is_norm_module(module):
                hyperparams["weight_decay"] = weight_decay_norm
            hyperparams.update(overrides.get(name, {}))
            groups.append({"params": [param], **hyperparams})
    return reduce_param_groups(groups)


def _hashable(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value


def reduce_param_groups(groups: list) -> list:
    """Merge parameter groups that have the same hyper-parameters (fewer groups run faster).

    A parameter listed in several groups takes the union of their hyper-parameters,
    later groups winning. The order of first appearance is kept.
    """
    per_param: dict = {}
    for group in groups:
        if "params" not in group:
            raise ValueError(f"a parameter group needs a 'params' key, got keys {sorted(group)}")
        hyperparams = {k: v for k, v in group.items() if k != "params"}
        for param in group["params"]:
            entry = per_param.setdefault(id(param), {"param": param, "hyper": {}})
            entry["hyper"].update(hyperparams)

    merged: dict = {}
    for entry in per_param.values():
        key = _hashable(sorted(entry["hyper"].items()))
        if key not in merged:
            merged[key] = {**entry["hyper"], "params": []}
        merged[key]["params"].append(entry["param"])
    return list(merged.values())


def build_optimizer(cfg: Any, model: Any) -> Any:
    """Instantiate the optimizer config ``cfg`` (``cfg.optim``) for ``model``.

    ``cfg.params`` is the ``LazyCall(get_default_optimizer_params)`` node whose
    ``model`` the engine supplies; a config without ``params`` gets
    ``model.parameters()``.
    """
    from libai.config import instantiate

    params = cfg.get("params") if hasattr(cfg, "get") else None
    if params is not None and hasattr(params, "get") and params.get("_target_") is not None:
        params.model = model
        return instantiate(cfg)
    cfg.params = list(model.parameters())
    return instantiate(cfg)
