"""``DefaultTrainer`` and ``default_setup``: everything a run builds from its config.

As LiBai's ``libai/engine/default.py``: the trainer builds the tokenizer, the
loaders, the model, the optimizer, the LR scheduler, the graphs and the
evaluator from the config (each in an overridable ``build_*`` class method),
scales the schedule, resumes from the last checkpoint and trains with the hooks
of :meth:`DefaultTrainer.build_hooks`.
"""

from __future__ import annotations

import logging
import os
import random
from collections import OrderedDict
from typing import Any, Optional

import numpy as np
from libai.config import LazyConfig, instantiate, try_get_key
from libai.config.cli import UserError
from libai.config.errors import ConfigSaveError
from libai.engine import hooks
from libai.engine.batching import check_batch_size, scale_schedule
from libai.engine.data import cycle, fill_engine_args, get_batch
from libai.engine.graph_base import GraphState
from libai.engine.stop import StopSignals, TrainingInterrupted, agreed_signal
from libai.engine.trainer import EagerTrainer, GraphTrainer, TrainerBase
from libai.engine.writers import default_writers
from libai.utils import distributed as dist
from libai.utils import graph_race_fix
from libai.utils.oneflow_env import flow
from omegaconf import OmegaConf

__all__ = ["DefaultTrainer", "default_setup", "set_seed"]

logger = logging.getLogger(__name__)


def set_seed(seed: int) -> None:
    """Seed OneFlow, numpy and ``random`` in this process."""
    flow.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def default_setup(cfg: Any, args: Any = None) -> None:
    """Prepare a run: distributed layout, batch arithmetic, logger, seed, ``config.yaml``.

    - ``train.dist`` becomes the current parallel layout (``setup_dist_util``);
    - the batch sizes are completed (:func:`~libai.engine.batching.check_batch_size`);
    - ``train.output_dir`` is created and the ``libai`` logger writes ``log.txt`` there;
    - each rank is seeded with ``train.seed + rank``;
    - the main rank writes the final config to ``train.output_dir/config.yaml``.
    """
    from libai.utils.logger import setup_logger

    output_dir = try_get_key(cfg, "train.output_dir")
    dist.setup_dist_util(cfg.train.dist)
    check_batch_size(cfg, dist.get_data_parallel_size())
    rank = dist.get_rank()
    if output_dir and dist.is_main_process():
        os.makedirs(output_dir, exist_ok=True)
    setup_logger(output_dir, distributed_rank=rank)
    logger.info("Rank of current process: %d. World size: %d", rank, dist.get_world_size())
    fix = graph_race_fix.status()
    logger.info("OneFlow graph race fix: %s", fix.reason if fix else "not installed")
    if args is not None:
        logger.info("Command line arguments: %s", vars(args) if hasattr(args, "__dict__") else args)
    seed = int(try_get_key(cfg, "train.seed", default=1234))
    set_seed(seed + rank)
    if output_dir and dist.is_main_process():
        path = os.path.join(output_dir, "config.yaml")
        try:
            LazyConfig.save(cfg, path)
        except ConfigSaveError as exc:
            # LiBai configs may hold built objects (e.g. model.cfg.loss_func =
            # SoftTargetCrossEntropy()); the run is still valid, only its record is not.
            logger.warning("config.yaml not written: %s", exc)
        else:
            logger.info("Full config saved to %s", path)


def _give_tokenizer(dataset: Any, tokenizer: Any, path: str) -> None:
    """Hand the built tokenizer to a dataset node, as LiBai's trainer does.

    LiBai sets ``dataset.tokenizer`` whether or not the config spells the key out
    (its ``common/data/bert_dataset.py`` does not): set it when the node has the
    key or its target names a ``tokenizer`` argument.
    """
    if tokenizer is None or not hasattr(dataset, "get"):
        return
    if "tokenizer" in dataset:
        dataset.tokenizer = tokenizer
    elif "_target_" in dataset:
        fill_engine_args(dataset, {"tokenizer": tokenizer}, path=path)


class DefaultTrainer(TrainerBase):
    """The trainer of ``libai-engine run``: built from a config, resumable, with hooks.

    Usage::

        default_setup(cfg)
        trainer = DefaultTrainer(cfg)
        trainer.train()

    Extend it by subclassing a ``build_*`` class method, adding hooks to
    ``cfg.train.hooks``, or from a plugin's ``libai_trainer_hooks(cfg)``.
    """

    def __init__(self, cfg: Any) -> None:
        super().__init__()
        self.cfg = cfg
        self.start_iter = self.resume_start_iter(cfg)
        cfg.train.start_iter = self.start_iter
        cfg.train.consumed_train_samples = self.start_iter * cfg.train.global_batch_size

        self.tokenizer = (
            self.build_tokenizer(cfg) if try_get_key(cfg, "tokenization.tokenizer") else None
        )
        train_loader, valid_loader, test_loader = self.build_train_loader(cfg, self.tokenizer)
        self.train_loader = train_loader
        self.test_loader = [x for x in (valid_loader, test_loader) if x is not None]
        self.test_loader.extend(self.build_test_loader(cfg, self.tokenizer))

        self.auto_scale_hyperparams(cfg, self.train_loader)
        self.max_iter = cfg.train.train_iter

        self.model = self.build_model(cfg)
        self.optimizer = self.build_optimizer(cfg, self.model)
        self.lr_scheduler = self.build_lr_scheduler(cfg, self.optimizer)
        grad_acc = cfg.train.num_accumulation_steps
        graph_enabled = bool(try_get_key(cfg, "graph.enabled", default=False))
        if graph_enabled:
            self.graph_train = self.build_graph(
                cfg, self.model, self.optimizer, self.lr_scheduler, is_train=True
            )
            self.graph_eval = self.build_graph(cfg, self.model, is_train=False)
            self._trainer: TrainerBase = GraphTrainer(
                self.graph_train,
                cycle(self.train_loader),
                grad_acc,
                read_lag=int(try_get_key(cfg, "graph.loss_read_lag", default=0)),
            )
        else:
            self.graph_train = self.graph_eval = None
            self._trainer = EagerTrainer(
                self.model, cycle(self.train_loader), self.optimizer, grad_acc
            )

        self._input_device = (
            try_get_key(cfg, "train.input_placement_device", default="cpu") or "cpu"
        )
        self._global_batch_size = int(cfg.train.global_batch_size)
        self.consumed_train_samples = int(cfg.train.consumed_train_samples)
        self.checkpointer = self.build_checkpointer(cfg)
        self._resumed_extra: dict = {}
        self._stop_signals: Optional[StopSignals] = None
        self.resume_or_load(resume=bool(try_get_key(cfg, "train.resume", default=False)))
        self.register_hooks(self.build_hooks())
        if self._resumed_extra.get("trainer"):
            self.load_state_dict(self._resumed_extra["trainer"])

    # -- resume ---------------------------------------------------------------

    @staticmethod
    def resume_start_iter(cfg: Any) -> int:
        """The first iteration of this run: one past the last checkpoint's on resume, else 0."""
        if not try_get_key(cfg, "train.resume", default=False):
            return 0
        from libai.utils.checkpoint import Checkpointer

        last = Checkpointer.last_checkpoint_iteration(cfg.train.output_dir)
        return 0 if last is None else last + 1

    def build_checkpointer(self, cfg: Any) -> Any:
        """A ``Checkpointer`` over the model, optimizer, scheduler (and graph state) in ``train.output_dir``."""
        from libai.utils.checkpoint import Checkpointer

        extra: dict[str, Any] = {"optimizer": self.optimizer, "lr_scheduler": self.lr_scheduler}
        if self.graph_train is not None:
            # The graph keeps its own optimizer state (moments, step count): save it too,
            # or a resumed graph run restarts Adam from zero.
            extra["graph_state"] = GraphState(self.graph_train)
        max_to_keep = try_get_key(cfg, "train.checkpointer.max_to_keep", default=None)
        return Checkpointer(self.model, cfg.train.output_dir, max_to_keep=max_to_keep, **extra)

    def resume_or_load(self, resume: bool = True) -> None:
        """On ``resume``, load the last checkpoint in ``train.output_dir``; else ``train.load_weight`` (model only)."""
        weight_path = try_get_key(self.cfg, "train.load_weight", default="") or ""
        if resume and self.checkpointer.has_checkpoint():
            extra = self.checkpointer.resume_or_load(None, resume=True)
            self._resumed_extra = dict(extra) if isinstance(extra, dict) else {}
            loaded = (
                int(extra.get("iteration", -1)) + 1 if isinstance(extra, dict) else self.start_iter
            )
            if loaded != self.start_iter:
                raise RuntimeError(
                    f"the last checkpoint in {self.cfg.train.output_dir} says iteration {loaded - 1}, "
                    f"but its name says {self.start_iter - 1}; the output dir is inconsistent"
                )
            logger.info("Resumed from iteration %d", self.start_iter)
        elif resume:
            logger.info(
                "--resume: no checkpoint in %s yet; starting from iteration 0",
                self.cfg.train.output_dir,
            )
        elif weight_path:
            self.checkpointer.load(weight_path, checkpointables=[])

    # -- the loop ---------------------------------------------------------------

    def train(self) -> None:  # type: ignore[override]
        """Train from ``start_iter`` to ``train.train_iter``."""
        if self.start_iter >= self.max_iter:
            logger.info(
                "Training already finished: the last checkpoint in %s is at iteration %d of %d",
                self.cfg.train.output_dir,
                self.start_iter - 1,
                self.max_iter,
            )
            return
        self._trainer.max_iter = self.max_iter
        # SIGTERM/SIGINT: finish the iteration, save, exit 128 + signal (stop.py).
        with StopSignals() as self._stop_signals:
            try:
                super().train(self.start_iter, self.max_iter)
            finally:
                self._stop_signals = None

    def flush_metrics(self) -> None:
        """Read back losses the graph trainer has not read yet (a no-op in eager mode)."""
        flush = getattr(self._trainer, "flush_metrics", None)
        if callable(flush):
            flush()

    def after_step(self) -> None:
        super().after_step()
        received = self._stop_signals.received if self._stop_signals is not None else None
        signum = agreed_signal(received)
        if signum:
            self._save_and_stop(signum)

    def _save_and_stop(self, signum: int) -> None:
        it = self.iter
        extra = hooks.checkpoint_extra(self, it)
        name = f"model_{it:07d}"
        last = getattr(self.checkpointer, "last_saved", None)
        if last is not None and last.get("iteration") == it and last.get("tag_last"):
            name = last["name"]  # the periodic checkpointer has just saved this iteration
        else:
            self.checkpointer.save(name, **extra)
        raise TrainingInterrupted(signum, it, os.path.join(self.cfg.train.output_dir, name))

    def after_train(self) -> None:
        try:
            self.flush_metrics()  # losses of a run that stopped between two reads
        finally:
            super().after_train()

    def run_step(self) -> None:
        self._trainer.iter = self.iter
        self._trainer.run_step(self._get_train_batch, self._input_device)
        self.consumed_train_samples += self._global_batch_size

    def _get_train_batch(self, data: Any, input_placement_device: str = "cpu") -> dict:
        """``get_batch`` with the train loader's ``mixup_func`` (set by image loaders), as LiBai."""
        mixup_func = getattr(self.train_loader, "mixup_func", None)
        return self.get_batch(data, input_placement_device, mixup_func)

    def build_hooks(self) -> list[hooks.HookBase]:
        """The default hooks, in the order they must run after each step.

        Timer first (it times the step); the LR hook records the lr the step used;
        ``BestCheckpointer`` reads the metrics ``EvalHook`` just stored; the periodic
        checkpointer saves after both, so a checkpoint holds the state of every hook
        after that iteration, the best metric included (a run resumed from it does not
        evaluate that iteration again); writers run last so each line holds the eval
        metrics; the loss curve is drawn after the writers closed ``metrics.json``.
        Then ``cfg.train.hooks`` and plugin hooks.
        """
        cfg = self.cfg
        ret: list[hooks.HookBase] = [
            hooks.IterationTimer(),
            hooks.LRScheduler(self.optimizer, self.lr_scheduler),
        ]
        if try_get_key(cfg, "train.evaluation.enabled", default=False) and self.test_loader:

            def test_and_save_results() -> Any:
                model = self.graph_eval if self.graph_eval is not None else self.model
                self._last_eval_results = self.test(self.cfg, self.test_loader, model)
                return self._last_eval_results

            ret.append(hooks.EvalHook(cfg.train.evaluation.eval_period, test_and_save_results))
            ret.append(
                hooks.BestCheckpointer(
                    cfg.train.evaluation.eval_period,
                    self.checkpointer,
                    val_metric=try_get_key(cfg, "train.evaluation.eval_metric", default="Acc@1"),
                    mode=try_get_key(cfg, "train.evaluation.eval_mode", default="max"),
                )
            )
        ret.append(
            hooks.PeriodicCheckpointer(
                self.checkpointer,
                cfg.train.checkpointer.period,
                max_to_keep=try_get_key(cfg, "train.checkpointer.max_to_keep", default=None),
            )
        )
        if dist.is_main_process():
            ret.append(hooks.PeriodicWriter(self.build_writers(), cfg.train.log_period))
            ret.append(hooks.LossCurveWriter(cfg.train.output_dir))
        ret.extend(self.build_config_hooks(cfg))
        ret.extend(self.build_plugin_hooks(cfg))
        return ret

    def build_writers(self) -> list[Any]:
        """Console, ``metrics.json`` and TensorBoard writers in ``train.output_dir``."""
        return default_writers(
            self.cfg.train.output_dir,
            self.max_iter,
            self.cfg.train.global_batch_size,
            start_iter=self.start_iter,
        )

    @staticmethod
    def build_config_hooks(cfg: Any) -> list[hooks.HookBase]:
        """Instantiate ``cfg.train.hooks`` (a list of ``LazyCall(Hook)(...)``), if set."""
        nodes = try_get_key(cfg, "train.hooks", default=None)
        if not nodes:
            return []
        built = []
        for i, node in enumerate(nodes):
            hook = instantiate(node)
            if not isinstance(hook, hooks.HookBase):
                raise TypeError(
                    f"train.hooks[{i}] must build a libai.engine.hooks.HookBase, got {type(hook).__name__}"
                )
            built.append(hook)
        return built

    @staticmethod
    def build_plugin_hooks(cfg: Any) -> list[hooks.HookBase]:
        """The hooks returned by every plugin's ``libai_trainer_hooks(cfg)``, in plugin load order."""
        from libai.config.plugins import trainer_hooks

        return list(trainer_hooks(cfg))

    # -- builders (LiBai's class methods) ---------------------------------------

    @classmethod
    def get_batch(
        cls, data: Any, input_placement_device: str = "cpu", mixup_func: Any = None
    ) -> dict:
        """Turn a loader's batch (or a list of micro batches) into global tensors; see :func:`libai.engine.data.get_batch`."""
        return get_batch(data, input_placement_device, mixup_func)

    @classmethod
    def build_tokenizer(cls, cfg: Any) -> Any:
        """Instantiate ``cfg.tokenization.tokenizer`` and pad ``model`` vocab size when asked."""
        tokenizer = instantiate(cfg.tokenization.tokenizer)
        divisible = try_get_key(cfg, "tokenization.make_vocab_size_divisible_by", default=None)
        if divisible:
            size = tokenizer.padded_vocab_size(divisible, dist.get_tensor_parallel_size())
            if try_get_key(cfg, "model.cfg.vocab_size") is not None:
                cfg.model.cfg.vocab_size = size
            elif try_get_key(cfg, "model.vocab_size") is not None:
                cfg.model.vocab_size = size
            logger.info("Padded the vocabulary to %d (divisible by %d)", size, divisible)
        return tokenizer

    @classmethod
    def build_model(cls, cfg: Any) -> Any:
        """Instantiate ``cfg.model`` and make its parameters global (broadcast over data parallel)."""
        amp = bool(try_get_key(cfg, "train.amp.enabled", default=False)) and bool(
            try_get_key(cfg, "graph.enabled", default=False)
        )
        if try_get_key(cfg, "model.cfg.amp_enabled") is not None:
            cfg.model.cfg.amp_enabled = amp
        elif try_get_key(cfg, "model.amp_enabled") is not None:
            cfg.model.amp_enabled = amp
        # Every rank builds the same initial weights: local parameters made global
        # below are assumed identical across ranks. Per-rank seeds are restored after.
        seed = int(try_get_key(cfg, "train.seed", default=1234))
        flow.manual_seed(seed)
        model = instantiate(cfg.model)
        flow.manual_seed(seed + dist.get_rank())
        if not isinstance(model, flow.nn.Module):
            target = try_get_key(cfg, "model._target_")
            raise UserError(
                f"model: {target!r} built a {type(model).__module__}.{type(model).__qualname__}, "
                "not a oneflow.nn.Module; the engine trains OneFlow modules (forward returning a "
                "dict of losses in training, of predictions in eval)"
            )
        logger.info("Model:\n%s", model)
        dist.convert_to_distributed_default_setting(model)
        return model

    @classmethod
    def build_graph(
        cls,
        cfg: Any,
        model: Any,
        optimizer: Any = None,
        lr_scheduler: Any = None,
        is_train: bool = True,
    ) -> Any:
        """Instantiate ``cfg.graph.train_graph`` / ``eval_graph`` (default: :class:`GraphBase`)."""
        node = try_get_key(
            cfg, "graph.train_graph" if is_train else "graph.eval_graph", default=None
        )
        if node is None:
            node = OmegaConf.create(
                {"_target_": "libai.engine.graph_base.GraphBase", "is_train": is_train}
            )
        kwargs: dict[str, Any] = {"model": model}
        if is_train:
            kwargs.update(
                optimizer=optimizer,
                lr_scheduler=lr_scheduler,
                fp16=bool(try_get_key(cfg, "train.amp.enabled", default=False)),
                activation_checkpoint=bool(
                    try_get_key(cfg, "train.activation_checkpoint.enabled", default=False)
                ),
                zero_optim=bool(try_get_key(cfg, "train.zero_optimization.enabled", default=False)),
                zero_stage=int(try_get_key(cfg, "train.zero_optimization.stage", default=1)),
                grad_acc_steps=int(try_get_key(cfg, "train.num_accumulation_steps", default=1)),
            )
        graph = instantiate(node, **kwargs)
        debug = try_get_key(cfg, "graph.debug", default=-1)
        if debug is not None and debug >= 0:
            graph.debug(debug)
        return graph

    @classmethod
    def build_optimizer(cls, cfg: Any, model: Any) -> Any:
        """Instantiate ``cfg.optim`` with ``params.model`` (or the parameters) supplied."""
        from libai.optim import build_optimizer

        return build_optimizer(cfg.optim, model)

    @classmethod
    def build_lr_scheduler(cls, cfg: Any, optimizer: Any) -> Any:
        """Instantiate ``cfg.train.scheduler`` with ``optimizer``, ``max_iter`` and ``warmup_iter`` supplied."""
        from libai.scheduler import build_lr_scheduler

        cfg.train.scheduler.max_iter = cfg.train.train_iter
        cfg.train.scheduler.warmup_iter = cfg.train.warmup_iter
        return build_lr_scheduler(cfg.train.scheduler, optimizer)

    @classmethod
    def build_train_loader(cls, cfg: Any, tokenizer: Any = None) -> tuple[Any, Any, Any]:
        """Instantiate ``dataloader.train`` (``_recursive_=False``) after filling in the engine's arguments.

        Returns ``(train_loader, valid_loader, test_loader)``; a builder may return
        a single loader, which becomes ``(loader, None, None)``.
        """
        node = cfg.dataloader.train
        values: dict[str, Any] = {
            "train_batch_size": cfg.train.train_micro_batch_size,
            "test_batch_size": try_get_key(
                cfg, "train.test_micro_batch_size", default=cfg.train.train_micro_batch_size
            ),
            "seed": cfg.train.seed,
        }
        if cfg.train.start_iter > 0:
            values["consumed_samples"] = cfg.train.consumed_train_samples
        if "train_val_test_num_samples" in node:
            evaluation = try_get_key(cfg, "train.evaluation.enabled", default=False)
            eval_iter = (
                int(try_get_key(cfg, "train.evaluation.eval_iter", default=1)) if evaluation else 1
            )
            eval_period = int(try_get_key(cfg, "train.evaluation.eval_period", default=1) or 1)
            test_bs = values["test_batch_size"] * dist.get_data_parallel_size()
            values["train_val_test_num_samples"] = [
                int(cfg.train.train_iter * cfg.train.global_batch_size),
                int((cfg.train.train_iter // eval_period + 1) * eval_iter * test_bs),
                int(eval_iter * test_bs),
            ]
        fill_engine_args(node, values, path="dataloader.train")
        datasets = node.get("dataset") if hasattr(node, "get") else None
        for ds in (
            (datasets if OmegaConf.is_list(datasets) else [datasets])
            if datasets is not None
            else []
        ):
            if hasattr(ds, "get") and "seed" in ds:
                ds.seed = cfg.train.seed
            _give_tokenizer(ds, tokenizer, "dataloader.train.dataset")
        built = instantiate(node, _recursive_=False)
        if isinstance(built, (tuple, list)):
            if len(built) != 3:
                raise ValueError(
                    f"dataloader.train must build (train_loader, valid_loader, test_loader), got {len(built)} items"
                )
            return tuple(built)  # type: ignore[return-value]
        return built, None, None

    @classmethod
    def build_test_loader(cls, cfg: Any, tokenizer: Any = None) -> list[Any]:
        """Instantiate each node of ``dataloader.test`` (a list) with ``test_batch_size`` filled in."""
        nodes = try_get_key(cfg, "dataloader.test", default=None)
        if not nodes:
            return []
        loaders = []
        for i, node in enumerate(nodes):
            values = {
                "test_batch_size": try_get_key(
                    cfg, "train.test_micro_batch_size", default=cfg.train.train_micro_batch_size
                ),
                "seed": cfg.train.seed,
            }
            fill_engine_args(node, values, path=f"dataloader.test[{i}]")
            ds = node.get("dataset") if hasattr(node, "get") else None
            _give_tokenizer(ds, tokenizer, f"dataloader.test[{i}].dataset")
            loaders.append(instantiate(node, _recursive_=False))
        return loaders

    @classmethod
    def build_evaluator(cls, cfg: Any) -> Any:
        """Instantiate ``train.evaluation.evaluator``."""
        return instantiate(cfg.train.evaluation.evaluator)

    @classmethod
    def test(cls, cfg: Any, test_loaders: Any, model: Any, evaluator: Any = None) -> dict:
        """Evaluate ``model`` (a module or an eval graph) on each loader for at most ``eval_iter`` steps.

        Returns the evaluator's results (``{dataset_name: results}`` for several loaders).
        """
        from libai.evaluation import inference_on_dataset, print_csv_format

        if not isinstance(test_loaders, (list, tuple)):
            test_loaders = [test_loaders]
        test_batch_size = cfg.train.test_micro_batch_size * dist.get_data_parallel_size()
        eval_iter = int(try_get_key(cfg, "train.evaluation.eval_iter", default=1e5))
        device = try_get_key(cfg, "train.input_placement_device", default="cpu") or "cpu"
        evaluator = evaluator or cls.build_evaluator(cfg)
        module = model.model.to(flow.nn.Module) if isinstance(model, flow.nn.Graph) else model
        was_training = module.training
        # An eval graph is compiled on its first call, in the module's mode at that time.
        module.eval()
        results: dict = OrderedDict()
        try:
            for idx, loader in enumerate(test_loaders):
                name = type(getattr(loader, "dataset", loader)).__name__
                if name in results:
                    name = f"{name}_{idx}"
                res = inference_on_dataset(
                    model, loader, test_batch_size, eval_iter, cls.get_batch, device, evaluator
                )
                results[name] = res
                if dist.is_main_process() and res:
                    logger.info("Evaluation results for %s in csv format:", name)
                    print_csv_format(res)
        finally:
            module.train(was_training)
        if len(results) == 1:
            return list(results.values())[0]
        return results

    @classmethod
    def auto_scale_hyperparams(cls, cfg: Any, data_loader: Any) -> None:
        """Turn ``train_epoch`` and ``warmup_ratio`` into ``train_iter`` and ``warmup_iter``.

        ``train_iter = max(train_iter, ceil(train_epoch * len(dataset) / global_batch_size))``,
        ``warmup_iter = ceil(train_iter * warmup_ratio)``; scheduler milestones
        given as ratios become iterations; ``eval_after_n_epoch`` and
        ``checkpointer.save_model_after_n_epoch`` become periods.
        """
        dataset = getattr(data_loader, "dataset", None)
        try:
            dataset_len: Optional[int] = len(dataset) if dataset is not None else None
        except TypeError:
            dataset_len = None  # an iterable dataset without a length
        train_iter, warmup_iter, iters_per_epoch = scale_schedule(
            int(try_get_key(cfg, "train.train_iter", default=0) or 0),
            float(try_get_key(cfg, "train.train_epoch", default=0) or 0),
            float(try_get_key(cfg, "train.warmup_ratio", default=0) or 0),
            dataset_len,
            cfg.train.global_batch_size,
        )
        cfg.train.train_iter = train_iter
        cfg.train.warmup_iter = warmup_iter
        cfg.train.samples = train_iter * cfg.train.global_batch_size
        milestones = try_get_key(cfg, "train.scheduler.milestones", default=None)
        if milestones:
            if any(m < 0 or m >= 1 for m in milestones):
                raise ValueError(
                    f"train.scheduler.milestones must be increasing ratios in [0, 1) of train_iter, got {list(milestones)}"
                )
            cfg.train.scheduler.milestones = [int(m * train_iter) for m in milestones]
        if iters_per_epoch:
            n = try_get_key(cfg, "train.evaluation.eval_after_n_epoch", default=None)
            if n:
                cfg.train.evaluation.eval_period = int(n * iters_per_epoch)
            n = try_get_key(cfg, "train.checkpointer.save_model_after_n_epoch", default=None)
            if n:
                cfg.train.checkpointer.period = int(n * iters_per_epoch)
        logger.info(
            "Auto-scaling the config to train.train_iter=%d, train.warmup_iter=%d (iterations per epoch: %s)",
            train_iter,
            warmup_iter,
            iters_per_epoch,
        )
