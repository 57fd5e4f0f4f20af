"""From a loader's batch to the model's keyword arguments, and the loader plumbing around it.

:func:`get_batch` accepts what LiBai's loaders yield (an ``Instance`` whose
fields are ``DistTensorData``) and plain dicts of tensors or numpy arrays, and
returns a dict of *global* tensors split over the data-parallel ranks.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any, Optional

from libai.utils import distributed as dist
from libai.utils.oneflow_env import flow

__all__ = ["cycle", "fill_engine_args", "get_batch"]


def _is_instance(data: Any) -> bool:
    return callable(getattr(data, "get_fields", None))


def _local_tensor(value: Any) -> Any:
    if isinstance(value, flow.Tensor):
        return value
    return flow.tensor(value)


def _dict_to_global(fields: dict[str, Any], device_type: str) -> dict[str, Any]:
    placement = dist.get_layer_placement(0, device_type)
    sbp = dist.get_nd_sbp([flow.sbp.split(0), flow.sbp.broadcast])
    out = {}
    for key, value in fields.items():
        t = _local_tensor(value)
        out[key] = t if t.is_global else t.to_global(placement=placement, sbp=sbp)
    return out


def _concat_micro_batches(batches: list[Any]) -> Any:
    """Concatenate micro batches along dim 0 (the graph splits them again for accumulation)."""
    first = batches[0]
    if _is_instance(first):
        fields = first.get_fields()
        for key, value in fields.items():
            value.tensor = flow.cat([b.get_fields()[key].tensor for b in batches], dim=0)
        return first
    if isinstance(first, dict):
        return {k: flow.cat([_local_tensor(b[k]) for b in batches], dim=0) for k in first}
    raise TypeError(f"cannot concatenate micro batches of type {type(first).__name__}")


def get_batch(
    data: Any, input_placement_device: str = "cpu", mixup_func: Optional[Any] = None
) -> dict[str, Any]:
    """Return the model's keyword arguments for one step, as global tensors.

    Args:
        data: a LiBai ``Instance`` (``get_fields()`` -> ``DistTensorData``, each
            made global with its own SBP), a dict of local tensors / numpy arrays
            (split along dim 0 over the data-parallel ranks), or a list of either
            (micro batches, concatenated along dim 0).
        input_placement_device: ``"cpu"`` or ``"cuda"``.
        mixup_func: LiBai's image mixup, applied to ``images``/``labels`` when given.

    Raises:
        TypeError: for any other kind of batch.
    """
    reraise = getattr(data, "reraise", None)
    if callable(reraise):  # a worker process's exception wrapped by the DataLoader
        reraise()
    if (
        isinstance(data, (list, tuple))
        and data
        and (_is_instance(data[0]) or isinstance(data[0], dict))
    ):
        data = _concat_micro_batches(list(data))
    if _is_instance(data):
        if mixup_func is not None:
            images, labels = mixup_func(data.get("images").tensor, data.get("labels").tensor)
            data.get("images").tensor = images
            data.get("labels").tensor = labels
        ret = {}
        for key, value in data.get_fields().items():
            value.to_global(device_type=input_placement_device)
            ret[key] = value.tensor
        return ret
    if isinstance(data, dict):
        return _dict_to_global(data, input_placement_device)
    raise TypeError(
        f"a training batch must be a LiBai Instance or a dict of tensors, got {type(data).__name__}; "
        "make the loader's collate function return one of those"
    )


def cycle(loader: Any) -> Iterator[Any]:
    """Iterate over ``loader`` forever, starting a new epoch when one ends.

    Raises:
        RuntimeError: when the loader yields nothing at all.
    """
    while True:
        empty = True
        for batch in loader:
            empty = False
            yield batch
        if empty:
            raise RuntimeError(
                "the training loader yields no batch (is the dataset smaller than one batch "
                "with drop_last=True?)"
            )
        epoch_hook = getattr(getattr(loader, "sampler", None), "set_epoch", None)
        if callable(epoch_hook):
            epoch_hook(getattr(loader.sampler, "epoch", 0) + 1)


def _accepted(target: Any) -> tuple[set[str], bool]:
    """Keyword names ``target`` accepts, and whether it takes ``**kwargs``."""
    from libai.config.engine_args import engine_supplied_args

    try:
        sig = inspect.signature(target)
    except (TypeError, ValueError):
        return set(engine_supplied_args(target)), True
    names = {
        n for n, p in sig.parameters.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }
    var_kw = any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values())
    return names | set(engine_supplied_args(target)), var_kw


def fill_engine_args(node: Any, values: dict[str, Any], path: str) -> None:
    """Set each of ``values`` on the ``LazyCall`` ``node`` when its target accepts that argument.

    Values the config already sets are overwritten, as LiBai's trainer does: the
    batch sizes and seed come from the ``train`` namespace.
    """
    from libai.config.targets import resolve_target

    target = resolve_target(node["_target_"])
    names, var_kw = _accepted(target)
    for key, value in values.items():
        if key in names or var_kw:
            node[key] = value
