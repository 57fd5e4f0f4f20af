"""A fix for OneFlow 0.9.0's sporadic SIGSEGV in CPU ``nn.Graph`` runs (engine README).

OneFlow starts a graph's job before it records the job in ``LazyJobStreamPolicy``'s
queue; a job that finishes first pops an empty queue and the process crashes.
``lazy_job_queue.c`` replaces the two queue methods so that the pop waits for its
push. :func:`install` (called by :mod:`libai.utils.oneflow_env` before ``import
oneflow``) compiles it once per OneFlow build and loads it, only into OneFlow 0.9.0
from PyPI; ``LIBAI_GRAPH_RACE_FIX=0`` turns it off. ``python -m
libai.utils.graph_race_fix`` says whether it applies here.
"""

from libai.utils.graph_race_fix._build import ShimBuildError, build_shim, cache_dir
from libai.utils.graph_race_fix._elf import ElfError, gnu_build_id
from libai.utils.graph_race_fix._install import (
    DISABLE_ENV,
    ONEFLOW_0_9_0_BUILD_ID,
    FixStatus,
    find_liboneflow,
    install,
    stats,
    status,
)

__all__ = [
    "DISABLE_ENV",
    "ONEFLOW_0_9_0_BUILD_ID",
    "ElfError",
    "FixStatus",
    "ShimBuildError",
    "build_shim",
    "cache_dir",
    "find_liboneflow",
    "gnu_build_id",
    "install",
    "stats",
    "status",
]
