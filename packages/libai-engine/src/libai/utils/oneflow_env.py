"""The one place that imports OneFlow, and the quirks that go with it.

Every libai module that needs OneFlow does ``from libai.utils.oneflow_env import flow``
(or imports this module first, then ``import oneflow as flow``). Doing the import
here once means:

* ``GLOG_minloglevel`` defaults to ``2`` *before* OneFlow's C++ runtime starts, which
  silences the "CUDA driver not found" warning printed on CPU-only machines (a value
  the user already set is kept);
* ``OPENBLAS_CORETYPE`` defaults to ``Haswell`` on a CPU with AVX2 and FMA (see
  :func:`choose_openblas_coretype`): the OpenBLAS bundled with OneFlow 0.9.0 does not
  know recent CPUs (AMD Zen among them) and falls back to its SSE "Barcelona" kernels,
  which run the model's GEMMs at less than half the speed. A value already set (by the
  user or the machine) is kept, and ``LIBAI_OPENBLAS_CORETYPE=keep`` turns the default
  off. Processes started later (OneFlow's launcher and its workers, data-loader workers)
  inherit the variable;
* the two ways the import is known to fail on these machines turn into an
  :class:`OneFlowImportError` that says what to do, instead of a traceback from deep
  inside OneFlow: numpy 2 (OneFlow 0.9.0 was built against numpy 1) and a Python
  newer than 3.10, where pip installs a placeholder ``oneflow`` that raises on import.

It also answers the device question once: :func:`default_device_type` is ``"cuda"``
only when OneFlow sees a GPU, else ``"cpu"``.
"""

from __future__ import annotations

import logging
import os
import sys

from libai.utils.graph_race_fix import install as install_graph_race_fix

__all__ = [
    "ONEFLOW_VERSION",
    "OneFlowImportError",
    "choose_openblas_coretype",
    "cuda_available",
    "default_device_type",
    "flow",
]

logger = logging.getLogger(__name__)

# Must happen before the first `import oneflow`: glog reads it when the runtime starts.
os.environ.setdefault("GLOG_minloglevel", "2")

# OpenBLAS picks its kernels once, when the library is loaded; Haswell's are the AVX2+FMA ones.
OPENBLAS_CORETYPE_DEFAULT = "Haswell"
# LIBAI_OPENBLAS_CORETYPE: "auto" (the default) or "keep" (never set OPENBLAS_CORETYPE).
_OPT_OUT_VARIABLE = "LIBAI_OPENBLAS_CORETYPE"
_OPT_OUT_VALUES = ("auto", "keep")


def _cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> frozenset:
    """The feature flags of the first CPU listed in ``cpuinfo`` (empty if it cannot be read)."""
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.partition(":")[2].split())
    except OSError:
        pass  # not Linux (or /proc not mounted): nothing is known, so nothing is changed
    return frozenset()


def choose_openblas_coretype(environ=None, cpuinfo: str = "/proc/cpuinfo") -> str | None:
    """Set ``OPENBLAS_CORETYPE=Haswell`` in ``environ`` when that is safe and useful.

    Set only when the variable is unset, ``LIBAI_OPENBLAS_CORETYPE`` is not ``keep``
    and the CPU has both ``avx2`` and ``fma``. Must run before OneFlow (whose OpenBLAS
    reads the variable once, when it is loaded) is imported. Returns the value set,
    or ``None`` when nothing was changed. Raises ``ValueError`` for an unknown value of
    ``LIBAI_OPENBLAS_CORETYPE``.
    """
    environ = os.environ if environ is None else environ
    choice = environ.get(_OPT_OUT_VARIABLE, "auto").strip().lower() or "auto"
    if choice not in _OPT_OUT_VALUES:
        raise ValueError(
            f"{_OPT_OUT_VARIABLE}={environ[_OPT_OUT_VARIABLE]!r} is not understood: use "
            "'auto' (set OPENBLAS_CORETYPE=Haswell on AVX2+FMA CPUs when it is unset) or "
            "'keep' (leave OPENBLAS_CORETYPE alone)"
        )
    if choice == "keep" or "OPENBLAS_CORETYPE" in environ:
        return None
    if not {"avx2", "fma"} <= _cpu_flags(cpuinfo):
        return None
    environ["OPENBLAS_CORETYPE"] = OPENBLAS_CORETYPE_DEFAULT
    logger.debug(
        "OPENBLAS_CORETYPE=%s set for OneFlow's OpenBLAS (CPU has AVX2 and FMA; "
        "%s=keep leaves it unset)",
        OPENBLAS_CORETYPE_DEFAULT,
        _OPT_OUT_VARIABLE,
    )
    return OPENBLAS_CORETYPE_DEFAULT


class OneFlowImportError(ImportError):
    """OneFlow cannot be imported in this environment; the message says why and what to do."""


def _check_numpy() -> None:
    try:
        import numpy
    except ImportError as exc:
        raise OneFlowImportError(
            "OneFlow needs numpy, which is not installed: pip install 'numpy>=1.21,<2'"
        ) from exc
    major = int(numpy.__version__.split(".", 1)[0])
    if major >= 2:
        raise OneFlowImportError(
            f"numpy {numpy.__version__} is installed, but OneFlow 0.9.0 was built against "
            "numpy 1 and fails to import with numpy 2. Install 'numpy>=1.21,<2' in "
            f"{sys.prefix}."
        )


def _import_oneflow():
    _check_numpy()
    py = f"{sys.version_info.major}.{sys.version_info.minor}"
    install_graph_race_fix()  # before the import: it interposes liboneflow's calls (README)
    try:
        import oneflow
    except ModuleNotFoundError as exc:
        if exc.name != "oneflow":
            raise
        raise OneFlowImportError(
            f"OneFlow is not installed for Python {py} ({sys.executable}). "
            "Install it with: pip install 'oneflow==0.9.0' 'nvidia-cudnn-cu11==8.9.*' "
            "'nvidia-cublas-cu11==11.11.*' 'numpy<2' 'protobuf<4' (CPython 3.7 to 3.10 only)."
        ) from exc
    except Exception as exc:
        # The wheel for Python > 3.10 is a placeholder whose import raises; an
        # incomplete install (missing cuDNN/cuBLAS libraries) fails with OSError.
        hint = (
            "oneflow==0.9.0 has real wheels for CPython 3.7 to 3.10 only; on Python "
            f"{py} pip installs a placeholder. Use a Python 3.10 environment."
            if sys.version_info >= (3, 11)
            else "Check that 'nvidia-cudnn-cu11==8.9.*' and 'nvidia-cublas-cu11==11.11.*' "
            "are installed in the same environment (OneFlow's extension loads their "
            "libraries) and that protobuf is <4."
        )
        raise OneFlowImportError(
            f"importing oneflow failed on Python {py} ({sys.executable}): "
            f"{type(exc).__name__}: {exc}. {hint}"
        ) from exc
    return oneflow


if "oneflow" not in sys.modules:  # once loaded, OpenBLAS has chosen: changing it would lie
    choose_openblas_coretype()
flow = _import_oneflow()
ONEFLOW_VERSION: str = flow.__version__


def cuda_available() -> bool:
    """Return whether OneFlow can use a CUDA device in this process."""
    return bool(flow.cuda.is_available())


def default_device_type() -> str:
    """Return ``"cuda"`` when OneFlow sees a GPU, else ``"cpu"``."""
    return "cuda" if cuda_available() else "cpu"
