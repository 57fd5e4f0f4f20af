"""Map ``train.dist`` onto OneFlow placements and SBP (LiBai's ``libai.utils.distributed``).

Every tensor in LiBai is a *global* tensor. Its placement comes from
:func:`get_layer_placement` (which ranks hold layer ``i``: pipeline parallelism puts
different layers on different ranks) and its SBP from :func:`get_nd_sbp`, which
takes a 2D signature ``[data-parallel axis, tensor-parallel axis]`` and keeps only
the axes that exist in this run (1D when only one kind of parallelism is on).

The ranks are laid out as LiBai does: the world is cut into
``pipeline_parallel_size`` contiguous stages; inside a stage the ranks form a
``data_parallel_size x tensor_parallel_size`` mesh, tensor-parallel ranks adjacent::

    world 8, dp 2, tp 2, pp 2:  stage 0 -> [[0, 1], [2, 3]]   stage 1 -> [[4, 5], [6, 7]]

Layers go to stages by ``pipeline_num_layers`` with LiBai's rule (later stages take
the remainder; with 4 or more stages and an even split of 8+ layers the last stage,
which also holds the head, gets fewer), or exactly as listed in
``custom_pipeline_stage_id``.

Unlike LiBai, a ``train.dist`` that does not fit the world size is a
:class:`DistConfigError` showing the arithmetic, not a silent clamp.
``data_parallel_size=None`` means "whatever is left over".
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Mapping, Sequence
from typing import Any

from libai.utils.oneflow_env import cuda_available, flow

logger = logging.getLogger(__name__)

__all__ = [
    "DistConfigError",
    "all_gather_object",
    "convert_to_distributed_default_setting",
    "get_data_parallel_rank",
    "get_data_parallel_size",
    "get_dist_util",
    "get_hidden_sbp",
    "get_layer_placement",
    "get_layer_stage_id",
    "get_local_rank",
    "get_nd_sbp",
    "get_num_nodes",
    "get_pipeline_parallel_size",
    "get_rank",
    "get_tensor_parallel_size",
    "get_world_size",
    "is_last_process",
    "is_main_process",
    "reset_dist_util",
    "same_sbp",
    "setup_dist_util",
    "synchronize",
    "tensor_to_rank0",
    "to_whole_local",
    "tton",
    "ttol",
]

# Stand-in for "no pipeline": every layer index maps to stage 0 (LiBai's value).
_NO_PIPELINE_NUM_LAYERS = 10000

_DIST_UTIL: _DistributeUtil | None = None


class DistConfigError(ValueError):
    """``train.dist`` does not fit the launched processes; the message says what to set."""


def _get(cfg: Any, key: str, default: Any = None) -> Any:
    if cfg is None:
        return default
    if isinstance(cfg, Mapping) or hasattr(cfg, "get"):
        value = cfg.get(key, default)
    else:
        value = getattr(cfg, key, default)
    return default if value is None else value


def _set(cfg: Any, key: str, value: Any) -> None:
    """Write an actual value back into the config, as LiBai does (it lands in config.yaml)."""
    if cfg is None:
        return
    try:
        from omegaconf import DictConfig, open_dict

        if isinstance(cfg, DictConfig):
            with open_dict(cfg):
                cfg[key] = value
            return
    except ImportError:  # pragma: no cover - omegaconf comes with libai-config
        pass
    if isinstance(cfg, dict):
        cfg[key] = value
    else:
        setattr(cfg, key, value)


def _positive_int(cfg: Any, key: str, default: int | None) -> int | None:
    value = _get(cfg, key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise DistConfigError(f"train.dist.{key} must be a positive integer, got {value!r}")
    return value


class _DistributeUtil:
    """The parallel layout of this run, computed once from ``train.dist``."""

    def __init__(self, cfg: Any) -> None:
        self._init_distributed_env(cfg)
        self._init_device_type(cfg)
        self._init_parallel_size(cfg)
        self._init_placement_group(cfg)
        self._init_parallel_hierarchy()

    # -- set-up ---------------------------------------------------------------

    def _init_distributed_env(self, cfg: Any) -> None:
        num_nodes = get_num_nodes()
        world_size = get_world_size()
        num_gpus_per_node = world_size // num_nodes
        # A config saved on another machine may carry other values: warn, then
        # record the real ones so the saved config.yaml describes this run.
        for key, actual in (("num_nodes", num_nodes), ("num_gpus_per_node", num_gpus_per_node)):
            configured = _get(cfg, key, actual)
            if configured != actual:
                logger.warning(
                    "train.dist.%s is %s in the config but the launched environment has %s; "
                    "using %s",
                    key,
                    configured,
                    actual,
                    actual,
                )
            _set(cfg, key, actual)
        self._num_nodes = num_nodes
        self._num_gpus_per_node = num_gpus_per_node
        self._world_size = world_size

    def _init_device_type(self, cfg: Any) -> None:
        device_type = _get(cfg, "device_type", None)
        if device_type is None:
            device_type = "cuda" if cuda_available() else "cpu"
        if device_type not in ("cuda", "cpu"):
            raise DistConfigError(
                f"train.dist.device_type must be 'cuda' or 'cpu', got {device_type!r}"
            )
        if device_type == "cuda" and not cuda_available():
            logger.warning("train.dist.device_type is 'cuda' but no GPU is available; using 'cpu'")
            device_type = "cpu"
        self._device_type = device_type
        _set(cfg, "device_type", device_type)

    def _init_parallel_size(self, cfg: Any) -> None:
        world = self._world_size
        tp = _positive_int(cfg, "tensor_parallel_size", 1)
        pp = _positive_int(cfg, "pipeline_parallel_size", 1)
        dp = _positive_int(cfg, "data_parallel_size", None)
        if world % (tp * pp) != 0:
            raise DistConfigError(
                f"train.dist does not fit the world size: tensor_parallel_size ({tp}) * "
                f"pipeline_parallel_size ({pp}) = {tp * pp} does not divide the {world} "
                f"launched process(es). Choose sizes whose product divides {world}, or "
                f"launch a multiple of {tp * pp} processes."
            )
        if dp is None:
            dp = world // (tp * pp)
        if dp * tp * pp != world:
            raise DistConfigError(
                f"train.dist does not fit the world size: data_parallel_size ({dp}) * "
                f"tensor_parallel_size ({tp}) * pipeline_parallel_size ({pp}) = "
                f"{dp * tp * pp}, but {world} process(es) were launched. Set "
                f"train.dist.data_parallel_size={world // (tp * pp)} (or None to derive it), "
                f"or launch {dp * tp * pp} processes."
            )

        num_layers = _get(cfg, "pipeline_num_layers", None)
        if pp > 1:
            if num_layers is None:
                raise DistConfigError(
                    f"train.dist.pipeline_num_layers must be set when pipeline_parallel_size "
                    f"is {pp}: set it to the model's number of layers, e.g. "
                    f"train.dist.pipeline_num_layers=model.cfg.hidden_layers"
                )
            if num_layers < pp:
                raise DistConfigError(
                    f"train.dist.pipeline_num_layers ({num_layers}) is less than "
                    f"pipeline_parallel_size ({pp}): every stage needs at least one layer"
                )
        elif num_layers is None:
            num_layers = _NO_PIPELINE_NUM_LAYERS
            _set(cfg, "pipeline_num_layers", num_layers)

        self._tensor_parallel_size = tp
        self._pipeline_parallel_size = pp
        self._data_parallel_size = dp
        self._pipeline_num_layers = int(num_layers)
        # Record the actual sizes, as LiBai does, so config.yaml describes the run.
        _set(cfg, "tensor_parallel_size", tp)
        _set(cfg, "pipeline_parallel_size", pp)
        _set(cfg, "data_parallel_size", dp)

    def _init_placement_group(self, cfg: Any) -> None:
        pp = self._pipeline_parallel_size
        per_stage = self._world_size // pp
        self._stage_ranks = [list(range(s * per_stage, (s + 1) * per_stage)) for s in range(pp)]
        self._layer_stage_ids = _auto_stage_ids(self._pipeline_num_layers, pp)
        if pp > 1:
            _set(cfg, "auto_pipeline_stage_id", list(self._layer_stage_ids))
            custom = _get(cfg, "custom_pipeline_stage_id", None)
            if custom is not None:
                self._layer_stage_ids = _check_custom_stage_ids(
                    custom, self._pipeline_num_layers, pp
                )
            _set(cfg, "actual_pipeline_stage_id", list(self._layer_stage_ids))

    def _init_parallel_hierarchy(self) -> None:
        # A 2D mesh only when both data and tensor parallelism are on (LiBai's rule).
        if self.is_data_model_parallel():
            self._parallel_hierarchy = (self._data_parallel_size, self._tensor_parallel_size)
        else:
            self._parallel_hierarchy = None

    # -- read-only view ---------------------------------------------------------

    @property
    def num_nodes(self) -> int:
        return self._num_nodes

    @property
    def num_gpus_per_node(self) -> int:
        return self._num_gpus_per_node

    @property
    def world_size(self) -> int:
        return self._world_size

    @property
    def device_type(self) -> str:
        return self._device_type

    @property
    def parallel_hierarchy(self) -> tuple | None:
        return self._parallel_hierarchy

    @property
    def tensor_parallel_size(self) -> int:
        return self._tensor_parallel_size

    @property
    def pipeline_parallel_size(self) -> int:
        return self._pipeline_parallel_size

    @property
    def model_parallel_size(self) -> int:
        # LiBai's name for the tensor-parallel size (used by get_data_parallel_rank).
        return self._tensor_parallel_size

    @property
    def data_parallel_size(self) -> int:
        return self._data_parallel_size

    @property
    def pipeline_num_layers(self) -> int:
        return self._pipeline_num_layers

    @property
    def stage_id(self) -> int:
        """The pipeline stage this process belongs to."""
        return get_rank() // (self._world_size // self._pipeline_parallel_size)

    @property
    def is_first_stage(self) -> bool:
        return self.stage_id == 0

    @property
    def is_last_stage(self) -> bool:
        return self.stage_id == self._pipeline_parallel_size - 1

    def get_layer_ranks(self, layer_idx: int) -> list:
        """Ranks holding layer ``layer_idx``: a flat list, or a [dp][tp] nested list on a 2D mesh."""
        ranks = self._stage_ranks[self.get_layer_stage_id(layer_idx)]
        if self._parallel_hierarchy is None:
            return list(ranks)
        dp, tp = self._parallel_hierarchy
        return [ranks[i * tp : (i + 1) * tp] for i in range(dp)]

    def get_layer_stage_id(self, layer_idx: int) -> int:
        try:
            return self._layer_stage_ids[layer_idx]
        except IndexError as exc:
            raise IndexError(
                f"layer index {layer_idx} is out of range: train.dist.pipeline_num_layers is "
                f"{self._pipeline_num_layers}"
            ) from exc

    def is_tensor_model_parallel(self) -> bool:
        return self._tensor_parallel_size > 1

    def is_data_parallel(self) -> bool:
        return self._data_parallel_size > 1

    def is_pipeline_model_parallel(self) -> bool:
        return self._pipeline_parallel_size > 1

    def is_data_model_parallel(self) -> bool:
        return self.is_tensor_model_parallel() and self.is_data_parallel()

    def __repr__(self) -> str:
        return (
            f"_DistributeUtil(world_size={self._world_size}, data_parallel_size="
            f"{self._data_parallel_size}, tensor_parallel_size={self._tensor_parallel_size}, "
            f"pipeline_parallel_size={self._pipeline_parallel_size}, "
            f"device_type={self._device_type!r})"
        )


def _auto_stage_ids(num_layers: int, pp: int) -> list:
    """LiBai's automatic layer -> stage map.

    Layers are split evenly; when they do not divide, the *last* stages take one
    extra each. With 4+ stages and an even split of 8+ layers, the count is padded
    by ``min(pp - 1, layers // pp)`` before splitting and the map cut back to the
    real count, which shifts layers off the last stage (it also holds the head):
    8 layers on 4 stages -> ``[0, 0, 1, 1, 2, 2, 2, 3]``.
    """
    actual = num_layers
    if pp >= 4 and num_layers >= 8 and num_layers % pp == 0:
        actual = num_layers + min(pp - 1, num_layers // pp)
    per_stage, remainder = divmod(actual, pp)
    stage_ids: list = []
    for stage in range(pp):
        extra = 1 if stage >= pp - remainder else 0
        stage_ids.extend([stage] * (per_stage + extra))
    return stage_ids[:num_layers]


def _check_custom_stage_ids(custom: Any, num_layers: int, pp: int) -> list:
    if isinstance(custom, (str, bytes)) or not isinstance(custom, Sequence):
        try:
            custom = list(custom)
        except TypeError as exc:
            raise DistConfigError(
                f"train.dist.custom_pipeline_stage_id must be a list of stage ids, got "
                f"{type(custom).__name__}"
            ) from exc
    stage_ids = [int(s) for s in custom]
    if len(stage_ids) != num_layers:
        raise DistConfigError(
            f"train.dist.custom_pipeline_stage_id has {len(stage_ids)} entries but "
            f"train.dist.pipeline_num_layers is {num_layers}: give one stage id per layer"
        )
    bad = [s for s in stage_ids if not 0 <= s < pp]
    if bad:
        raise DistConfigError(
            f"train.dist.custom_pipeline_stage_id contains {bad[0]}, but stage ids must be "
            f"in 0..{pp - 1} (pipeline_parallel_size is {pp})"
        )
    return stage_ids


# -- module API (LiBai's names) ---------------------------------------------------


def setup_dist_util(cfg: Any) -> None:
    """Compute the parallel layout from ``cfg`` (``train.dist``) and make it current.

    Raises :class:`DistConfigError` when the sizes do not fit the launched world.
    """
    global _DIST_UTIL
    _DIST_UTIL = _DistributeUtil(cfg)


def reset_dist_util() -> None:
    """Forget the current layout (the next :func:`get_dist_util` sets up the default)."""
    global _DIST_UTIL
    _DIST_UTIL = None


def get_dist_util() -> _DistributeUtil:
    """Return the current layout; set up a default (pure data parallel) one if none is."""
    if _DIST_UTIL is None:
        logger.info("train.dist is not set up yet; using the default (data parallel only)")
        setup_dist_util({"data_parallel_size": None})
    return _DIST_UTIL


def get_layer_placement(layer_idx: int, device_type: str | None = None) -> Any:
    """Return the ``flow.placement`` holding layer ``layer_idx``.

    ``device_type`` defaults to ``train.dist.device_type``; ``"cuda"`` falls back to
    ``"cpu"`` when no GPU is available.
    """
    dist_util = get_dist_util()
    if device_type is None:
        device_type = dist_util.device_type
    if device_type == "cuda" and not cuda_available():
        device_type = "cpu"
    return flow.placement(device_type, dist_util.get_layer_ranks(layer_idx))


def get_layer_stage_id(layer_idx: int) -> int:
    """Return the pipeline stage that holds layer ``layer_idx``."""
    return get_dist_util().get_layer_stage_id(layer_idx)


def get_nd_sbp(sbp_list: list) -> list:
    """Keep the axes of a 2D ``[data, tensor]`` sbp signature that exist in this run.

    Raises :class:`TypeError` unless ``sbp_list`` is a list of two ``flow.sbp.sbp``.
    """
    if (
        not isinstance(sbp_list, (list, tuple))
        or len(sbp_list) != 2
        or not all(isinstance(sbp, flow.sbp.sbp) for sbp in sbp_list)
    ):
        raise TypeError(
            "get_nd_sbp expects a list of two flow.sbp values [data axis, tensor axis], got "
            f"{sbp_list!r}"
        )
    dist_util = get_dist_util()
    if dist_util.is_data_model_parallel():
        return list(sbp_list)
    if dist_util.is_data_parallel():
        return [sbp_list[0]]
    if dist_util.is_tensor_model_parallel():
        return [sbp_list[1]]
    return [flow.sbp.broadcast]


def get_hidden_sbp() -> list:
    """Sbp of hidden states: split on the batch over data parallel, broadcast over tensor."""
    return get_nd_sbp([flow.sbp.split(0), flow.sbp.broadcast])


def get_data_parallel_rank() -> int:
    """This process's index along the data-parallel axis."""
    dist_util = get_dist_util()
    return (get_rank() // dist_util.model_parallel_size) % dist_util.data_parallel_size


def get_data_parallel_size() -> int:
    return get_dist_util().data_parallel_size


def get_tensor_parallel_size() -> int:
    return get_dist_util().tensor_parallel_size


def get_pipeline_parallel_size() -> int:
    return get_dist_util().pipeline_parallel_size


def same_sbp(lhs_sbp: Sequence, rhs_sbp: Sequence) -> bool:
    """Whether two sbp signatures are equal (signatures of different length are not)."""
    return len(lhs_sbp) == len(rhs_sbp) and all(a == b for a, b in zip(lhs_sbp, rhs_sbp))


def get_rank() -> int:
    return flow.env.get_rank()


def get_local_rank() -> int:
    return flow.env.get_local_rank()


def get_world_size() -> int:
    return flow.env.get_world_size()


def get_num_nodes() -> int:
    return flow.env.get_node_size()


def is_main_process() -> bool:
    return get_rank() == 0


def is_last_process() -> bool:
    return get_rank() == get_world_size() - 1


def convert_to_distributed_default_setting(module: Any) -> Any:
    """Make a module's local parameters global: broadcast on layer 0's placement.

    Modules that are already global are left alone. Returns the module.
    """
    for value in module.state_dict().values():
        if not value.is_global:
            module.to_global(
                sbp=get_nd_sbp([flow.sbp.broadcast, flow.sbp.broadcast]),
                placement=get_layer_placement(0),
            )
            break
    return module


def _placement_for(tensor: Any, ranks: list | None) -> Any:
    if not ranks:
        return tensor.placement
    return flow.placement(tensor.placement.type, ranks)


def ttol(tensor: Any, pure_local: bool = False, ranks: list | None = None) -> Any:
    """Global tensor to local tensor.

    By default the tensor is broadcast first, so every rank gets the whole value;
    ``pure_local=True`` returns this rank's shard as it is.
    """
    if tensor.is_global:
        placement = _placement_for(tensor, ranks)
        if pure_local:
            tensor = tensor.to_global(placement=placement).to_local()
        else:
            tensor = tensor.to_global(
                sbp=[flow.sbp.broadcast] * len(placement.ranks.shape), placement=placement
            ).to_local()
    return tensor


def tton(tensor: Any, local_only: bool = False, ranks: list | None = None) -> Any:
    """Global (or local) tensor to a numpy array, the whole value unless ``local_only``."""
    if tensor.is_global:
        tensor = ttol(tensor, local_only, ranks)
    return tensor.numpy()


def synchronize() -> None:
    """Barrier across all processes; a no-op in a one-process run."""
    if get_world_size() == 1:
        return
    flow.comm.barrier()


def to_whole_local(tensor: Any) -> Any:
    """The whole value of a global tensor as a local tensor on *every* rank.

    Unlike :func:`ttol`, this also works for ranks outside the tensor's placement
    (a pipeline's last stage holds the logits): the value is broadcast to all
    ranks first. Local tensors are returned unchanged.
    """
    if not tensor.is_global:
        return tensor
    everyone = flow.placement(tensor.placement.type, list(range(get_world_size())))
    return tensor.to_global(placement=everyone, sbp=flow.sbp.broadcast).to_local()


def tensor_to_rank0(tensor: Any, device: str | None = None, to_local: bool = False) -> Any:
    """Move a global tensor to rank 0 (broadcast there), as LiBai's function of that name does.

    With ``to_local=True`` rank 0 gets the whole value as a local tensor (other
    ranks get an empty one).
    """
    if not tensor.is_global:
        return tensor
    device = device or tensor.placement.type
    if device == "cuda" and not cuda_available():
        device = "cpu"
    tensor = tensor.to_global(placement=flow.placement(device, [0]), sbp=flow.sbp.broadcast)
    return tensor.to_local() if to_local else tensor


def all_gather_object(obj: Any) -> list:
    """Gather a picklable object from every rank; returns the list ordered by rank.

    Used to reduce evaluation results that are not plain sums (BLEU needs all the
    sentences). A one-process run returns ``[obj]`` without communicating.
    """
    import numpy as np

    world = get_world_size()
    if world == 1:
        return [obj]
    payload = np.frombuffer(pickle.dumps(obj), dtype=np.uint8)
    size = flow.tensor([payload.size], dtype=flow.int64)
    sizes = [flow.zeros(1, dtype=flow.int64) for _ in range(world)]
    flow.comm.all_gather(sizes, size)
    sizes = [int(s.numpy()[0]) for s in sizes]
    buffer = np.zeros(max(sizes), dtype=np.uint8)
    buffer[: payload.size] = payload
    gathered = [flow.zeros(max(sizes), dtype=flow.uint8) for _ in range(world)]
    flow.comm.all_gather(gathered, flow.tensor(buffer, dtype=flow.uint8))
    return [pickle.loads(t.numpy()[:n].tobytes()) for t, n in zip(gathered, sizes)]
