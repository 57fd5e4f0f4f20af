"""Load the shim into the process before OneFlow, when it fits the installed liboneflow.

:func:`install` is called by :mod:`libai.utils.oneflow_env` right before ``import
oneflow``. It finds liboneflow without importing OneFlow, checks its build id, builds
or reuses the compiled shim and loads it with ``RTLD_GLOBAL``, which puts its two
functions ahead of liboneflow's own in the lookup that binds liboneflow's calls. When
any step does not hold, OneFlow runs unpatched and the reason is logged once.
"""

from __future__ import annotations

import ctypes
import importlib.util
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from libai.utils.graph_race_fix._build import ShimBuildError, build_shim
from libai.utils.graph_race_fix._elf import ElfError, gnu_build_id

__all__ = [
    "DISABLE_ENV",
    "ONEFLOW_0_9_0_BUILD_ID",
    "FixStatus",
    "find_liboneflow",
    "install",
    "stats",
    "status",
]

logger = logging.getLogger(__name__)

# liboneflow of the oneflow==0.9.0 wheels on PyPI (cp37 to cp310, manylinux2014 x86_64).
ONEFLOW_0_9_0_BUILD_ID = "86d122c0ae188a5409d042af2a0b45d794ab6810"
# LIBAI_GRAPH_RACE_FIX=0 turns the fix off (the run is then exposed to the crash).
DISABLE_ENV = "LIBAI_GRAPH_RACE_FIX"
_FALLBACK = "graph runs may crash now and then; `libai-engine run --max-restarts N` resumes them"


@dataclass(frozen=True)
class FixStatus:
    """Whether the fix is active in this process, and why (not)."""

    applied: bool
    reason: str
    liboneflow: Optional[Path] = None
    build_id: Optional[str] = None
    shim: Optional[Path] = None
    compiled_now: bool = False


_status: Optional[FixStatus] = None
_shim: Optional[ctypes.CDLL] = None


def find_liboneflow() -> Optional[Path]:
    """The liboneflow shared library of the installed ``oneflow`` package, without importing it."""
    spec = importlib.util.find_spec("oneflow")
    if spec is None or not spec.submodule_search_locations:
        return None
    package = Path(next(iter(spec.submodule_search_locations)))
    found = sorted((package.parent / "oneflow.libs").glob("liboneflow*.so*"))
    return found[0] if found else None


def _decide(liboneflow: Optional[Path]) -> FixStatus:
    if os.environ.get(DISABLE_ENV, "1") == "0":
        return FixStatus(False, f"turned off by {DISABLE_ENV}=0")
    if "oneflow" in sys.modules:
        return FixStatus(
            False,
            "oneflow was imported before libai.utils.oneflow_env, too late to interpose its calls; "
            f"import libai.utils.oneflow_env first. {_FALLBACK}",
        )
    liboneflow = liboneflow or find_liboneflow()
    if liboneflow is None:
        return FixStatus(False, "no liboneflow found next to the installed oneflow package")
    try:
        build_id = gnu_build_id(liboneflow)
    except (OSError, ElfError) as exc:
        return FixStatus(False, f"cannot read the build id of {liboneflow}: {exc}", liboneflow)
    if build_id != ONEFLOW_0_9_0_BUILD_ID:
        return FixStatus(
            False,
            f"{liboneflow} has build id {build_id}, not {ONEFLOW_0_9_0_BUILD_ID} of OneFlow "
            f"0.9.0 from PyPI, which the fix was written for",
            liboneflow,
            build_id,
        )
    try:
        shim, compiled_now = build_shim(build_id)
    except ShimBuildError as exc:
        return FixStatus(False, f"{exc}. {_FALLBACK}", liboneflow, build_id)
    global _shim
    try:
        _shim = ctypes.CDLL(str(shim), mode=ctypes.RTLD_GLOBAL | os.RTLD_NOW)
    except OSError as exc:
        return FixStatus(False, f"cannot load {shim}: {exc}. {_FALLBACK}", liboneflow, build_id)
    _shim.libai_graph_race_fix_stats.argtypes = [ctypes.POINTER(ctypes.c_long)]
    _shim.libai_graph_race_fix_stats.restype = None
    return FixStatus(True, "active", liboneflow, build_id, shim, compiled_now)


def install(liboneflow: Optional[Path] = None) -> FixStatus:
    """Apply the fix to this process once (later calls return the first status).

    ``liboneflow`` overrides which library's build id is checked (default: the one of
    the installed ``oneflow``). Never raises: a fix that cannot be applied is logged
    as a warning (or at info level when turned off) and OneFlow runs unpatched.
    """
    global _status
    if _status is None:
        _status = _decide(liboneflow)
        if _status.applied:
            logger.debug("OneFlow graph race fix active: %s", _status.shim)
        elif _status.reason.startswith("turned off"):
            logger.info("OneFlow graph race fix %s", _status.reason)
        else:
            logger.warning("OneFlow graph race fix not applied: %s", _status.reason)
    return _status


def status() -> Optional[FixStatus]:
    """The result of :func:`install` in this process, or None if it has not run."""
    return _status


def stats() -> Optional[dict[str, int]]:
    """The shim's counters, or None when it is not loaded.

    ``enqueues`` and ``dequeues`` count liboneflow's calls of ``EnqueueNNGraph`` and
    ``DequeueNNGraph`` (one each per graph step); ``waits`` counts the dequeues that
    came before their enqueue (each one a crash averted); ``deferred`` counts waits
    that timed out (expected 0).
    """
    if _shim is None:
        return None
    out = (ctypes.c_long * 4)()
    _shim.libai_graph_race_fix_stats(out)
    return dict(zip(("enqueues", "dequeues", "waits", "deferred"), out))
