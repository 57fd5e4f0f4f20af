"""``libai-engine ARGS`` as a user runs it (process group and timeout: ``_subprocess``)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from _subprocess import _run_once

ENGINE = Path(sys.executable).parent / "libai-engine"


def run_engine(*args: str) -> subprocess.CompletedProcess:
    """``libai-engine ARGS`` (stdout and stderr together in ``.stdout``); one retry when
    OneFlow's CPU graph runtime segfaults (shared/DESIGN.md section 5). Paths in ``args``
    must be absolute: the process runs in this directory."""
    for _attempt in range(2):
        proc = _run_once([str(ENGINE), *args])
        if proc.returncode not in (-signal.SIGSEGV, 128 + signal.SIGSEGV):
            break
    return proc
