"""LiBai's import path for the metric storage and writers (``libai.utils.events``).

They live in :mod:`libai.engine.events` and :mod:`libai.engine.writers`; this module
re-exports them so that code written for LiBai (``from libai.utils.events import
get_event_storage``) keeps working.
"""

from libai.engine.events import EventStorage, HistoryBuffer, get_event_storage
from libai.engine.writers import CommonMetricPrinter, EventWriter, JSONWriter, TensorboardXWriter

__all__ = [
    "CommonMetricPrinter",
    "EventStorage",
    "EventWriter",
    "HistoryBuffer",
    "JSONWriter",
    "TensorboardXWriter",
    "get_event_storage",
]
