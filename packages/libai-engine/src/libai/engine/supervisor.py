"""``libai-engine run --max-restarts N [--nproc-per-node P]``: training that survives crashes.

The supervisor is a small process that never imports OneFlow. It starts the training
(one process, or ``P`` ranks), waits, and when the training died from a signal or
exited with a status other than 0 and 2 (2 is a user error: restarting cannot fix
it), starts it again with ``--resume``, at most ``N`` times. Resume is exact, so a
restarted run has the losses of one that never crashed. Each restart is logged with
its cause and the iteration it resumes from; the exit status is the last attempt's
(``128 + signal`` for a rank killed by a signal, as a shell reports it).

Why our own launcher for ``P > 1`` instead of a supervisor around ``python -m
oneflow.distributed.launch``: when one rank crashes, OneFlow's launcher sends SIGTERM
to the others and exits at once with status 1, without waiting for them and without
saying which rank died of what. The survivors then wait forever in a collective for
the dead rank (they are orphans the launcher no longer watches), and a supervisor
around it sees only "1". Here the supervisor starts the ranks itself with the same
environment OneFlow's launcher gives them (``MASTER_ADDR``, ``MASTER_PORT``,
``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``, ``OMP_NUM_THREADS=1`` unless set), so it
knows each rank's fate, kills all ranks when one crashes, and restarts them all on a
fresh port. The ranks stay in the supervisor's process group (killing that group
kills everything) and die with the supervisor (``PR_SET_PDEATHSIG`` on Linux), so
no rank outlives it; their data-loader workers die with them the same way.
SIGTERM or SIGINT sent to the supervisor is passed to every rank, which finish their
iteration, save a checkpoint and exit with ``128 + signal``; no restart follows. The
same holds when the signal reaches one rank only: it tells its peers (stop.py), they
all save and exit with ``128 + signal``, and the supervisor waits for all of them and
does not restart (a stop was asked for, nothing crashed).

Under ``python -m oneflow.distributed.launch --nproc_per_node P ... run --max-restarts N``
on one machine, rank 0's process becomes this supervisor for all ``P`` ranks (it starts
them anew on a fresh port) and the launcher's other processes exit 0 at once, so the
whole group restarts after a crash (:func:`launcher_group` decides whether it can).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import Optional

from libai.engine.stop import STOP_SIGNALS

__all__ = [
    "Attempt",
    "LauncherGroup",
    "describe_status",
    "launcher_group",
    "rank_environment",
    "supervise",
]

# Status 2 is a user error (a bad config or option): a restart cannot fix it.
NO_RESTART_STATUSES = (0, 2)
SUPERVISED_ENV = "LIBAI_SUPERVISED"
_POLL_SECONDS = 0.2
# After a stop signal, how long the other ranks may take to finish once one rank ended:
# they finish an iteration and a checkpoint; longer means they wait for a dead peer.
STOP_GRACE_SECONDS = 300.0


def _say(message: str) -> None:
    print(f"libai-engine run: {message}", file=sys.stderr, flush=True)


def describe_status(returncode: int) -> str:
    """``"SIGSEGV"`` for a process killed by a signal, ``"exit status 1"`` otherwise."""
    if returncode < 0:
        try:
            return signal.Signals(-returncode).name
        except ValueError:
            return f"signal {-returncode}"
    return f"exit status {returncode}"


def exit_status(returncode: int) -> int:
    """A process's return code as a shell reports it (``128 + signal`` when killed)."""
    return 128 - returncode if returncode < 0 else returncode


def rank_environment(rank: int, world_size: int, port: int) -> dict:
    """The environment OneFlow's launcher gives rank ``rank`` of a one-node run."""
    env = dict(os.environ)
    env.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        WORLD_SIZE=str(world_size),
        RANK=str(rank),
        LOCAL_RANK=str(rank),
    )
    env[SUPERVISED_ENV] = "1"
    if world_size > 1:
        env.setdefault("OMP_NUM_THREADS", "1")  # as OneFlow's launcher: no oversubscription
    return env


@dataclass
class LauncherGroup:
    """This process's place in a group started by OneFlow's launcher."""

    rank: int
    world_size: int
    problem: str  # why the group cannot be supervised from here; "" when it can


def _is_loopback(host: str) -> bool:
    import ipaddress
    import socket

    try:
        return ipaddress.ip_address(socket.gethostbyname(host)).is_loopback
    except (OSError, ValueError):  # unresolvable: certainly not this machine's loopback
        return False


def launcher_group(environ: Mapping[str, str]) -> LauncherGroup:
    """Read the launcher's environment: can rank 0 restart the whole group on its own?

    Only when every rank runs on this machine: the ranks' global and local numbers agree
    (so there is no second node) and the master address is a loopback address (the
    launcher's default, 127.0.0.1).
    """
    rank = int(environ.get("RANK", "0") or 0)
    world_size = int(environ.get("WORLD_SIZE", "1") or 1)
    local_rank, master = environ.get("LOCAL_RANK"), environ.get("MASTER_ADDR", "")
    problem = ""
    if local_rank is None or int(local_rank) != rank:
        problem = f"this rank's RANK={rank} and LOCAL_RANK={local_rank} say it is not on node 0"
    elif not _is_loopback(master):
        problem = f"MASTER_ADDR={master!r} is not this machine's loopback address"
    return LauncherGroup(rank=rank, world_size=world_size, problem=problem)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    """In the child before exec: get SIGKILL when the supervisor dies (Linux only)."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGKILL))


@dataclass
class Attempt:
    """How one attempt ended: the exit status to report and why it ended."""

    status: int
    cause: str  # "" on success; "rank 1: SIGSEGV", "exit status 1", ...
    stopped: bool = False  # the ranks stopped after a stop signal, their state saved


class _Ranks:
    """The rank processes of one attempt; forwards stop signals to them."""

    def __init__(self, command: Sequence[str], nproc: int) -> None:
        port = _free_port() if nproc > 1 else 0
        self.procs: list[subprocess.Popen] = []
        for rank in range(nproc):
            env = rank_environment(rank, nproc, port) if nproc > 1 else dict(os.environ)
            env[SUPERVISED_ENV] = "1"
            self.procs.append(subprocess.Popen(list(command), env=env, preexec_fn=_die_with_parent))

    def signal_all(self, signum: int) -> None:
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.kill(p.pid, signum)
                except ProcessLookupError:
                    pass

    def kill_all(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()  # its data-loader workers follow (they die with their parent)
        for p in self.procs:
            p.wait()

    def wait(self, stopping: _StopRequest) -> Attempt:
        """Wait until every rank ended, or one failed (then kill the others)."""
        failed: Optional[tuple[int, int]] = None
        failed_at = 0.0
        try:
            while True:
                codes = [p.poll() for p in self.procs]
                if failed is None:
                    failed = _first_cause(codes)
                    failed_at = time.monotonic()
                if all(c is not None for c in codes):
                    break
                if failed is not None:
                    rank, code = failed
                    # A stopping rank that saved exits 128 + signal; its peers are
                    # doing the same. Anything else: the others would wait forever.
                    if not _stopped_cleanly(code):
                        break
                    if time.monotonic() - failed_at > STOP_GRACE_SECONDS:
                        break
                time.sleep(_POLL_SECONDS)
        finally:
            self.kill_all()  # ranks a crash left waiting, data-loader workers
        if failed is None:
            return Attempt(0, "")
        rank, code = failed
        who = f"rank {rank} " if len(self.procs) > 1 else ""
        if _stopped_cleanly(code):
            signame = signal.Signals(code - 128).name
            return Attempt(code, f"{who}stopped by {signame}", stopped=True)
        return Attempt(exit_status(code), f"{who}died of {describe_status(code)}")


def _stopped_cleanly(code: int) -> bool:
    """Whether a rank exited as the trainer does after a stop signal: checkpoint
    written, status ``128 + signal`` (a rank *killed* by the signal has ``-signal``)."""
    return code in {128 + int(s) for s in STOP_SIGNALS}


# A rank that crashed takes its peers down with it (an abort or an error in the next
# collective), often within one poll: name the crash, not its echo.
_CRASH_SIGNALS = (signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE)


def _first_cause(codes: Sequence[Optional[int]]) -> Optional[tuple[int, int]]:
    """``(rank, code)`` of the failure to report among ranks that ended in one poll: a
    crash signal first, then any other signal, then an exit status; lowest rank on a tie."""
    failures = [(rank, code) for rank, code in enumerate(codes) if code not in (None, 0)]
    if not failures:
        return None

    def cause_rank(item: tuple[int, int]) -> tuple[int, int]:
        rank, code = item
        signum = -code if code < 0 else code - 128 if code > 128 else 0
        if signum in _CRASH_SIGNALS:
            return (0, rank)
        return (1 if signum else 2, rank)

    return min(failures, key=cause_rank)


class _StopRequest:
    """SIGTERM/SIGINT to the supervisor: pass them to the ranks; no restart afterwards."""

    def __init__(self) -> None:
        self.signum = 0
        self.ranks: Optional[_Ranks] = None

    def handle(self, signum: int, frame: Optional[FrameType]) -> None:
        self.signum = self.signum or signum
        if self.ranks is not None:
            self.ranks.signal_all(signum)


def _resume_iteration(output_dir: Optional[str]) -> str:
    if not output_dir:
        return "the last checkpoint"
    from libai.utils.checkpoint_files import CheckpointMetaError, last_checkpoint_iteration

    try:
        last = last_checkpoint_iteration(output_dir)
    except CheckpointMetaError as exc:
        return f"the last checkpoint ({exc})"
    if last is None:
        return f"iteration 0 (no checkpoint in {output_dir} yet)"
    return f"iteration {last + 1} (the checkpoint of iteration {last} in {output_dir})"


def supervise(
    command: Sequence[str],
    resume_command: Sequence[str],
    *,
    max_restarts: int,
    nproc: int = 1,
    output_dir: Optional[str] = None,
) -> int:
    """Run ``command`` on ``nproc`` ranks; after a crash run ``resume_command`` (the
    same with ``--resume``), at most ``max_restarts`` times. Returns the exit status
    of the last attempt."""
    stop = _StopRequest()
    previous = {sig: signal.signal(sig, stop.handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        restarts = 0
        cmd = command
        while True:
            stop.ranks = _Ranks(cmd, nproc)
            if stop.signum:  # a signal that came while the ranks were being started
                stop.ranks.signal_all(stop.signum)
            attempt = stop.ranks.wait(stop)
            stop.ranks = None
            if attempt.status in NO_RESTART_STATUSES or stop.signum or attempt.stopped:
                return attempt.status
            if restarts >= max_restarts:
                _say(
                    f"training {attempt.cause}; no restart left (--max-restarts {max_restarts}), "
                    f"exiting with status {attempt.status}"
                )
                return attempt.status
            restarts += 1
            _say(
                f"training {attempt.cause}; restart {restarts}/{max_restarts} with --resume "
                f"from {_resume_iteration(output_dir)}"
            )
            cmd = resume_command
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
