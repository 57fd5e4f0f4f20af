"""Run a script of this directory in its own process group, killed with its group on timeout."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "llama_script.py"
TIMEOUT = 900

# Worth one retry: OneFlow's CPU graph runtime segfaults now and then (shared/DESIGN.md
# section 5), and another process may take the port picked for the launcher first.
_TRANSIENT = ("SIGSEGV", "Segmentation fault", "Address already in use", "address already in use")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run_once(args: list) -> subprocess.CompletedProcess:
    env = dict(os.environ, GLOG_minloglevel="2", PYTHONPATH=str(HERE))
    proc = subprocess.Popen(
        args,
        cwd=HERE,
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
        raise AssertionError(f"{args} timed out after {TIMEOUT}s:\n{output[-4000:]}") from None
    return subprocess.CompletedProcess(args, proc.returncode, output, "")


def run_script(mode: str, out: Path, nproc: int = 1) -> None:
    """``llama_script.py MODE OUT``, under OneFlow's launcher when ``nproc`` > 1."""
    for _attempt in range(2):
        args = [sys.executable]
        if nproc > 1:
            args += [
                "-m",
                "oneflow.distributed.launch",
                "--nproc_per_node",
                str(nproc),
                "--master_port",
                str(free_port()),
            ]
        proc = _run_once(args + [str(SCRIPT), mode, str(out)])
        if proc.returncode == 0 or not any(m in proc.stdout for m in _TRANSIENT):
            break
    assert proc.returncode == 0, proc.stdout[-4000:]
