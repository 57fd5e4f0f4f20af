"""Logging set-up for a run: console on the main rank, a log file per rank in the output dir.

LiBai's ``setup_logger`` API. Calling it again (a second run in one process, a
test) replaces the handlers it installed before instead of duplicating them.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections import Counter

__all__ = ["log_every_n", "log_every_n_seconds", "log_first_n", "setup_logger"]

_FORMAT = "[%(asctime)s] %(name)s %(levelname)s: %(message)s"
_DATE_FORMAT = "%m/%d %H:%M:%S"
_MARK = "_libai_setup_logger"  # attribute on the handlers we own


def _log_file(output: str, rank: int) -> str:
    if output.endswith((".txt", ".log")):
        filename = output
    else:
        filename = os.path.join(output, "log.txt")
    if rank > 0:
        # Every rank logs to its own file, so processes never interleave lines.
        filename = f"{filename}.rank{rank}"
    return filename


def setup_logger(
    output: str | None = None,
    distributed_rank: int = 0,
    *,
    name: str = "libai",
    abbrev_name: str | None = None,
    level: int = logging.DEBUG,
) -> logging.Logger:
    """Configure and return the logger ``name``.

    Rank 0 logs INFO and above to stdout; every rank writes DEBUG and above to
    ``output/log.txt`` (``log.txt.rank<N>`` for rank N), or to ``output`` itself
    when it ends in ``.txt``/``.log``. ``abbrev_name`` shortens the logger name
    shown on the console. Returns the logger.
    """
    logger = logging.getLogger(name)
    logger.setLevel(level)
    logger.propagate = False
    for handler in [h for h in logger.handlers if getattr(h, _MARK, False)]:
        logger.removeHandler(handler)
        handler.close()

    if distributed_rank == 0:
        console = logging.StreamHandler(stream=sys.stdout)
        console.setLevel(logging.INFO)
        fmt = _FORMAT if abbrev_name is None else _FORMAT.replace("%(name)s", abbrev_name)
        console.setFormatter(logging.Formatter(fmt, datefmt=_DATE_FORMAT))
        setattr(console, _MARK, True)
        logger.addHandler(console)

    if output:
        filename = _log_file(output, distributed_rank)
        os.makedirs(os.path.dirname(filename) or ".", exist_ok=True)
        file_handler = logging.FileHandler(filename, mode="a", encoding="utf-8")
        file_handler.setLevel(logging.DEBUG)
        file_handler.setFormatter(logging.Formatter(_FORMAT, datefmt=_DATE_FORMAT))
        setattr(file_handler, _MARK, True)
        logger.addHandler(file_handler)
    return logger


# -- rate-limited logging (as in LiBai and detectron2) --------------------------------------

_COUNTS: Counter = Counter()
_LAST_LOGGED: dict = {}


def _caller_key() -> tuple:
    frame = sys._getframe(2)
    return (frame.f_code.co_filename, frame.f_lineno)


def log_first_n(
    lvl: int, msg: str, n: int = 1, *, name: str | None = None, key: str = "caller"
) -> None:
    """Log ``msg`` only the first ``n`` times it is reached (per call site, or per message
    with ``key="message"``)."""
    ident = _caller_key() if key == "caller" else (msg,)
    _COUNTS[ident] += 1
    if _COUNTS[ident] <= n:
        logging.getLogger(name or "libai").log(lvl, msg)


def log_every_n(lvl: int, msg: str, n: int = 1, *, name: str | None = None) -> None:
    """Log ``msg`` once every ``n`` calls from the same call site."""
    ident = _caller_key()
    _COUNTS[ident] += 1
    if n > 0 and (_COUNTS[ident] - 1) % n == 0:
        logging.getLogger(name or "libai").log(lvl, msg)


def log_every_n_seconds(lvl: int, msg: str, n: float = 1, *, name: str | None = None) -> None:
    """Log ``msg`` at most once every ``n`` seconds from the same call site."""
    ident = _caller_key()
    now = time.monotonic()
    last = _LAST_LOGGED.get(ident)
    if last is None or now - last >= n:
        logging.getLogger(name or "libai").log(lvl, msg)
        _LAST_LOGGED[ident] = now
