"""``libai-engine ARGS`` as a user runs it, in its own process group, killed whole on timeout."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ENGINE = Path(sys.executable).parent / "libai-engine"
TIMEOUT = 1200


def run_engine(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``libai-engine ARGS`` in its own process group (killed whole on timeout); one retry
    when OneFlow's CPU graph runtime segfaults (shared/DESIGN.md section 5)."""
    env = dict(os.environ, GLOG_minloglevel="2")
    for _attempt in range(2):
        proc = subprocess.Popen(
            [str(ENGINE), *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        try:
            output, _ = proc.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            output, _ = proc.communicate()
            pytest.fail(
                f"libai-engine {' '.join(args)} timed out after {TIMEOUT}s:\n{output[-4000:]}"
            )
        if proc.returncode not in (-signal.SIGSEGV, 128 + signal.SIGSEGV):
            break
    return subprocess.CompletedProcess(args, proc.returncode, output, "")
