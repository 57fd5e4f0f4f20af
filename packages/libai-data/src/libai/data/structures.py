"""The containers a dataset returns and the trainer moves to the model's placement.

A dataset's ``__getitem__`` returns an :class:`Instance` whose fields are
:class:`DistTensorData`: a local tensor plus *where it must go* (an sbp signature
and the index of the layer that consumes it). The loader's collate function stacks
samples into a batch (:meth:`Instance.stack`), and the trainer turns every field into
a global tensor with :meth:`DistTensorData.to_global` before calling the model::

    sample = Instance(
        input_ids=DistTensorData(flow.tensor(ids)),                   # first stage
        labels=DistTensorData(flow.tensor(lbl), placement_idx=-1),   # last stage
    )
    batch = Instance.stack([sample, sample])
    for name, value in batch.get_fields().items():
        value.to_global(device_type="cpu")
        model_inputs[name] = value.tensor

This is LiBai's API (``libai.data.structures``), names and arguments unchanged.
"""

from __future__ import annotations

import difflib
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from libai.utils import distributed as dist
from libai.utils.oneflow_env import flow

__all__ = ["DistTensorData", "Instance"]

_SBP_NAMES = ("split_<dim>", "broadcast", "partial_sum")


def _parse_sbp(name: str) -> Any:
    """Turn ``"split_0"``, ``"broadcast"`` or ``"partial_sum"`` into a ``flow.sbp`` value."""
    if not isinstance(name, str):
        raise TypeError(f"an sbp_list entry must be a string like 'split_0', got {name!r}")
    if name.startswith("split_"):
        dim = name[len("split_") :]
        if not dim.isdigit():
            raise ValueError(
                f"sbp {name!r}: the split dimension must be an integer, e.g. 'split_0'"
            )
        return flow.sbp.split(int(dim))
    if name in ("broadcast", "partial_sum"):
        return getattr(flow.sbp, name)
    close = difflib.get_close_matches(name, ["split_0", "split_1", "broadcast", "partial_sum"])
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"unknown sbp {name!r}: expected one of {', '.join(_SBP_NAMES)}{hint}")


@dataclass
class DistTensorData:
    """A tensor of one sample (or batch) and where the model expects it.

    :param tensor: a local ``flow.Tensor`` (one sample before collation).
    :param sbp_list: the 2D sbp ``[data-parallel axis, tensor-parallel axis]`` as strings;
        the default splits the batch over data-parallel ranks and broadcasts over
        tensor-parallel ones.
    :param placement_idx: index of the layer that consumes the tensor (``0`` for inputs,
        ``-1`` for labels, which the last pipeline stage's loss reads).
    """

    tensor: Any
    sbp_list: list = field(default_factory=lambda: ["split_0", "broadcast"])
    placement_idx: int = 0

    def to_global(
        self,
        sbp: Any | None = None,
        placement: Any | None = None,
        device_type: str = "cuda",
    ) -> None:
        """Make ``self.tensor`` a global tensor, in place.

        Without ``placement`` the tensor is first made global on layer 0's placement and
        then moved to layer ``placement_idx``'s: every input is produced by the first
        device group, so random augmentations that differ between pipeline stages can
        never disagree. ``device_type="cuda"`` falls back to ``"cpu"`` without a GPU.
        """
        if sbp is None:
            sbp = dist.get_nd_sbp([_parse_sbp(name) for name in self.sbp_list])
        self.sbp = sbp
        if placement is not None:
            self.placement = placement
            self.tensor = self.tensor.to_global(sbp=sbp, placement=placement)
            return
        first = dist.get_layer_placement(0, device_type)
        self.tensor = self.tensor.to_global(sbp=sbp, placement=first)
        self.placement = first
        if self.placement_idx != 0:
            self.placement = dist.get_layer_placement(self.placement_idx, device_type)
            self.tensor = self.tensor.to_global(placement=self.placement)

    @staticmethod
    def stack(distTensor_lists: list[DistTensorData]) -> DistTensorData:
        """Stack the tensors of many samples along a new batch dimension 0.

        Raises ``ValueError`` for an empty list or samples whose shapes, sbp or
        placement differ, ``TypeError`` when a field is not a ``flow.Tensor``.
        """
        if len(distTensor_lists) == 0:
            raise ValueError("DistTensorData.stack needs at least one sample")
        first = distTensor_lists[0]
        for i, data in enumerate(distTensor_lists):
            if not isinstance(data.tensor, flow.Tensor):
                raise TypeError(
                    f"DistTensorData.tensor must be a flow.Tensor, got {type(data.tensor).__name__} "
                    f"in sample {i}; check what the dataset's __getitem__ returns"
                )
            if data.tensor.shape != first.tensor.shape:
                raise ValueError(
                    f"cannot stack samples of different shapes: sample 0 is "
                    f"{tuple(first.tensor.shape)}, sample {i} is {tuple(data.tensor.shape)}; "
                    "pad them to one length in the dataset or pass a collate_fn"
                )
            if list(data.sbp_list) != list(first.sbp_list):
                raise ValueError(
                    f"sbp_list differs between samples: {first.sbp_list} vs {data.sbp_list} "
                    f"(sample {i})"
                )
            if data.placement_idx != first.placement_idx:
                raise ValueError(
                    f"placement_idx differs between samples: {first.placement_idx} vs "
                    f"{data.placement_idx} (sample {i})"
                )
        tensor = flow.stack([data.tensor for data in distTensor_lists], dim=0)
        return DistTensorData(
            tensor, sbp_list=list(first.sbp_list), placement_idx=first.placement_idx
        )


class Instance:
    """One sample (or a batch) as named fields, e.g. ``input_ids``, ``labels``.

    Fields are set as attributes or keyword arguments; attributes starting with ``_``
    are private. ``len(instance)`` is the number of fields.
    """

    def __init__(self, **kwargs: Any) -> None:
        self._fields: OrderedDict[str, Any] = OrderedDict()
        for name, value in kwargs.items():
            self.set(name, value)

    def __setattr__(self, name: str, val: Any) -> None:
        if name.startswith("_"):
            super().__setattr__(name, val)
        else:
            self.set(name, val)

    def __getattr__(self, name: str) -> Any:
        fields = self.__dict__.get("_fields", {})
        if name.startswith("_") or name not in fields:
            close = difflib.get_close_matches(name, list(fields))
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise AttributeError(f"Instance has no field {name!r} (fields: {list(fields)}){hint}")
        return fields[name]

    def set(self, name: str, value: Any) -> None:
        """Set the field ``name`` to ``value``."""
        self._fields[name] = value

    def has(self, name: str) -> bool:
        return name in self._fields

    def remove(self, name: str) -> None:
        del self._fields[name]

    def get(self, name: str) -> Any:
        return self._fields[name]

    def get_fields(self) -> OrderedDict[str, Any]:
        """Return the fields as an ordered ``{name: value}`` dict (not a copy)."""
        return self._fields

    def __len__(self) -> int:
        return len(self._fields)

    def __iter__(self):
        raise NotImplementedError("Instance is not iterable; use get_fields().items()")

    @staticmethod
    def stack(instance_lists: list[Instance]) -> Instance:
        """Collate samples into one batch ``Instance``, field by field.

        ``flow.Tensor`` fields are stacked on a new dimension 0, values with a ``stack``
        static method (``DistTensorData``) use it, lists are kept as the list of the
        samples' values. Raises ``TypeError`` for other field types.
        """
        if len(instance_lists) == 0:
            raise ValueError("Instance.stack needs at least one sample")
        for i, item in enumerate(instance_lists):
            if not isinstance(item, Instance):
                raise TypeError(
                    f"Instance.stack expects Instance samples, got {type(item).__name__} at "
                    f"position {i}; the dataset's __getitem__ must return an Instance "
                    "(or pass a collate_fn to the loader builder)"
                )
        batch = Instance()
        for name in instance_lists[0]._fields:
            values = [item.get(name) for item in instance_lists]
            first = values[0]
            if isinstance(first, flow.Tensor):
                batch.set(name, flow.stack(values, dim=0))
            elif isinstance(first, list):
                batch.set(name, values)
            elif hasattr(type(first), "stack"):
                batch.set(name, type(first).stack(values))
            else:
                raise TypeError(
                    f"field {name!r} has type {type(first).__name__}, which Instance.stack "
                    "cannot batch: use a flow.Tensor, a DistTensorData or a list"
                )
        return batch

    def __str__(self) -> str:
        inner = ", ".join(f"{k}: {v}" for k, v in self._fields.items())
        return f"{type(self).__name__}(fields=[{inner}])"

    __repr__ = __str__
