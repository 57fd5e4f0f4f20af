"""Run ``libai-engine run`` in a subprocess, the way a user does, and read its outputs.

Process handling (own process group, group killed on timeout, one retry only when
a run crashed with a signal) is :mod:`libai.engine.testing`'s, shared by every
test suite of the monorepo; this module adds the engine tests' configs and the
readers of ``metrics.json``.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any, Optional

from libai.engine.testing import check_ok, crash_signal, engine_command, run_process, subprocess_env

__all__ = ["CONFIGS", "check_ok", "crash_signal", "engine_env", "losses", "metrics", "run_engine"]

TESTS_DIR = Path(__file__).resolve().parent
CONFIGS = TESTS_DIR / "configs"


def engine_env(extra: Optional[dict] = None) -> dict:
    """The environment of an engine subprocess: the toy modules (``toy.*``) importable."""
    return subprocess_env([TESTS_DIR], extra)


def run_engine(
    args: list[str],
    cwd: Path,
    *,
    timeout: float = 240,
    crash_retries: int = 1,
    env: Optional[dict] = None,
) -> subprocess.CompletedProcess:
    """``python -m libai.engine.cli run ARGS`` in ``cwd`` (see :func:`libai.engine.testing.run_process`)."""
    return run_process(
        engine_command("run", *args),
        cwd=cwd,
        env=engine_env(env),
        timeout=timeout,
        crash_retries=crash_retries,
    )


def metrics(output_dir: Path) -> list[dict[str, Any]]:
    with open(output_dir / "metrics.json") as f:
        return [json.loads(line) for line in f]


def losses(output_dir: Path, key: str = "total_loss") -> dict[int, float]:
    """``{iteration: value}``; a resumed run's later lines replace the earlier ones."""
    return {row["iteration"]: row[key] for row in metrics(output_dir) if key in row}
