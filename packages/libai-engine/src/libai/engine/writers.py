"""Event writers: the console (with a live progress bar), ``metrics.json`` and TensorBoard.

Writers read the current :class:`~libai.engine.events.EventStorage`; the
:class:`~libai.engine.hooks.PeriodicWriter` hook calls ``write()`` every
``train.log_period`` iterations and once at the end, on the main rank only.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import sys
import time
from typing import Any, Optional

from libai.engine.events import get_event_storage

__all__ = [
    "CommonMetricPrinter",
    "EventWriter",
    "JSONWriter",
    "TensorboardXWriter",
    "default_writers",
]

logger = logging.getLogger(__name__)


class EventWriter:
    """Base class: ``write()`` the storage's new values; ``close()`` at the end."""

    def write(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


class JSONWriter(EventWriter):
    """Append one JSON line per iteration to ``metrics.json``: ``{"iteration": i, name: value, ...}``.

    Values are the raw per-iteration scalars (no smoothing), so the file is the
    exact loss curve. On ``--resume`` the file is appended to; lines of
    iterations at or past ``start_iter`` from the interrupted run are dropped
    first, so each iteration appears once.
    """

    def __init__(self, json_file: str, start_iter: int = 0) -> None:
        self._path = json_file
        if start_iter > 0 and os.path.exists(json_file):
            _truncate_metrics(json_file, start_iter)
        elif start_iter == 0 and os.path.exists(json_file):
            os.remove(json_file)  # a fresh run starts a fresh curve
        self._file = open(json_file, "a")
        self._marks: dict[str, int] = {}

    def write(self) -> None:
        rows, self._marks = get_event_storage().new_scalars(self._marks)
        for it, scalars in rows.items():
            self._file.write(json.dumps({"iteration": it, **scalars}, sort_keys=True) + "\n")
        if rows:
            # flush, not fsync: a killed process loses nothing flushed; fsync per
            # write costs milliseconds and only guards against power loss.
            self._file.flush()

    def close(self) -> None:
        self._file.close()


def _truncate_metrics(path: str, start_iter: int) -> None:
    """Keep the lines of ``path`` whose iteration is below ``start_iter`` (atomically)."""
    kept = []
    with open(path) as f:
        for line in f:
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by the crash that made us resume
            if int(row.get("iteration", -1)) < start_iter:
                kept.append(line if line.endswith("\n") else line + "\n")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.writelines(kept)
    os.replace(tmp, path)


class TensorboardXWriter(EventWriter):
    """Write every scalar of every iteration as a TensorBoard event (tensorboardX)."""

    def __init__(self, log_dir: str, start_iter: int = 0, **kwargs: Any) -> None:
        from tensorboardX import SummaryWriter

        self._writer = SummaryWriter(
            log_dir, purge_step=start_iter if start_iter > 0 else None, **kwargs
        )
        self._marks: dict[str, int] = {}

    def write(self) -> None:
        rows, self._marks = get_event_storage().new_scalars(self._marks)
        for it, scalars in rows.items():
            for name, value in scalars.items():
                self._writer.add_scalar(name, value, it)
        if rows:
            self._writer.flush()

    def close(self) -> None:
        self._writer.close()


def _format_eta(seconds: float) -> str:
    return str(datetime.timedelta(seconds=int(max(seconds, 0))))


class CommonMetricPrinter(EventWriter):
    """Print iteration, ETA, losses, lr and samples/s.

    On a terminal, a rich progress bar shows the same fields live and the
    metric lines print above it; otherwise (a pipe, a file, CI) each write is
    one plain log line. Metric lines also go to the log file.
    """

    def __init__(
        self,
        max_iter: int,
        global_batch_size: Optional[int] = None,
        window_size: int = 20,
        live: Optional[bool] = None,
        console: Any = None,
    ) -> None:
        self._max_iter = max_iter
        self._batch_size = global_batch_size
        self._window = window_size
        self._live = sys.stdout.isatty() if live is None else live
        self._console = console
        self._progress: Any = None
        self._swapped: list[tuple[logging.StreamHandler, Any]] = []
        self._task: Any = None
        self._last_time: Optional[tuple[int, float]] = None
        self._last_printed = -1

    def _ensure_progress(self, start: int) -> None:
        if self._progress is not None or not self._live:
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("[bold]train"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[metrics]}"),
            transient=False,
            console=self._console,
        )
        self._task = self._progress.add_task(
            "train", total=self._max_iter, completed=start, metrics=""
        )
        original = sys.stdout
        self._progress.start()
        # Log lines printed while the bar is live must go through rich's stdout
        # proxy, or they tear the bar: point console handlers at it until close().
        if sys.stdout is not original:
            for handler in _console_handlers(original):
                self._swapped.append((handler, handler.setStream(sys.stdout)))

    def _eta_seconds(self, iteration: int, storage: Any) -> Optional[float]:
        try:
            # The mean, not the median: in graph mode the host waits for the
            # device only every few steps, so single step times are uneven.
            step_time = storage.history("time").avg(1000)
            return step_time * (self._max_iter - iteration - 1)
        except KeyError:
            # Without an IterationTimer, estimate from wall time between writes.
            now = time.perf_counter()
            eta = None
            if self._last_time is not None and iteration > self._last_time[0]:
                per_iter = (now - self._last_time[1]) / (iteration - self._last_time[0])
                eta = per_iter * (self._max_iter - iteration - 1)
            self._last_time = (iteration, now)
            return eta

    def write(self) -> None:
        storage = get_event_storage()
        iteration = storage.iter
        if iteration >= self._max_iter:
            iteration = self._max_iter - 1
        if iteration == self._last_printed or "total_loss" not in storage.histories():
            return  # after_train right after the last step: nothing new to show
        self._last_printed = iteration
        self._ensure_progress(iteration)
        eta = self._eta_seconds(iteration, storage)
        hist = storage.histories()
        parts = []
        losses = [f"{k}: {v.median(self._window):.4g}" for k, v in hist.items() if "loss" in k]
        parts.extend(losses)
        if "lr" in hist:
            parts.append(f"lr: {hist['lr'].latest():.4g}")
        if "time" in hist and self._batch_size:
            step = hist["time"].avg(self._window)
            if step > 0:
                parts.append(f"samples/s: {self._batch_size / step:.1f}")
        if "time" in hist:
            parts.append(f"time: {hist['time'].median(self._window):.4f}")
        metrics = "  ".join(parts)
        eta_str = f"eta: {_format_eta(eta)}  " if eta is not None else ""
        line = f"{eta_str}iteration: {iteration + 1}/{self._max_iter}  {metrics}"
        if self._progress is not None:
            self._progress.update(self._task, completed=iteration + 1, metrics=metrics)
            self._progress.console.print(line, highlight=False)
            _log_to_files_only(line)
        else:
            logger.info(line)

    def close(self) -> None:
        if self._progress is not None:
            for handler, stream in self._swapped:
                handler.setStream(stream)
            self._swapped = []
            self._progress.stop()
            self._progress = None


def _console_handlers(stream: Any) -> list[logging.StreamHandler]:
    """The non-file stream handlers of the ``libai`` loggers that write to ``stream``."""
    found = []
    for name in ("", "libai"):
        for handler in logging.getLogger(name).handlers:
            if (
                isinstance(handler, logging.StreamHandler)
                and not isinstance(handler, logging.FileHandler)
                and handler.stream is stream
            ):
                found.append(handler)
    return found


def _log_to_files_only(line: str) -> None:
    """Send ``line`` to the log file handlers only (the live bar owns the terminal)."""
    record = logger.makeRecord(logger.name, logging.INFO, __file__, 0, line, None, None)
    log: Optional[logging.Logger] = logger
    while log is not None:
        for handler in log.handlers:
            if isinstance(handler, logging.FileHandler) and record.levelno >= handler.level:
                handler.handle(record)
        log = log.parent if log.propagate else None


def default_writers(
    output_dir: str, max_iter: int, global_batch_size: Optional[int] = None, start_iter: int = 0
) -> list[EventWriter]:
    """The writers of a training run: console, ``metrics.json`` and TensorBoard in ``output_dir``."""
    return [
        CommonMetricPrinter(max_iter, global_batch_size),
        JSONWriter(os.path.join(output_dir, "metrics.json"), start_iter=start_iter),
        TensorboardXWriter(output_dir, start_iter=start_iter),
    ]
