"""The training loop: :class:`HookBase`, :class:`TrainerBase` and its two run_steps.

A trainer is a loop over iterations; everything else (LR stepping, checkpoints,
evaluation, writers) is a hook. :class:`EagerTrainer` and :class:`GraphTrainer`
differ only in ``run_step``: the first runs the model eagerly, the second calls
a compiled ``nn.Graph`` (LiBai's two trainers).

One iteration is one optimizer step over the *global* batch in both trainers:
with ``num_accumulation_steps = n`` the eager trainer runs ``n`` micro batches
before stepping, and the graph trainer feeds the ``n`` micro batches concatenated
to a graph that accumulates gradients itself. (LiBai's eager trainer counts micro
batches as iterations instead; counting optimizer steps makes ``train_iter``,
the scheduler and checkpoints mean the same thing in both modes.)
"""

from __future__ import annotations

import logging
import math
import time
import weakref
from typing import Any, Callable, Optional

from libai.engine.events import EventStorage, get_event_storage
from libai.engine.stop import TrainingInterrupted

__all__ = ["EagerTrainer", "GraphTrainer", "HookBase", "TrainerBase"]

logger = logging.getLogger(__name__)


class HookBase:
    """A callback of the training loop.

    The loop calls the hooks like this (``after_train`` runs even when training
    raises)::

        hook.before_train()
        for iter in range(start_iter, max_iter):
            hook.before_step()
            trainer.run_step()
            hook.after_step()
        iter += 1
        hook.after_train()

    ``self.trainer`` is a weak proxy of the trainer, set by ``register_hooks``;
    ``self.trainer.iter`` is the iteration being run (in ``after_train``: the
    number of iterations done).

    A hook that keeps state a resumed run needs (the best metric so far, say)
    returns it from :meth:`state_dict` and takes it back in :meth:`load_state_dict`;
    checkpoints store it (``meta.json``, so plain numbers, strings, lists and dicts).
    """

    trainer: Any = None

    def before_train(self) -> None:
        """Called once before the first iteration."""

    def after_train(self) -> None:
        """Called once after the last iteration, also when training failed."""

    def before_step(self) -> None:
        """Called before each iteration."""

    def after_step(self) -> None:
        """Called after each iteration."""

    def state_dict(self) -> dict:
        """The hook's state to keep in checkpoints (JSON-serializable); none by default."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Take back what :meth:`state_dict` returned (on ``--resume``)."""


def _hook_keys(hooks: list[HookBase]) -> list[str]:
    """A stable key per hook: its class name, with ``#n`` for the n-th repeat of a class."""
    seen: dict[str, int] = {}
    keys = []
    for h in hooks:
        name = type(h).__qualname__
        seen[name] = seen.get(name, 0) + 1
        keys.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return keys


class TrainerBase:
    """An iteration loop with hooks; subclasses implement :meth:`run_step`."""

    def __init__(self) -> None:
        self._hooks: list[HookBase] = []
        self.iter = 0
        self.start_iter = 0
        self.max_iter = 0
        self.storage: Optional[EventStorage] = None

    def register_hooks(self, hooks: list[Optional[HookBase]]) -> None:
        """Append ``hooks`` (``None`` entries are skipped) in the order given.

        Raises:
            TypeError: for an object that is not a :class:`HookBase`.
        """
        hooks = [h for h in hooks if h is not None]
        for h in hooks:
            if not isinstance(h, HookBase):
                raise TypeError(
                    f"training hooks must subclass libai.engine.hooks.HookBase; got "
                    f"{type(h).__module__}.{type(h).__qualname__}"
                )
            # A weak proxy avoids a reference cycle trainer <-> hook, as detectron2 does.
            h.trainer = weakref.proxy(self)
        self._hooks.extend(hooks)

    def train(self, start_iter: int, max_iter: int) -> None:
        """Run iterations ``start_iter .. max_iter - 1`` with the hooks around them."""
        logger.info("Starting training from iteration %d", start_iter)
        self.iter = self.start_iter = start_iter
        self.max_iter = max_iter
        with EventStorage(start_iter) as self.storage:
            try:
                self.before_train()
                for self.iter in range(start_iter, max_iter):
                    self.before_step()
                    self.run_step()
                    self.after_step()
                # `iter` now counts the iterations done, which after_train hooks
                # (final checkpoint, sample text) rely on.
                self.iter = max_iter
            except TrainingInterrupted:
                raise  # a clean stop (SIGTERM/SIGINT), state saved: not an error
            except Exception:
                logger.exception("Exception during training:")
                raise
            finally:
                self.after_train()

    def before_train(self) -> None:
        for h in self._hooks:
            h.before_train()

    def after_train(self) -> None:
        # storage.iter stays at the last iteration run: what after_train hooks put
        # (the final evaluation) belongs to it.
        for h in self._hooks:
            h.after_train()

    def before_step(self) -> None:
        self.storage.iter = self.iter
        for h in self._hooks:
            h.before_step()

    def after_step(self) -> None:
        for h in self._hooks:
            h.after_step()

    def run_step(self) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict:
        """The hooks' states (``{"hooks": {key: state}}``), for checkpoints."""
        states = {k: h.state_dict() for k, h in zip(_hook_keys(self._hooks), self._hooks)}
        return {"hooks": {k: v for k, v in states.items() if v}}

    def load_state_dict(self, state: dict) -> None:
        """Give each hook its state from :meth:`state_dict`; a state without its hook is
        logged and ignored (the hooks of the run changed)."""
        hooks = dict(zip(_hook_keys(self._hooks), self._hooks))
        for key, hook_state in (state or {}).get("hooks", {}).items():
            if key not in hooks:
                logger.warning(
                    "the checkpoint holds state of hook %s, which this run does not have; ignored",
                    key,
                )
                continue
            hooks[key].load_state_dict(hook_state)

    @staticmethod
    def write_metrics(
        loss_dict: dict[str, Any],
        data_time: float,
        prefix: str = "",
        iteration: Optional[int] = None,
    ) -> None:
        """Put the losses (python floats on every rank) and ``data_time`` into the storage.

        ``total_loss`` is the sum of the entries whose key contains ``"loss"``;
        ``iteration`` defaults to the current one.

        Raises:
            FloatingPointError: when the total loss is NaN or infinite (as detectron2);
                the message names the iteration and the non-finite loss terms. Nothing
                is stored then, and training stops before any hook could checkpoint
                the state that produced it.
        """
        storage = get_event_storage()
        terms = {k: v for k, v in loss_dict.items() if "loss" in k}
        total = 0.0
        for v in terms.values():
            total += v
        if not math.isfinite(total):
            it = storage.iter if iteration is None else iteration
            bad = {k: v for k, v in terms.items() if not math.isfinite(v)}
            raise FloatingPointError(
                f"the loss is not finite at iteration {it}: total_loss={total} "
                f"(non-finite terms: {', '.join(f'{k}={v}' for k, v in bad.items())}). "
                "Training stopped and no checkpoint was written from this state; look for "
                "NaN/inf in the data or lower the learning rate, then --resume from the "
                "last checkpoint."
            )
        storage.put_scalar("data_time", data_time, iteration=iteration)
        for k, v in loss_dict.items():
            storage.put_scalar(prefix + k, v, iteration=iteration)
        storage.put_scalar(prefix + "total_loss", total, iteration=iteration)


def _to_floats(loss_dict: dict[str, Any]) -> dict[str, float]:
    """Read loss tensors (global or local) back as python floats, on every rank.

    A global value is made broadcast and read through its local copy with
    ``.numpy()``. Calling ``.item()`` on the global tensor that an ``nn.Graph``
    returned crashes OneFlow 0.9.0 on the CPU now and then with a segmentation
    fault (README, "Graph runs and the CPU segfault").
    """
    from libai.utils.oneflow_env import flow

    out = {}
    for k, v in loss_dict.items():
        if v.is_global:
            v = v.to_global(sbp=[flow.sbp.broadcast] * len(v.sbp)).to_local()
        out[k] = float(v.numpy().astype("float64").mean())
    return out


class EagerTrainer(TrainerBase):
    """Runs the model eagerly; one iteration = ``grad_acc_steps`` micro batches + one optimizer step."""

    def __init__(
        self, model: Any, data_loader: Any, optimizer: Any, grad_acc_steps: int = 1
    ) -> None:
        super().__init__()
        model.train()
        self.model = model
        self.data_loader = data_loader
        self._data_loader_iter = iter(data_loader)
        self.optimizer = optimizer
        self.grad_acc_steps = int(grad_acc_steps)

    def run_step(self, get_batch: Callable[..., dict], input_placement_device: str = "cpu") -> None:
        if not self.model.training:
            raise RuntimeError(
                "the model was switched to eval mode during training (a hook forgot model.train())"
            )
        data_time = 0.0
        sums: dict[str, Any] = {}
        for _ in range(self.grad_acc_steps):
            start = time.perf_counter()
            data = get_batch(next(self._data_loader_iter), input_placement_device)
            data_time += time.perf_counter() - start
            loss_dict = self.model(**data)
            losses = sum(v for k, v in loss_dict.items() if "loss" in k)
            (losses / self.grad_acc_steps).backward()
            for k, v in loss_dict.items():
                v = v.detach()
                sums[k] = v if k not in sums else sums[k] + v
        mean = {k: v / self.grad_acc_steps for k, v in sums.items()}
        if any(getattr(g, "_enable_clip_grad", False) for g in self.optimizer.param_groups):
            self.optimizer.clip_grad()
        self.optimizer.step()
        self.optimizer.zero_grad()
        self.write_metrics(_to_floats(mean), data_time)


class GraphTrainer(TrainerBase):
    """Calls a training ``nn.Graph`` (which steps the optimizer itself) once per iteration.

    After each step the losses are copied on the device (an eager op: the graph
    reuses its output buffers two steps later) and read back through the copy,
    never with ``.item()``. ``read_lag`` delays the read by that many steps (the
    host then waits while later steps are queued). The default 0 reads every
    step at once, as LiBai does: lags made the steps slower on 2 cores (the host
    running ahead competes with OneFlow's compute threads) and did not make
    OneFlow 0.9.0's sporadic CPU segfault rarer (README, "Graph runs and the
    CPU segfault").
    """

    def __init__(
        self, graph: Any, data_loader: Any, grad_acc_steps: int = 1, read_lag: int = 0
    ) -> None:
        super().__init__()
        graph.model.train()
        self.graph = graph
        self.data_loader = data_loader
        self._data_loader_iter = iter(data_loader)
        self.grad_acc_steps = int(grad_acc_steps)
        self.read_lag = max(int(read_lag), 0)
        self._pending: list[tuple[int, dict[str, Any], float]] = []

    def run_step(self, get_batch: Callable[..., dict], input_placement_device: str = "cpu") -> None:
        start = time.perf_counter()
        micro = [next(self._data_loader_iter) for _ in range(self.grad_acc_steps)]
        data = get_batch(micro[0] if len(micro) == 1 else micro, input_placement_device)
        data_time = time.perf_counter() - start
        loss_dict = self.graph(**data)
        # With gradient accumulation the graph returns one value per micro batch.
        self._pending.append((self.iter, {k: v.mean() for k, v in loss_dict.items()}, data_time))
        if self.iter + 1 >= self.max_iter:
            self.flush_metrics()
        elif len(self._pending) > self.read_lag:
            self.flush_metrics(keep=self.read_lag)

    def flush_metrics(self, keep: int = 0) -> None:
        """Read the pending losses back (one host transfer) into the storage, but the newest ``keep``."""
        if len(self._pending) <= keep:
            return
        from libai.utils.oneflow_env import flow

        cut = len(self._pending) - keep
        pending, self._pending = self._pending[:cut], self._pending[cut:]
        keys = list(pending[0][1])
        stacked = flow.stack([flow.stack([d[k] for k in keys]) for _, d, _ in pending])
        if stacked.is_global:
            stacked = stacked.to_global(sbp=[flow.sbp.broadcast] * len(stacked.sbp)).to_local()
        values = stacked.numpy().astype("float64")
        for row, (it, _, data_time) in zip(values, pending):
            self.write_metrics(dict(zip(keys, row.tolist())), data_time, iteration=it)
