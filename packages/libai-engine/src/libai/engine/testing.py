"""Run engine subprocesses from tests without hangs, orphans or chance failures.

One helper for every test suite of the monorepo that starts ``libai-engine run``,
OneFlow's launcher or a script in a subprocess (the engine's, the models', the
cross-package tests). It ships with ``libai-engine`` so that the tests of any
package that depends on the engine import it the same way (``from
libai.engine.testing import run_process``), with no ``conftest`` path tricks. It
imports neither OneFlow nor pytest.

What :func:`run_process` guarantees:

- each attempt runs in its own session (process group), so a launcher and all its
  ranks and data-loader workers form one group;
- on timeout the whole group is killed (SIGKILL) and :class:`ProcessTimeout` names
  the command and shows its last output;
- after every attempt, also a successful one, whatever is left of the group is
  killed: no rank survives its launcher;
- an attempt is retried only when it crashed with a signal (SIGSEGV, SIGBUS,
  SIGABRT, SIGILL, SIGFPE) -- OneFlow 0.9.0's sporadic CPU graph segfault (engine
  README) -- or, for a launcher, when a rank did; never on an ordinary failure.
  Each retry is announced on stderr.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Callable, Optional, Union

__all__ = [
    "CRASH_SIGNALS",
    "BackgroundProcess",
    "ProcessTimeout",
    "check_ok",
    "crash_signal",
    "engine_command",
    "free_port",
    "kill_group",
    "launcher_command",
    "run_process",
    "subprocess_env",
]

#: Signals that mean "the process crashed" (as opposed to "was stopped" or "failed").
CRASH_SIGNALS = (signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT, signal.SIGILL, signal.SIGFPE)

# What OneFlow's launcher prints when a rank died of a signal: the CalledProcessError
# "died with <Signals.SIGSEGV: 11>."; our supervisor says "rank 1 died of SIGSEGV".
_LAUNCHER_CRASH = re.compile(r"died (?:with <Signals\.|of )(SIG[A-Z]+)")

Command = Union[Sequence[str], Callable[[], Sequence[str]]]


class ProcessTimeout(AssertionError):
    """A subprocess did not finish in time; its process group was killed."""


def free_port() -> int:
    """A TCP port that was free a moment ago (for a launcher's ``--master_port``)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def subprocess_env(
    pythonpath: Sequence[Union[str, Path]] = (), extra: Optional[Mapping[str, str]] = None
) -> dict:
    """The current environment with ``pythonpath`` prepended, OneFlow's GLOG quiet and
    Python's faulthandler on (a crash prints the Python stack), then ``extra``."""
    env = dict(os.environ)
    paths = [str(p) for p in pythonpath]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    if paths:
        env["PYTHONPATH"] = os.pathsep.join(paths)
    env.setdefault("GLOG_minloglevel", "2")
    env["PYTHONFAULTHANDLER"] = "1"
    env.update(extra or {})
    return env


def engine_command(*args: str) -> list[str]:
    """``python -m libai.engine.cli ARGS`` with this interpreter."""
    return [sys.executable, "-m", "libai.engine.cli", *args]


def launcher_command(nproc: int, *script: str, module: bool = False) -> list[str]:
    """OneFlow's launcher with ``nproc`` local ranks on a fresh port, then ``script``."""
    cmd = [sys.executable, "-m", "oneflow.distributed.launch", "--nproc_per_node", str(nproc)]
    cmd += ["--master_port", str(free_port())]
    return [*cmd, *(["--module"] if module else []), *script]


def crash_signal(returncode: int, output: str = "") -> Optional[signal.Signals]:
    """The crash signal a process died of, or ``None``.

    Recognized: a negative return code (killed by the signal), ``128 + signal`` (a
    shell's way), and a launcher's report that one of its ranks died of one.
    """
    for code in (-returncode, returncode - 128):
        if code in {int(s) for s in CRASH_SIGNALS}:
            return signal.Signals(code)
    if returncode != 0:
        for name in _LAUNCHER_CRASH.findall(output):
            if name in {s.name for s in CRASH_SIGNALS}:
                return signal.Signals[name]
    return None


def kill_group(pgid: int) -> None:
    """SIGKILL every process left in process group ``pgid`` (no error when it is gone)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _attempt(
    cmd: Sequence[str],
    cwd: Optional[Path],
    env: Optional[Mapping],
    timeout: float,
    merge_stderr: bool = False,
    preexec_fn: Optional[Callable[[], None]] = None,
) -> subprocess.CompletedProcess:
    # Output goes to files, not pipes: a process left behind that holds the pipes would
    # keep a reader waiting after the command itself ended.
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(
            list(cmd),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdout=out,
            stderr=subprocess.STDOUT if merge_stderr else err,
            text=True,
            preexec_fn=preexec_fn,
            start_new_session=True,  # its own process group: the launcher, ranks and workers
        )
        timed_out = False
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            kill_group(proc.pid)  # on timeout; and ranks or workers a finished run left behind
            proc.wait()
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if timed_out:
        raise ProcessTimeout(
            f"timed out after {timeout:.0f} s, process group killed: {' '.join(cmd)}\n"
            f"--- stdout ---\n{stdout[-3000:]}\n--- stderr ---\n{stderr[-5000:]}"
        )
    return subprocess.CompletedProcess(list(cmd), proc.returncode, stdout, stderr)


class BackgroundProcess:
    """A process a test watches while it runs (to signal or kill it mid-way).

    It runs in its own process group with stdout discarded and stderr kept in a file
    (:meth:`stderr`); ``preexec_fn`` runs in the child before the command (e.g. to set
    a resource limit); leaving the ``with`` block kills whatever is left of the group::

        with BackgroundProcess(engine_command("run", cfg), env=env) as run:
            ...  # watch the output dir, then run.send_signal(signal.SIGTERM)
            returncode = run.wait(timeout=120)
    """

    def __init__(
        self,
        cmd: Sequence[str],
        *,
        cwd: Union[str, Path, None] = None,
        env: Optional[Mapping[str, str]] = None,
        preexec_fn: Optional[Callable[[], None]] = None,
    ) -> None:
        self.args = list(cmd)
        self._stderr = tempfile.TemporaryFile("w+")
        self.proc = subprocess.Popen(
            self.args,
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
            text=True,
            preexec_fn=preexec_fn,
            start_new_session=True,
        )

    def poll(self) -> Optional[int]:
        return self.proc.poll()

    def send_signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def wait(self, timeout: float) -> int:
        """The return code; on timeout the group is killed and :class:`ProcessTimeout` raised."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.close()
            raise ProcessTimeout(
                f"timed out after {timeout:.0f} s, process group killed: {' '.join(self.args)}\n"
                f"--- stderr ---\n{self.stderr()[-5000:]}"
            ) from None

    def stderr(self) -> str:
        self._stderr.flush()
        self._stderr.seek(0)
        return self._stderr.read()

    def close(self) -> None:
        """Kill what is left of the process group and reap the process."""
        kill_group(self.proc.pid)
        self.proc.wait()

    def __enter__(self) -> BackgroundProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
        self._stderr.close()


def run_process(
    cmd: Command,
    *,
    cwd: Union[str, Path, None] = None,
    env: Optional[Mapping[str, str]] = None,
    timeout: float = 300,
    crash_retries: int = 1,
    before_retry: Optional[Callable[[], None]] = None,
    merge_stderr: bool = False,
    preexec_fn: Optional[Callable[[], None]] = None,
) -> subprocess.CompletedProcess:
    """Run ``cmd`` (a list, or a callable making a fresh one per attempt: a new port)
    in its own process group and return the completed process (text output).

    Retried up to ``crash_retries`` times when it crashed with a signal
    (:func:`crash_signal`); raises :class:`ProcessTimeout` when an attempt takes
    longer than ``timeout`` seconds. ``before_retry`` runs before each retry
    (e.g. to remove what the crashed attempt wrote). With ``merge_stderr`` the
    process's stderr goes to its stdout, in the order written (``.stderr`` is empty).
    ``preexec_fn`` runs in the child before the command (e.g. to set a resource limit).
    """
    attempts = 0
    while True:
        args = list(cmd() if callable(cmd) else cmd)
        proc = _attempt(args, Path(cwd) if cwd else None, env, timeout, merge_stderr, preexec_fn)
        crashed = crash_signal(proc.returncode, proc.stdout + proc.stderr)
        if crashed is None or attempts >= crash_retries:
            return proc
        attempts += 1
        print(
            f"note: {' '.join(args[:6])} ... crashed with {crashed.name} (rc={proc.returncode}); "
            f"retry {attempts}/{crash_retries}",
            file=sys.stderr,
        )
        if before_retry is not None:
            before_retry()


def check_ok(proc: subprocess.CompletedProcess) -> None:
    """Assert that ``proc`` exited 0; the message shows the ends of its output."""
    if proc.returncode != 0:
        raise AssertionError(
            f"rc={proc.returncode}: {' '.join(map(str, proc.args))}\n"
            f"--- stdout ---\n{proc.stdout[-3000:]}\n--- stderr ---\n{proc.stderr[-5000:]}"
        )
