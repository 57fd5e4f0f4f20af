"""LiBai's ``default_argument_parser``: the command line of a project's own ``train_net.py``.

LiBai projects ship a ``tools/train_net.py`` that starts with
``args = default_argument_parser().parse_args()``; keeping the function here
(where LiBai has it) lets those scripts run unchanged. ``libai-engine run``
offers the same switches. Standard library only: no OneFlow.
"""

from __future__ import annotations

import argparse

__all__ = ["default_argument_parser"]

_EPILOG = """Examples:

Run on a single machine:
    $ python tools/train_net.py --config-file configs/bert_large_pretrain.py

Change some config options:
    $ python tools/train_net.py --config-file cfg.py train.train_iter=100 optim.lr=1e-3

Run on multiple processes or machines with OneFlow's launcher:
    $ python -m oneflow.distributed.launch --nproc_per_node 2 tools/train_net.py \\
        --config-file cfg.py
"""


def default_argument_parser(epilog: str | None = None) -> argparse.ArgumentParser:
    """The parser of LiBai's ``train_net.py``: ``--config-file``, ``--resume``,
    ``--eval-only``, ``--fast-dev-run`` and trailing ``KEY=VALUE`` overrides (``opts``).

    :param epilog: text shown after the options in ``--help`` (default: usage examples).
    """
    parser = argparse.ArgumentParser(
        epilog=_EPILOG if epilog is None else epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config-file", default="", metavar="FILE", help="path to a config file")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="resume from the last checkpoint in train.output_dir (with its data order)",
    )
    parser.add_argument("--eval-only", action="store_true", help="evaluate only, no training")
    parser.add_argument(
        "--fast-dev-run",
        action="store_true",
        help="a few train and eval iterations, to check that everything runs",
    )
    parser.add_argument(
        "opts",
        default=None,
        nargs=argparse.REMAINDER,
        help="config overrides in Hydra's grammar, e.g. train.train_iter=100 optim.lr=1e-3",
    )
    return parser
