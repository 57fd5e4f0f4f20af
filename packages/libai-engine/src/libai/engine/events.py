"""Per-run metric storage shared by the trainer, its hooks and the writers.

The trainer and hooks *put* scalars (``total_loss``, ``lr``, ``time``, eval
metrics) into the current :class:`EventStorage`; writers *read* them. Every
value keeps the iteration it belongs to, so a writer that runs every
``log_period`` iterations can still write one line per iteration. This module
is pure Python (no OneFlow), so writers and tests can use it on their own.
"""

from __future__ import annotations

from collections import defaultdict, deque
from typing import Any, Optional

__all__ = ["EventStorage", "HistoryBuffer", "get_event_storage"]

_CURRENT_STORAGE_STACK: list[EventStorage] = []


def get_event_storage() -> EventStorage:
    """Return the storage of the training loop that is running.

    Raises:
        RuntimeError: outside ``with EventStorage(...)`` (i.e. outside ``trainer.train()``).
    """
    if not _CURRENT_STORAGE_STACK:
        raise RuntimeError(
            "get_event_storage() was called outside a training loop: it only works "
            "inside `with EventStorage(...)`, which TrainerBase.train() opens"
        )
    return _CURRENT_STORAGE_STACK[-1]


class HistoryBuffer:
    """The ``(value, iteration)`` history of one scalar, bounded to ``max_length``."""

    def __init__(self, max_length: int = 100_000) -> None:
        self._data: deque[tuple[float, int]] = deque(maxlen=max_length)
        self._count = 0
        self._global_sum = 0.0

    def update(self, value: float, iteration: int) -> None:
        self._data.append((value, iteration))
        self._count += 1
        self._global_sum += value

    def latest(self) -> float:
        return self._data[-1][0]

    @property
    def count(self) -> int:
        """How many values were ever put (also those dropped beyond ``max_length``)."""
        return self._count

    def values(self) -> list[tuple[float, int]]:
        return list(self._data)

    def median(self, window_size: int) -> float:
        window = sorted(v for v, _ in list(self._data)[-window_size:])
        n = len(window)
        return window[n // 2] if n % 2 else 0.5 * (window[n // 2 - 1] + window[n // 2])

    def avg(self, window_size: int) -> float:
        window = [v for v, _ in list(self._data)[-window_size:]]
        return sum(window) / len(window)

    def global_avg(self) -> float:
        return self._global_sum / max(self._count, 1)


class EventStorage:
    """Scalars of a training run, indexed by iteration.

    Use as a context manager; :func:`get_event_storage` returns the innermost one.
    """

    def __init__(self, start_iter: int = 0) -> None:
        self._history: dict[str, HistoryBuffer] = defaultdict(HistoryBuffer)
        self._smoothing_hints: dict[str, bool] = {}
        self._latest_scalars: dict[str, tuple[float, int]] = {}
        self._iter = start_iter

    def put_scalar(
        self, name: str, value: Any, smoothing_hint: bool = True, iteration: Optional[int] = None
    ) -> None:
        """Record ``value`` for the current iteration (or for ``iteration``, when it is read later).

        ``smoothing_hint`` tells console writers to show a windowed median (losses,
        timings) rather than the raw value (learning rate, eval metrics).
        """
        value = float(value)
        it = self._iter if iteration is None else int(iteration)
        self._history[name].update(value, it)
        self._latest_scalars[name] = (value, it)
        self._smoothing_hints.setdefault(name, smoothing_hint)

    def put_scalars(self, *, smoothing_hint: bool = True, **kwargs: Any) -> None:
        for name, value in kwargs.items():
            self.put_scalar(name, value, smoothing_hint=smoothing_hint)

    def history(self, name: str) -> HistoryBuffer:
        if name not in self._history:
            raise KeyError(
                f"no scalar named {name!r} in the event storage; have {sorted(self._history)}"
            )
        return self._history[name]

    def histories(self) -> dict[str, HistoryBuffer]:
        return dict(self._history)

    def latest(self) -> dict[str, tuple[float, int]]:
        """Return ``{name: (latest value, its iteration)}``."""
        return dict(self._latest_scalars)

    def latest_with_smoothing_hint(self, window_size: int = 20) -> dict[str, tuple[float, int]]:
        """Like :meth:`latest`, with smoothed scalars replaced by their windowed median."""
        result = {}
        for name, (value, it) in self._latest_scalars.items():
            if self._smoothing_hints.get(name, True):
                value = self._history[name].median(window_size)
            result[name] = (value, it)
        return result

    def smoothing_hints(self) -> dict[str, bool]:
        return dict(self._smoothing_hints)

    def new_scalars(
        self, marks: dict[str, int]
    ) -> tuple[dict[int, dict[str, float]], dict[str, int]]:
        """Return the values put since ``marks``, as ``{iteration: {name: value}}``, and the new marks.

        ``marks`` maps each name to how many of its values a writer has already
        written (start with ``{}``); pass the returned marks next time.
        """
        rows: dict[int, dict[str, float]] = defaultdict(dict)
        new_marks = dict(marks)
        for name, buf in self._history.items():
            fresh = buf.count - marks.get(name, 0)
            if fresh <= 0:
                continue
            for value, it in list(buf._data)[-fresh:]:
                rows[it][name] = value
            new_marks[name] = buf.count
        return dict(sorted(rows.items())), new_marks

    def step(self) -> None:
        """Advance to the next iteration (called by the trainer after each step)."""
        self._iter += 1

    @property
    def iter(self) -> int:
        return self._iter

    @iter.setter
    def iter(self, value: int) -> None:
        self._iter = int(value)

    def __enter__(self) -> EventStorage:
        _CURRENT_STORAGE_STACK.append(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        if _CURRENT_STORAGE_STACK and _CURRENT_STORAGE_STACK[-1] is self:
            _CURRENT_STORAGE_STACK.pop()
