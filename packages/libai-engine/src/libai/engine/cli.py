"""The ``libai-engine`` console script.

It offers every read-only command of ``python -m libai.config`` (``list``,
``plugins``, ``check``, ``show``, ``diff``) and adds ``run`` and ``generate``
(:mod:`libai.inference.cli`). Only those two import OneFlow, and only once one is
chosen, so ``libai-engine --help`` and the read-only commands stay fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from libai.config.cli import Command, UserError
from libai.config.cli import main as _config_main

_FLAGS = ("resume", "eval_only", "fast_dev_run")
_VALUE_OPTIONS = ("max_restarts", "nproc_per_node")


def _add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config_file", metavar="CFG", help="experiment config (.py or .yaml)")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue from the last checkpoint in train.output_dir, with the same data order",
    )
    parser.add_argument(
        "--eval-only", action="store_true", help="evaluate train.load_weight (or the model) only"
    )
    parser.add_argument(
        "--fast-dev-run",
        action="store_true",
        help="a few train and eval iterations, to check that everything runs",
    )
    parser.add_argument(
        "--max-restarts",
        type=int,
        default=0,
        metavar="N",
        help="restart training with --resume when it crashes (dies from a signal or exits "
        "with a status other than 0 and 2), at most N times; for long unattended runs",
    )
    parser.add_argument(
        "--nproc-per-node",
        type=int,
        default=1,
        metavar="P",
        help="start P ranks on this machine (as OneFlow's launcher does), supervised as one "
        "group: a crash of any rank restarts all of them (with --max-restarts)",
    )
    parser.add_argument(
        "opts",
        nargs=argparse.REMAINDER,
        metavar="KEY=VALUE",
        help="config overrides in Hydra's grammar, e.g. train.train_iter=100 +train.new=1 ~model.x",
    )


def _take_options(args: argparse.Namespace) -> None:
    """Move run's options written after CFG or an override (argparse's REMAINDER keeps
    them in ``opts``) to their attributes."""
    opts, rest = list(args.opts or []), []
    while opts:
        opt = opts.pop(0)
        name, _, value = opt.lstrip("-").partition("=")
        name = name.replace("-", "_")
        if opt.startswith("--") and name in _FLAGS and not value:
            setattr(args, name, True)
        elif opt.startswith("--") and name in _VALUE_OPTIONS:
            if not value:
                if not opts:
                    raise UserError(f"{opt} needs a number")
                value = opts.pop(0)
            try:
                setattr(args, name, int(value))
            except ValueError:
                raise UserError(f"{opt} needs a whole number, got {value!r}") from None
        else:
            rest.append(opt)
    args.opts = rest


def _child_command(args: argparse.Namespace, *, resume: bool) -> list[str]:
    """``python -m libai.engine.cli run ...`` as given, without the supervisor's options."""
    cmd = [sys.executable, "-u", "-m", "libai.engine.cli"]
    for option in getattr(args, "plugin_options", None) or []:
        cmd += ["-p", option]
    cmd += ["run", args.config_file]
    cmd += [f"--{flag.replace('_', '-')}" for flag in _FLAGS if getattr(args, flag, False)]
    if resume and not args.resume and not args.eval_only:
        cmd.append("--resume")
    return [*cmd, *args.opts]


def _supervise(args: argparse.Namespace) -> int:
    from libai.config import try_get_key
    from libai.config.cli._commands import load_config
    from libai.engine.supervisor import supervise

    if args.max_restarts < 0 or args.nproc_per_node < 1:
        raise UserError(
            f"--max-restarts must be >= 0 and --nproc-per-node >= 1, got "
            f"{args.max_restarts} and {args.nproc_per_node}"
        )
    # Load the config once here (no OneFlow): a user error stops before any rank starts,
    # and the restart log can say where training resumes.
    cfg = load_config(args.config_file, [o for o in args.opts if o != "--"])
    output_dir = try_get_key(cfg, "train.output_dir")
    return supervise(
        _child_command(args, resume=False),
        _child_command(args, resume=True),
        max_restarts=args.max_restarts,
        nproc=args.nproc_per_node,
        output_dir=str(output_dir) if output_dir else None,
    )


def _supervise_under_launcher(args: argparse.Namespace) -> int:
    """``--max-restarts`` under ``python -m oneflow.distributed.launch`` on one machine.

    OneFlow's launcher cannot restart its ranks, so rank 0's process takes the group
    over: it starts and supervises all ``WORLD_SIZE`` ranks itself (the same
    environment, a fresh port; see :mod:`libai.engine.supervisor`), restarting them
    together after a crash, while the launcher's other processes step aside (exit 0).
    Several machines cannot be restarted from one of them: refused, naming the way out.
    """
    from libai.engine.supervisor import launcher_group

    if args.nproc_per_node > 1:
        raise UserError(
            "--nproc-per-node starts the ranks itself; do not combine it with "
            "python -m oneflow.distributed.launch (use one or the other)"
        )
    group = launcher_group(os.environ)
    if group.problem:
        raise UserError(
            f"--max-restarts under python -m oneflow.distributed.launch restarts the ranks of "
            f"one machine only, but {group.problem}. On one machine use "
            "`libai-engine run --nproc-per-node 2 --max-restarts 3 CFG ...`; across machines "
            "restart the job from your scheduler with `libai-engine run --resume`"
        )
    if group.rank != 0:
        print(
            f"libai-engine: rank {group.rank} steps aside: rank 0 starts and supervises all "
            f"{group.world_size} ranks (--max-restarts {args.max_restarts})",
            file=sys.stderr,
        )
        return 0
    # The ranks get the launcher's variables anew (rank_environment), on a fresh port.
    args.nproc_per_node = group.world_size
    return _supervise(args)


def _run(args: argparse.Namespace) -> int:
    _take_options(args)
    from libai.engine.supervisor import SUPERVISED_ENV

    supervised = os.environ.get(SUPERVISED_ENV) == "1"
    if not supervised and (args.max_restarts or args.nproc_per_node > 1):
        if int(os.environ.get("WORLD_SIZE", "1") or 1) > 1:
            return _supervise_under_launcher(args)
        return _supervise(args)
    from libai.engine.launch import run_from_args  # imports OneFlow

    return run_from_args(args)


RUN = Command(
    name="run",
    help="train (or evaluate) an experiment config",
    add_arguments=_add_run_arguments,
    handler=_run,
)


def _add_generate_arguments(parser: argparse.ArgumentParser) -> None:
    from libai.inference.cli import add_generate_arguments  # no OneFlow import

    add_generate_arguments(parser)


def _generate(args: argparse.Namespace) -> int:
    from libai.inference.cli import generate_from_args

    return generate_from_args(args)


GENERATE = Command(
    name="generate",
    help="continue prompts with a trained or Hugging Face model (libai.inference)",
    add_arguments=_add_generate_arguments,
    handler=_generate,
)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``libai-engine``; returns the process exit code."""
    return _config_main(argv, prog="libai-engine", extra_commands=[RUN, GENERATE])


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
