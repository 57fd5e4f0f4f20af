"""Run ``libai-engine run`` in a subprocess, the way a user does, and read its outputs.

Graph runs of OneFlow 0.9.0 on the CPU die now and then with SIGSEGV inside
OneFlow while the host waits for a graph step (README, "Graph runs and the CPU
segfault"). A test must not turn red by that chance: :func:`run_engine` retries
a run once, and only when it died of SIGSEGV, and says so on stderr.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Optional

TESTS_DIR = Path(__file__).resolve().parent
CONFIGS = TESTS_DIR / "configs"


def engine_env(extra: Optional[dict] = None) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS_DIR), env.get("PYTHONPATH", "")]).rstrip(
        os.pathsep
    )
    env.setdefault("GLOG_minloglevel", "2")
    env["PYTHONFAULTHANDLER"] = "1"
    if extra:
        env.update(extra)
    return env


def died_of_sigsegv(returncode: int) -> bool:
    return returncode in (-signal.SIGSEGV, 128 + signal.SIGSEGV)


def run_engine(
    args: list[str],
    cwd: Path,
    *,
    timeout: float = 240,
    retry_on_segv: bool = True,
    env: Optional[dict] = None,
) -> subprocess.CompletedProcess:
    """``python -m libai.engine.cli run ARGS`` in ``cwd``; one retry on SIGSEGV only."""
    cmd = [sys.executable, "-m", "libai.engine.cli", "run", *args]
    proc = subprocess.run(
        cmd, cwd=cwd, env=engine_env(env), capture_output=True, text=True, timeout=timeout
    )
    if retry_on_segv and died_of_sigsegv(proc.returncode):
        print(
            f"note: OneFlow segfaulted (rc={proc.returncode}) in {' '.join(args)}; retrying once",
            file=sys.stderr,
        )
        proc = subprocess.run(
            cmd, cwd=cwd, env=engine_env(env), capture_output=True, text=True, timeout=timeout
        )
    return proc


def check_ok(proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == 0, (
        f"rc={proc.returncode}\nstdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-5000:]}"
    )


def metrics(output_dir: Path) -> list[dict[str, Any]]:
    with open(output_dir / "metrics.json") as f:
        return [json.loads(line) for line in f]


def losses(output_dir: Path, key: str = "total_loss") -> dict[int, float]:
    return {row["iteration"]: row[key] for row in metrics(output_dir) if key in row}
