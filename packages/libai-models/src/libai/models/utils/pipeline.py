"""Assign pipeline stages to a model's blocks inside an ``nn.Graph``.

LiBai's protocol: ``GraphBase`` calls ``type(model).set_pipeline_stage_id(graph.model)``;
the model maps each of its blocks to a layer index, whose stage and placement come
from :mod:`libai.utils.distributed`.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from libai.utils import distributed as dist
from libai.utils.oneflow_env import flow


def set_pipeline_stages(graph_model: Any, layer_of: Callable[[Any], Optional[int]]) -> None:
    """Call ``set_stage`` on every block for which ``layer_of(module)`` gives a layer index."""
    dist_util = dist.get_dist_util()
    for block in graph_model.modules():
        layer_idx = layer_of(block.to(flow.nn.Module))
        if layer_idx is not None:
            block.to(flow.nn.graph.GraphModule).set_stage(
                dist_util.get_layer_stage_id(layer_idx), dist.get_layer_placement(layer_idx)
            )


def set_activation_checkpoints(graph_model: Any, block_type: type) -> None:
    """Recompute every ``block_type`` block in the backward pass."""
    for block in graph_model.modules():
        if isinstance(block.to(flow.nn.Module), block_type):
            # The `.config.activation_checkpointing` spelling fails in OneFlow 0.9.0.
            block.to(flow.nn.graph.GraphModule).activation_checkpointing = True
