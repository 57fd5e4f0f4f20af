"""``libai-engine run``: from a config file to a finished training (or evaluation) run.

Everything the user can get wrong is checked before any model is built, and
reported as :class:`~libai.config.cli.UserError` (message on stderr, exit code
2, no traceback): a missing file or namespace, overrides, unresolvable targets
or bad arguments (the resolve-before-run check), batch sizes that do not fit,
``train.dist`` that does not fit the launched processes, an output dir that
cannot be written, and features OneFlow cannot run on the CPU.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from typing import Any

from libai.config import try_get_key
from libai.config.cli import UserError

__all__ = [
    "REQUIRED_NAMESPACES",
    "fast_dev_run_overrides",
    "prepare_config",
    "run",
    "run_from_args",
]

logger = logging.getLogger(__name__)

REQUIRED_NAMESPACES = ("model", "train", "optim", "dataloader")

# `--fast-dev-run`, as LiBai's tools/train_net.py: a few iterations of everything.
FAST_DEV_RUN = {
    "train.train_epoch": 0,
    "train.train_iter": 20,
    "train.evaluation.eval_period": 10,
    "train.evaluation.eval_iter": 10,
    "train.log_period": 1,
}


def fast_dev_run_overrides(cfg: Any) -> None:
    """Shrink ``cfg`` to a few training and evaluation iterations."""
    for dotted, value in FAST_DEV_RUN.items():
        node = cfg
        *parents, leaf = dotted.split(".")
        for p in parents:
            node = node.get(p) if hasattr(node, "get") else None
            if node is None:
                break
        if node is not None:
            if leaf == "eval_iter":
                value = min(int(node.get(leaf, value) or value), value)
            node[leaf] = value


def _check_namespaces(cfg: Any, path: str) -> None:
    missing = [ns for ns in REQUIRED_NAMESPACES if try_get_key(cfg, ns) is None]
    if missing:
        have = sorted(str(k) for k in cfg.keys()) if hasattr(cfg, "keys") else []
        raise UserError(
            f"{path} lacks the namespace{'s' * (len(missing) > 1)} {', '.join(missing)}; a run config "
            f"needs {', '.join(REQUIRED_NAMESPACES)} (graph is optional). It defines: {', '.join(have) or 'nothing'}"
        )
    if try_get_key(cfg, "train.output_dir") in (None, ""):
        raise UserError(f"{path}: train.output_dir is not set; say where checkpoints and logs go")


def _check_output_dir(output_dir: str) -> None:
    try:
        os.makedirs(output_dir, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=output_dir, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise UserError(
            f"train.output_dir={output_dir!r} cannot be written ({exc.strerror or exc}); "
            "choose a writable directory, e.g. train.output_dir=./output"
        ) from exc


def _check_cpu_features(cfg: Any, world_size: int, has_cuda: bool) -> None:
    """Refuse (or loudly note) what OneFlow 0.9.0 cannot do on the CPU, before building anything."""
    if has_cuda:
        return
    graph = bool(try_get_key(cfg, "graph.enabled", default=False))
    if try_get_key(cfg, "train.zero_optimization.enabled", default=False):
        if not graph:
            logger.warning(
                "train.zero_optimization.enabled only acts in graph mode (graph.enabled=True); ignored"
            )
        elif world_size > 1:
            raise UserError(
                "train.zero_optimization.enabled=True with "
                f"{world_size} processes on the CPU: OneFlow 0.9.0 aborts the process when ZeRO "
                "shards optimizer states across CPU ranks. Set train.zero_optimization.enabled=False "
                "(or run on GPUs)."
            )
    if try_get_key(cfg, "train.amp.enabled", default=False):
        msg = (
            "train.amp.enabled=True, but OneFlow 0.9.0 has no float16/bfloat16 kernels on the CPU: "
            "AMP is a no-op there and this run trains in float32. Set train.amp.enabled=False to "
            "silence this."
        )
        logger.warning(msg)
        print(f"warning: {msg}", file=sys.stderr)


def prepare_config(
    cfg: Any, path: str, *, resume: bool, eval_only: bool, fast_dev_run: bool
) -> None:
    """Check ``cfg`` and apply the command-line switches; raise :class:`UserError` on a problem."""
    _check_namespaces(cfg, path)
    if fast_dev_run:
        fast_dev_run_overrides(cfg)
    cfg.train.resume = bool(resume)
    from libai.config.check import ConfigCheckError, validate

    try:
        validate(cfg)
    except ConfigCheckError as exc:
        raise UserError(f"{path}: {exc}") from exc
    _check_output_dir(str(cfg.train.output_dir))


def run(cfg: Any, args: Any = None, *, eval_only: bool = False) -> Any:
    """Set the run up (:func:`~libai.engine.default.default_setup`) and train, or evaluate when ``eval_only``.

    Returns the trainer (training) or the evaluation results (``eval_only``).
    """
    from libai.engine.batching import BatchSizeError
    from libai.engine.default import DefaultTrainer, default_setup
    from libai.utils import distributed as dist
    from libai.utils.distributed import DistConfigError
    from libai.utils.oneflow_env import cuda_available

    try:
        default_setup(cfg, args)
    except (BatchSizeError, DistConfigError) as exc:
        raise UserError(str(exc)) from exc
    _check_cpu_features(cfg, dist.get_world_size(), cuda_available())
    if eval_only:
        return _evaluate(cfg)
    trainer = DefaultTrainer(cfg)
    trainer.train()
    return trainer


def _evaluate(cfg: Any) -> Any:
    from libai.engine.default import DefaultTrainer
    from libai.utils.checkpoint import Checkpointer

    tokenizer = (
        DefaultTrainer.build_tokenizer(cfg) if try_get_key(cfg, "tokenization.tokenizer") else None
    )
    test_loaders = DefaultTrainer.build_test_loader(cfg, tokenizer)
    if not test_loaders:
        raise UserError(
            "--eval-only needs dataloader.test (a list of test loader builders); the config has none"
        )
    model = DefaultTrainer.build_model(cfg)
    weight = try_get_key(cfg, "train.load_weight", default="") or ""
    checkpointer = Checkpointer(model, cfg.train.output_dir)
    if cfg.train.resume or weight:
        checkpointer.resume_or_load(weight or None, resume=bool(cfg.train.resume))
    else:
        logger.warning(
            "--eval-only without train.load_weight or --resume: evaluating the freshly initialized model"
        )
    if try_get_key(cfg, "graph.enabled", default=False):
        model = DefaultTrainer.build_graph(cfg, model, is_train=False)
    return DefaultTrainer.test(cfg, test_loaders, model)


def run_from_args(args: argparse.Namespace) -> int:
    """The ``run`` command: load, override, check, set up, then train or evaluate. Returns the exit code."""
    # Before the config is executed: a config may import OneFlow itself (the vision ones
    # import flowvision), and OneFlow's environment defaults (GLOG_minloglevel,
    # OPENBLAS_CORETYPE) and the graph race fix only act when set before its first import.
    import libai.utils.oneflow_env  # noqa: F401
    from libai.config.cli._commands import load_config

    opts = []
    # argparse's REMAINDER keeps flags written after the first override; honour them.
    for opt in args.opts or []:
        flag = opt.lstrip("-").replace("-", "_")
        if opt == "--":
            continue
        if opt.startswith("--") and flag in ("resume", "eval_only", "fast_dev_run"):
            setattr(args, flag, True)
        elif opt.startswith("-"):
            raise UserError(
                f"unknown option {opt!r}; run takes --resume, --eval-only, --fast-dev-run and "
                "KEY=VALUE overrides"
            )
        else:
            opts.append(opt)
    cfg = load_config(args.config_file, opts)
    prepare_config(
        cfg,
        args.config_file,
        resume=args.resume,
        eval_only=args.eval_only,
        fast_dev_run=args.fast_dev_run,
    )
    from libai.engine.stop import TrainingInterrupted
    from libai.utils.checkpoint import CheckpointError

    try:
        run(cfg, args, eval_only=args.eval_only)
    except TrainingInterrupted as exc:
        logger.warning("%s", exc)
        print(f"libai-engine run: {exc}", file=sys.stderr)
        return exc.exit_code
    except (FloatingPointError, CheckpointError) as exc:
        # The trainer logged the traceback; the user needs the message.
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
