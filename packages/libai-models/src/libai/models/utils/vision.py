"""What the vision models (ViT, Swin, SwinV2, ResMLP) share: cfg handling, the
classification output, initialisers and small global-tensor helpers.

All four follow LiBai's contract: ``forward(images, labels=None)`` returns
``{"losses": loss}`` in training mode when labels are given (the engine sums every
entry whose key contains "loss") and ``{"prediction_scores": logits}`` otherwise,
which is what ``ClsEvaluator`` reads.
"""

from __future__ import annotations

import difflib
import functools
import math
from collections.abc import Mapping
from typing import Any, Callable, Optional

from libai.layers._global import as_global
from libai.utils import distributed as dist
from libai.utils.oneflow_env import flow
from omegaconf import DictConfig, ListConfig

nn = flow.nn

# Objects (a loss module, a LazyCall-built callable) may sit inside a model cfg.
_CFG_FLAGS = {"allow_objects": True}


def accepts_mapping_cfg(init: Callable) -> Callable:
    """Let ``Model(cfg=dict(...))`` work like ``Model(cfg=DictConfig(...))``.

    ``@configurable`` recognises a DictConfig only. LiBai's experiment configs put a
    built loss (``model.cfg.loss_func = SoftTargetCrossEntropy()``) inside the cfg, so
    the instantiated cfg may be a plain dict holding objects: it becomes a DictConfig
    that allows objects.
    """

    @functools.wraps(init)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> None:
        cfg = kwargs.get("cfg")
        if isinstance(cfg, Mapping) and not isinstance(cfg, DictConfig):
            kwargs["cfg"] = DictConfig(dict(cfg), flags=_CFG_FLAGS)
        elif args and isinstance(args[0], Mapping) and not isinstance(args[0], DictConfig):
            args = (DictConfig(dict(args[0]), flags=_CFG_FLAGS),) + args[1:]
        init(self, *args, **kwargs)

    return wrapper


def cfg_kwargs(cfg: Any, names: list, model: str) -> dict:
    """Read the keys of ``names`` that ``cfg`` has (the constructor's defaults fill the rest).

    A key outside ``names`` is most likely a typo that would silently leave a default
    in place, so it raises ``ValueError`` naming the closest valid keys.
    """
    unknown = [key for key in cfg if key not in names]
    if unknown:
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(str(key), names, n=2)
            hints.append(f"{key!r}" + (f" (did you mean {' or '.join(close)}?)" if close else ""))
        raise ValueError(
            f"{model}: unknown cfg key(s) {', '.join(hints)}; valid keys: {', '.join(names)}"
        )
    out = {}
    for name in names:
        if name in cfg:
            value = cfg[name]
            # DictConfig returns ListConfig for lists; the models want plain sequences.
            out[name] = list(value) if isinstance(value, ListConfig) else value
    return out


def broadcast_sbp() -> Any:
    return dist.get_nd_sbp([flow.sbp.broadcast, flow.sbp.broadcast])


def global_param(shape: tuple, fill: float, layer_idx: int = 0) -> Any:
    """A parameter of ``shape`` filled with ``fill``, broadcast on ``layer_idx``'s placement."""
    tensor = flow.full(
        shape,
        fill,
        dtype=flow.float32,
        placement=dist.get_layer_placement(layer_idx),
        sbp=broadcast_sbp(),
    )
    return nn.Parameter(tensor)


def global_buffer(tensor: Any, layer_idx: int = 0) -> Any:
    """A local tensor made global (broadcast) on ``layer_idx``'s placement."""
    return tensor.to_global(placement=dist.get_layer_placement(layer_idx), sbp=broadcast_sbp())


def add_leading_broadcast(x: Any, bias: Any) -> Any:
    """``x + bias`` where ``bias``'s shape equals the trailing dims of ``x`` (leading 1s allowed).

    Done on a 2-D view: OneFlow 0.9's CPU kernel for a broadcast add over 3-D/4-D shapes is
    about 100x slower than the same add on ``(rows, k) + (1, k)`` (measured on Swin-T's
    first-stage attention scores: 30 ms vs 0.3 ms).
    """
    k = 1
    for size in bias.shape:
        k *= size
    return (x.reshape(-1, k) + bias.reshape(1, k)).view(x.shape)


def trunc_normal_(tensor: Any, std: float = 0.02) -> Any:
    """Truncated normal in [-2, 2] (absolute, as timm), the ViT/Swin initialiser."""
    return nn.init.trunc_normal_(tensor, mean=0.0, std=std, a=-2.0, b=2.0)


def init_linear_and_norm(module: Any) -> None:
    """LiBai's vision init: linear weights trunc-normal(0.02), biases 0, norms (1, 0)."""
    from libai.layers import LayerNorm, Linear

    if isinstance(module, Linear):
        trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, LayerNorm) and module.weight is not None:
        nn.init.ones_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


def init_patch_embedding(patch_embed: Any) -> None:
    """Re-draw the patch-embedding convolution with PyTorch's default rule (what LiBai's
    models keep), from the seeded generator of global tensors.

    The convolution is created as a local module and then made global; its construction-
    time draw was seen to differ between processes with the same ``flow.manual_seed``
    (OneFlow 0.9.0), which made runs irreproducible.
    """
    weight = patch_embed.proj.weight
    nn.init.kaiming_uniform_(weight, a=math.sqrt(5))
    if patch_embed.proj.bias is not None:
        fan_in = weight.shape[1] * weight.shape[2] * weight.shape[3]
        bound = 1.0 / math.sqrt(fan_in)
        nn.init.uniform_(patch_embed.proj.bias, -bound, bound)


def drop_path_rates(drop_path_rate: float, count: int) -> list:
    """Stochastic-depth rates rising linearly from 0 to ``drop_path_rate`` over ``count`` blocks."""
    if count <= 1:
        return [0.0] * count  # flow.linspace(0, rate, 1) is [0.0], as LiBai computes it
    step = drop_path_rate / (count - 1)
    return [i * step for i in range(count)]


def soft_target_cross_entropy(logits: Any, target: Any) -> Any:
    """Cross entropy against a distribution per sample (mixup / cutmix / label smoothing)."""
    log_probs = flow.nn.functional.log_softmax(logits, dim=-1)
    return flow.sum(-target * log_probs, dim=-1).mean()


def classification_output(
    logits: Any, labels: Optional[Any], loss_func: Optional[Callable], training: bool
) -> dict:
    """LiBai's classifier output: ``{"losses": ...}`` when training with labels, else scores.

    ``loss_func`` (the cfg's ``loss_func``) wins when set. Otherwise integer labels
    ``(B,)`` use cross entropy and float labels ``(B, num_classes)`` (what the data
    configs' Mixup produces) the soft-target cross entropy, so a LiBai config that
    enables mixup works without naming a loss. Raises ``ValueError`` on labels whose
    shape fits neither.
    """
    if labels is None or not training:
        return {"prediction_scores": logits}
    labels = as_global(labels, logits.placement)
    if loss_func is not None:
        return {"losses": loss_func(logits, labels)}
    if labels.dtype in (flow.float16, flow.float32, flow.float64, flow.bfloat16):
        if labels.ndim != 2 or labels.shape[-1] != logits.shape[-1]:
            raise ValueError(
                f"float labels must be (batch, num_classes={logits.shape[-1]}) class "
                f"distributions, got shape {tuple(labels.shape)}"
            )
        return {"losses": soft_target_cross_entropy(logits, labels.to(logits.dtype))}
    if labels.ndim != 1:
        raise ValueError(
            f"integer labels must be class ids of shape (batch,), got shape {tuple(labels.shape)}"
        )
    loss = flow.nn.functional.cross_entropy(logits, labels.to(flow.int64))
    return {"losses": loss}


def to_model_input(images: Any, layer_idx: int = 0) -> Any:
    """Images as a float global tensor on the first stage (batch split over data parallel)."""
    images = as_global(images, dist.get_layer_placement(layer_idx))
    if images.dtype != flow.float32:
        images = images.to(flow.float32)
    return images
