"""``GraphBase``: the ``nn.Graph`` that trains (or evaluates) a LiBai model.

``cfg.graph.train_graph = LazyCall(GraphBase)(is_train=True)``; the trainer fills
in ``model``, ``optimizer``, ``lr_scheduler`` and the feature switches from the
``train`` namespace (see :func:`libai.engine.default.build_graph`).
``libai.models.utils.GraphBase`` re-exports this class.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

from libai.config import engine_supplied
from libai.utils.oneflow_env import flow

__all__ = ["GraphBase", "GraphState", "refuse_inexact_accumulation"]

logger = logging.getLogger(__name__)

# Modules whose class has one of these names are checkpointed when the model
# offers no `set_activation_checkpoint` of its own (LiBai checkpoints its
# TransformerLayer; the engine may not import libai.layers to isinstance-check it).
ACTIVATION_CHECKPOINT_CLASS_NAMES = frozenset({"TransformerLayer"})


# A model class whose gradients an accumulating nn.Graph computes wrongly sets this
# attribute to the reason (a string); GraphBase then refuses num_accumulation_steps > 1.
GRAPH_ACCUMULATION_UNSUPPORTED = "graph_gradient_accumulation_unsupported"


def refuse_inexact_accumulation(model: Any, steps: int) -> None:
    """Raise ``ValueError`` when ``model``'s class declares that an ``nn.Graph`` accumulating
    gradients over ``steps`` micro batches trains it wrongly (attribute
    ``graph_gradient_accumulation_unsupported``: the reason), naming the settings that work.

    Training silently on wrong gradients is worse than not starting.
    """
    reason = getattr(type(model), GRAPH_ACCUMULATION_UNSUPPORTED, None)
    if not reason:
        return
    raise ValueError(
        f"train.num_accumulation_steps={steps} with graph.enabled=True: "
        f"{type(model).__name__} cannot be trained by an nn.Graph that accumulates gradients "
        f"over micro batches ({reason}). Use graph.enabled=False (eager training accumulates "
        "exactly, also with pipeline_parallel_size > 1), or train.num_accumulation_steps=1 "
        "with a train_micro_batch_size of global_batch_size / data_parallel_size."
    )


@engine_supplied("model", "optimizer", "lr_scheduler")
class GraphBase(flow.nn.Graph):
    """A static graph over ``model``: forward, backward and optimizer step in one call.

    Args:
        model: the ``nn.Module`` (global parameters).
        optimizer, lr_scheduler: required when ``is_train``.
        fp16: AMP (``train.amp.enabled``); OneFlow ignores it on the CPU.
        activation_checkpoint: recompute marked blocks in the backward pass.
        grad_acc_steps: the graph splits each input batch into this many micro
            batches along dim 0 and accumulates their gradients.
        zero_optim, zero_stage: ZeRO optimizer-state sharding.
        is_train: a training graph (loss + backward) or an evaluation graph.
    """

    def __init__(
        self,
        model: Any,
        optimizer: Any = None,
        lr_scheduler: Any = None,
        fp16: bool = False,
        activation_checkpoint: bool = False,
        grad_acc_steps: int = 1,
        zero_optim: bool = False,
        zero_stage: int = 0,
        is_train: bool = True,
        auto_parallel_conf: Optional[Any] = None,
    ) -> None:
        super().__init__()
        if is_train and grad_acc_steps > 1:
            refuse_inexact_accumulation(model, int(grad_acc_steps))
        self.model = model
        self.is_train = is_train
        if is_train:
            if optimizer is None:
                raise ValueError("a training GraphBase needs an optimizer (is_train=True)")
            self.add_optimizer(optimizer, lr_sch=lr_scheduler)
            if fp16:
                self.config.enable_amp(True)
                self.set_grad_scaler(
                    flow.amp.GradScaler(
                        init_scale=65536.0,
                        growth_factor=2.0,
                        backoff_factor=0.5,
                        growth_interval=2000,
                    )
                )
            if grad_acc_steps > 1:
                self.config.set_gradient_accumulation_steps(int(grad_acc_steps))
            if activation_checkpoint:
                self.set_activation_checkpoint()
            if zero_optim:
                self.config.enable_zero(True, stage=int(zero_stage))
            self.set_pipeline_stage_id()
        self.config.allow_fuse_add_to_output(True)
        self.config.allow_fuse_model_update_ops(True)
        self.config.allow_fuse_cast_scale(True)

    def build(self, **kwargs: Any) -> Any:
        if self.is_train:
            loss_dict = self.model(**kwargs)
            losses = sum(v for k, v in loss_dict.items() if "loss" in k)
            losses.backward()
            return loss_dict
        return self.model(**kwargs)

    def set_activation_checkpoint(self) -> None:
        """Mark the model's blocks for activation checkpointing.

        A model class may define ``set_activation_checkpoint(graph_model)`` itself
        (LiBai's protocol); otherwise every ``TransformerLayer`` is marked.
        """
        origin = self.model.to(flow.nn.Module)
        if hasattr(type(origin), "set_activation_checkpoint"):
            type(origin).set_activation_checkpoint(self.model)
            return
        marked = 0
        for block in self.model.modules():
            module = block.to(flow.nn.Module)
            if type(module).__name__ in ACTIVATION_CHECKPOINT_CLASS_NAMES:
                # The `.config.activation_checkpointing` spelling fails in 0.9.0.
                block.to(flow.nn.graph.GraphModule).activation_checkpointing = True
                marked += 1
        if not marked:
            logger.warning(
                "train.activation_checkpoint.enabled is set but the model has no "
                "TransformerLayer and no set_activation_checkpoint(); nothing is recomputed"
            )

    def set_pipeline_stage_id(self) -> None:
        """Let the model assign pipeline stages (LiBai's ``set_pipeline_stage_id`` protocol)."""
        origin = self.model.to(flow.nn.Module)
        if hasattr(type(origin), "set_pipeline_stage_id"):
            type(origin).set_pipeline_stage_id(self.model)


class GraphState:
    """The training graph's own state (optimizer moments, step count) as a checkpointable.

    ``state_dict`` holds the graph's additional variables only (the model's
    parameters are saved with the model); ``load_state_dict`` hands them to the
    graph before its first call, which is when OneFlow accepts them.
    """

    def __init__(self, graph: Any) -> None:
        self._graph = graph

    def state_dict(self) -> dict:
        state = self._graph.state_dict()
        blocks = set(self._graph._blocks)  # module states: saved by the model checkpoint
        return {k: v for k, v in state.items() if k not in blocks}

    def load_state_dict(self, state: dict) -> None:
        self._graph.load_state_dict(dict(state), strict=False)
