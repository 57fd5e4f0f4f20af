"""The ``libai-engine`` console script.

It offers every read-only command of ``python -m libai.config`` (``list``,
``plugins``, ``check``, ``show``, ``diff``) and adds ``run`` and ``generate``
(:mod:`libai.inference.cli`). Only those two import OneFlow, and only once one is
chosen, so ``libai-engine --help`` and the read-only commands stay fast.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from libai.config.cli import Command
from libai.config.cli import main as _config_main


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
        "opts",
        nargs=argparse.REMAINDER,
        metavar="KEY=VALUE",
        help="config overrides in Hydra's grammar, e.g. train.train_iter=100 +train.new=1 ~model.x",
    )


def _run(args: argparse.Namespace) -> int:
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
