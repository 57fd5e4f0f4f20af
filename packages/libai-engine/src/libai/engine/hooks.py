"""The trainer's hooks: timing, LR steps, checkpoints, evaluation, writers, and two extras.

:meth:`libai.engine.default.DefaultTrainer.build_hooks` builds the default list;
``cfg.train.hooks`` (a list of ``LazyCall(SomeHook)(...)``) and plugins'
``libai_trainer_hooks(cfg)`` add more.
"""

from __future__ import annotations

import datetime
import json
import logging
import math
import os
import time
from typing import Any, Callable, Optional

from libai.engine.trainer import HookBase
from libai.engine.writers import EventWriter

__all__ = [
    "BestCheckpointer",
    "EvalHook",
    "HookBase",
    "IterationTimer",
    "LRScheduler",
    "LossCurveWriter",
    "PeriodicCheckpointer",
    "PeriodicWriter",
    "SampleTextHook",
]

logger = logging.getLogger(__name__)


class IterationTimer(HookBase):
    """Put each iteration's wall time as ``time`` and log the total at the end.

    The first ``warmup_iter`` iterations (graph compilation) are left out of the summary.
    """

    def __init__(self, warmup_iter: int = 3) -> None:
        self._warmup_iter = warmup_iter
        self._step_start = 0.0
        self._train_start = 0.0
        self._timed_time = 0.0
        self._timed_iters = 0

    def before_train(self) -> None:
        self._train_start = time.perf_counter()

    def before_step(self) -> None:
        self._step_start = time.perf_counter()

    def after_step(self) -> None:
        seconds = time.perf_counter() - self._step_start
        if self.trainer.iter - self.trainer.start_iter >= self._warmup_iter:
            self._timed_time += seconds
            self._timed_iters += 1
        self.trainer.storage.put_scalar("time", seconds)

    def after_train(self) -> None:
        total = time.perf_counter() - self._train_start
        if self._timed_iters:
            logger.info(
                "Overall training speed: %d iterations in %s (%.4f s / it)",
                self._timed_iters,
                datetime.timedelta(seconds=int(self._timed_time)),
                self._timed_time / self._timed_iters,
            )
        logger.info("Total training time: %s", datetime.timedelta(seconds=int(total)))


class LRScheduler(HookBase):
    """Record the learning rate as ``lr`` and step the scheduler after each iteration.

    In graph mode the graph steps its own copy of the schedule; stepping the
    eager scheduler too keeps the logged ``lr`` and the checkpointed scheduler
    state in step with it.
    """

    def __init__(self, optimizer: Any = None, scheduler: Any = None) -> None:
        self._optimizer = optimizer
        self._scheduler = scheduler

    def before_train(self) -> None:
        self._optimizer = self._optimizer or self.trainer.optimizer
        self._scheduler = self._scheduler or self.trainer.lr_scheduler

    def after_step(self) -> None:
        lr = self._optimizer.param_groups[0]["lr"]
        self.trainer.storage.put_scalar("lr", lr, smoothing_hint=False)
        self._scheduler.step()


class PeriodicCheckpointer(HookBase):
    """Save ``model_{iter:07d}`` every ``period`` iterations and ``model_final`` at the end.

    ``iteration`` stored with a checkpoint is the index of the last iteration it
    includes (LiBai's convention): a resumed run starts at ``iteration + 1``.
    Every rank calls ``save`` (global tensors are gathered to rank 0); the
    checkpointer writes atomically and keeps the newest ``max_to_keep``.
    """

    def __init__(
        self,
        checkpointer: Any,
        period: int,
        max_to_keep: Optional[int] = None,
        file_prefix: str = "model",
    ) -> None:
        self.checkpointer = checkpointer
        self.period = int(period)
        self.file_prefix = file_prefix
        if max_to_keep is not None and getattr(checkpointer, "max_to_keep", None) is None:
            checkpointer.max_to_keep = int(max_to_keep)

    def _extra(self, iteration: int) -> dict[str, Any]:
        return checkpoint_extra(self.trainer, iteration)

    def after_step(self) -> None:
        it = self.trainer.iter
        if self.period > 0 and (it + 1) % self.period == 0 and it + 1 < self.trainer.max_iter:
            self.checkpointer.save(f"{self.file_prefix}_{it:07d}", **self._extra(it))

    def after_train(self) -> None:
        if self.trainer.iter >= self.trainer.max_iter:
            self.checkpointer.save(
                f"{self.file_prefix}_final", **self._extra(self.trainer.max_iter - 1)
            )


def checkpoint_extra(trainer: Any, iteration: int) -> dict[str, Any]:
    """What a training checkpoint stores besides the tensors: ``iteration`` (the last
    one it includes), ``consumed_samples`` and the hooks' states (``trainer``).

    Losses a graph trainer has not read back yet are read first, so a non-finite loss
    stops the run before its state is saved.
    """
    flush = getattr(trainer, "flush_metrics", None)
    if callable(flush):
        flush()
    extra: dict[str, Any] = {"iteration": iteration}
    consumed = getattr(trainer, "consumed_train_samples", None)
    if consumed is not None:
        extra["consumed_samples"] = int(consumed)
    state_dict = getattr(trainer, "state_dict", None)
    if callable(state_dict):
        extra["trainer"] = state_dict()
    return extra


class EvalHook(HookBase):
    """Run ``eval_function`` every ``eval_period`` iterations and after the last one.

    Its result (a possibly nested dict of numbers) is flattened to ``a/b`` names
    and put into the storage at the current iteration.
    """

    def __init__(self, eval_period: int, eval_function: Callable[[], Optional[dict]]) -> None:
        self._period = int(eval_period)
        self._func: Optional[Callable[[], Optional[dict]]] = eval_function

    def _do_eval(self) -> None:
        from libai.utils import distributed as dist

        results = self._func()
        if results:
            if not isinstance(results, dict):
                raise TypeError(
                    f"the evaluation function must return a dict, got {type(results).__name__}"
                )
            flat = _flatten(results)
            for k, v in flat.items():
                try:
                    flat[k] = float(v)
                except (TypeError, ValueError) as exc:
                    raise ValueError(f"evaluation result {k!r} is not a number: {v!r}") from exc
            self.trainer.storage.put_scalars(**flat, smoothing_hint=False)
        # Ranks may finish evaluating at different times; start training again together.
        dist.synchronize()

    def after_step(self) -> None:
        done = self.trainer.iter + 1
        if self._period > 0 and done % self._period == 0 and done != self.trainer.max_iter:
            self._do_eval()

    def after_train(self) -> None:
        # Skip the final evaluation when training failed before the last iteration.
        if self.trainer.iter >= self.trainer.max_iter and self._func is not None:
            self._do_eval()
        self._func = None  # a closure over the trainer: break the cycle


def _flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}/{k}" if prefix else str(k)
        if isinstance(v, dict):
            out.update(_flatten(v, key))
        else:
            out[key] = v
    return out


class BestCheckpointer(HookBase):
    """Save ``model_best`` whenever ``val_metric`` improves (``mode`` "max" or "min").

    Runs right after each evaluation (register it after :class:`EvalHook`). Rank 0
    decides and every rank follows, so all ranks take part in the save. The best
    value and its iteration are part of the trainer's checkpointed state, so after
    ``--resume`` a worse evaluation does not replace ``model_best``.
    """

    def __init__(
        self,
        eval_period: int,
        checkpointer: Any,
        val_metric: str,
        mode: str = "max",
        file_prefix: str = "model_best",
    ) -> None:
        if mode not in ("max", "min"):
            raise ValueError(f"train.evaluation.eval_mode must be 'max' or 'min', got {mode!r}")
        self._period = int(eval_period)
        self._checkpointer = checkpointer
        self._val_metric = val_metric
        self._mode = mode
        self._file_prefix = file_prefix
        self.best_metric: Optional[float] = None
        self.best_iter: Optional[int] = None
        self._warned = False

    def state_dict(self) -> dict:
        return {"best_metric": self.best_metric, "best_iter": self.best_iter}

    def load_state_dict(self, state: dict) -> None:
        self.best_metric = state.get("best_metric")
        self.best_iter = state.get("best_iter")
        if self.best_metric is not None:
            logger.info(
                "Best %s so far: %.5g at iteration %s (from the checkpoint)",
                self._val_metric,
                self.best_metric,
                self.best_iter,
            )

    def _improved(self, value: float) -> bool:
        if self.best_metric is None or math.isnan(self.best_metric):
            return not math.isnan(value)
        return value > self.best_metric if self._mode == "max" else value < self.best_metric

    def _best_checking(self) -> None:
        from libai.utils import distributed as dist

        entry = self.trainer.storage.latest().get(self._val_metric)
        flag = 0.0
        if dist.is_main_process():
            if entry is None:
                if not self._warned:
                    known = sorted(
                        k
                        for k in self.trainer.storage.latest()
                        if k not in ("time", "data_time", "lr")
                    )
                    logger.warning(
                        "train.evaluation.eval_metric=%r is not among the evaluation results %s; "
                        "no best checkpoint is kept",
                        self._val_metric,
                        known,
                    )
                    self._warned = True
            elif self._improved(entry[0]):
                flag = 1.0
        if _broadcast_from_main(flag) > 0.5:
            value, it = entry if entry is not None else (float("nan"), self.trainer.iter)
            if dist.is_main_process():
                logger.info(
                    "New best %s=%.5g at iteration %d (was %s)",
                    self._val_metric,
                    value,
                    it,
                    self.best_metric,
                )
            self.best_metric, self.best_iter = value, it
            # tag_last=False: --resume continues from the newest checkpoint, not the best.
            self._checkpointer.save(
                self._file_prefix,
                tag_last=False,
                iteration=min(self.trainer.iter, self.trainer.max_iter - 1),
            )

    def after_step(self) -> None:
        done = self.trainer.iter + 1
        if self._period > 0 and done % self._period == 0 and done != self.trainer.max_iter:
            self._best_checking()

    def after_train(self) -> None:
        if self.trainer.iter >= self.trainer.max_iter:
            self._best_checking()


def _broadcast_from_main(value: float) -> float:
    """Return rank 0's ``value`` on every rank (a no-op in a single process)."""
    from libai.utils import distributed as dist
    from libai.utils.oneflow_env import flow

    if dist.get_world_size() == 1:
        return value
    placement = flow.placement("cpu", ranks=list(range(dist.get_world_size())))
    mine = value if dist.is_main_process() else 0.0
    t = flow.tensor([mine], dtype=flow.float32).to_global(
        placement=placement, sbp=flow.sbp.partial_sum
    )
    return float(t.to_global(sbp=flow.sbp.broadcast).to_local().numpy()[0])


class PeriodicWriter(HookBase):
    """Call each writer's ``write()`` every ``period`` iterations and at the end, then ``close()``."""

    def __init__(self, writers: list[EventWriter], period: int = 20) -> None:
        for w in writers:
            if not isinstance(w, EventWriter):
                raise TypeError(f"writers must be EventWriter instances, got {type(w).__name__}")
        self._writers = writers
        self._period = int(period)

    def after_step(self) -> None:
        done = self.trainer.iter + 1
        if (self._period > 0 and done % self._period == 0) or done == self.trainer.max_iter:
            for w in self._writers:
                w.write()

    def after_train(self) -> None:
        try:
            # Writers only write what is new: what a failed run measured before it
            # stopped, and the final evaluation's metrics.
            for w in self._writers:
                w.write()
        finally:
            for w in self._writers:
                w.close()


class LossCurveWriter(HookBase):
    """Plot ``total_loss`` from ``metrics.json`` to ``loss_curve.png`` after training (main rank).

    matplotlib is imported only here; without it the plot is skipped with a log line.
    """

    def __init__(
        self,
        output_dir: Optional[str] = None,
        metric: str = "total_loss",
        filename: str = "loss_curve.png",
    ) -> None:
        self._output_dir = output_dir
        self._metric = metric
        self._filename = filename

    def after_train(self) -> None:
        from libai.utils import distributed as dist

        if not dist.is_main_process():
            return
        out_dir = self._output_dir or self.trainer.cfg.train.output_dir
        metrics = os.path.join(out_dir, "metrics.json")
        if not os.path.exists(metrics):
            logger.info("No %s; skipping the loss curve", metrics)
            return
        its, values = [], []
        with open(metrics) as f:
            for line in f:
                row = json.loads(line)
                if self._metric in row:
                    its.append(row["iteration"])
                    values.append(row[self._metric])
        if not its:
            logger.info("No %r in %s; skipping the loss curve", self._metric, metrics)
            return
        try:
            import matplotlib
        except ImportError:
            logger.info("matplotlib is not installed; skipping %s", self._filename)
            return
        matplotlib.use("Agg")  # no display needed
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(its, values)
        ax.set_xlabel("iteration")
        ax.set_ylabel(self._metric)
        ax.set_title("training loss")
        ax.grid(True, alpha=0.3)
        fig.tight_layout()
        path = os.path.join(out_dir, self._filename)
        fig.savefig(path, dpi=100)
        plt.close(fig)
        logger.info("Wrote the loss curve to %s", path)


class SampleTextHook(HookBase):
    """After training, continue ``prompt`` with the trained model and write ``sample.txt``.

    The model must generate (:class:`libai.inference.generation.GenerationMixin`); the
    text comes from :func:`libai.inference.text.generate_text`, the code path of
    ``libai-engine generate``, so this hook reads no model output keys.

    ``temperature=0`` decodes greedily. A positive temperature samples from the
    ``top_k`` most likely tokens (all tokens when ``top_k`` is ``None``) with a seeded
    generator, so the sample is reproducible; small models decoded greedily tend to
    repeat one token, sampling shows better what they learned. ``max_context`` keeps
    the prompt short enough for the model's positions (its last tokens are kept).
    """

    def __init__(
        self,
        prompt: str,
        max_new_tokens: int = 20,
        output_dir: Optional[str] = None,
        temperature: float = 0.0,
        top_k: Optional[int] = None,
        seed: int = 0,
        max_context: Optional[int] = None,
    ) -> None:
        if temperature < 0:
            raise ValueError(f"SampleTextHook: temperature must be >= 0, got {temperature}")
        if top_k is not None and top_k < 1:
            raise ValueError(f"SampleTextHook: top_k must be >= 1 or None, got {top_k}")
        if max_new_tokens < 1:
            raise ValueError(f"SampleTextHook: max_new_tokens must be >= 1, got {max_new_tokens}")
        self.prompt = prompt
        self.max_new_tokens = int(max_new_tokens)
        self._output_dir = output_dir
        self.temperature = float(temperature)
        self.top_k = top_k
        self.seed = int(seed)
        self.max_context = max_context
        self.text: Optional[str] = None

    def generate_kwargs(self) -> dict:
        """The ``generate`` keywords this hook's settings mean."""
        if self.temperature == 0:
            return {"max_new_tokens": self.max_new_tokens, "do_sample": False}
        return {
            "max_new_tokens": self.max_new_tokens,
            "do_sample": True,
            "temperature": self.temperature,
            "top_k": self.top_k or 0,
            "seed": self.seed,
        }

    def after_train(self) -> None:
        if self.trainer.iter < self.trainer.max_iter:
            return  # training failed: nothing to sample
        tokenizer = getattr(self.trainer, "tokenizer", None)
        if tokenizer is None:
            logger.warning(
                "SampleTextHook: the trainer has no tokenizer (cfg.tokenization); no sample"
            )
            return
        from libai.inference.text import generate_text

        prompt = self.prompt
        if self.max_context:
            ids = list(tokenizer.encode(prompt))
            keep = max(self.max_context - self.max_new_tokens, 1)
            if len(ids) > keep:
                prompt = tokenizer.decode(ids[-keep:])
        (result,) = generate_text(self.trainer.model, tokenizer, [prompt], **self.generate_kwargs())
        self.text = result["generated_text"]
        from libai.utils import distributed as dist
        from libai.utils.checkpoint import _write_atomic_text

        if dist.is_main_process():
            out_dir = self._output_dir or self.trainer.cfg.train.output_dir
            _write_atomic_text(os.path.join(out_dir, "sample.txt"), self.text + "\n")
            logger.info("Sample after training:\n%s", self.text)
