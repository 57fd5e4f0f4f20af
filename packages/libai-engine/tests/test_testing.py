"""libai.engine.testing: subprocesses in their own group, killed on timeout, retried on crashes only."""

from __future__ import annotations

import os
import resource
import signal
import sys
import time

import pytest
from libai.engine.testing import ProcessTimeout, crash_signal, run_process

# Creates the marker, then dies of SIGSEGV the first time; exits 0 the second time.
CRASH_ONCE = """
import os, signal, sys
marker = sys.argv[1]
if not os.path.exists(marker):
    open(marker, "w").close()
    os.kill(os.getpid(), signal.SIGSEGV)
print("second attempt")
"""


def test_crash_signal_reads_return_codes_and_launcher_reports():
    assert crash_signal(-signal.SIGSEGV) is signal.SIGSEGV
    assert crash_signal(128 + signal.SIGABRT) is signal.SIGABRT
    assert crash_signal(1, "died with <Signals.SIGSEGV: 11>.") is signal.SIGSEGV
    assert crash_signal(1, "training rank 1 died of SIGBUS; ...") is signal.SIGBUS
    assert crash_signal(-signal.SIGTERM) is None  # stopped, not crashed
    assert crash_signal(1, "Traceback: ValueError") is None
    assert crash_signal(0, "died with <Signals.SIGSEGV: 11>.") is None


def test_a_crash_is_retried_once_and_said(tmp_path, capsys):
    marker = tmp_path / "marker"
    proc = run_process([sys.executable, "-c", CRASH_ONCE, str(marker)], timeout=60)
    assert proc.returncode == 0 and proc.stdout == "second attempt\n"
    assert "crashed with SIGSEGV" in capsys.readouterr().err


def test_a_failure_is_not_retried(tmp_path):
    counter = tmp_path / "count"
    code = f"open({str(counter)!r}, 'a').write('x'); raise SystemExit(3)"
    proc = run_process([sys.executable, "-c", code], timeout=60)
    assert proc.returncode == 3 and counter.read_text() == "x"


def test_cwd_env_and_merged_output(tmp_path):
    code = (
        "import os, sys\n"
        "print('out', os.getcwd(), flush=True)\n"
        "print('err', os.environ['MARK'], file=sys.stderr, flush=True)\n"
        "print('out again', flush=True)\n"
    )
    env = dict(os.environ, MARK="m42")
    apart = run_process([sys.executable, "-c", code], cwd=tmp_path, env=env, timeout=60)
    assert apart.stdout == f"out {tmp_path.resolve()}\nout again\n" and apart.stderr == "err m42\n"
    merged = run_process(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, timeout=60, merge_stderr=True
    )
    assert merged.returncode == 0 and merged.stderr == ""
    assert merged.stdout == f"out {tmp_path.resolve()}\nerr m42\nout again\n"


def test_preexec_fn_runs_in_the_child():
    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    code = "import resource; print(resource.getrlimit(resource.RLIMIT_FSIZE)[0])"
    proc = run_process([sys.executable, "-c", code], timeout=60, preexec_fn=limited)
    assert proc.returncode == 0 and proc.stdout == "4096\n"
    assert resource.getrlimit(resource.RLIMIT_FSIZE) != (4096, 4096)  # not this process's


def test_crash_retries_zero_returns_the_crash(tmp_path):
    proc = run_process(
        [sys.executable, "-c", CRASH_ONCE, str(tmp_path / "m")], timeout=60, crash_retries=0
    )
    assert proc.returncode == -signal.SIGSEGV


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie waiting for its (gone) parent is dead too
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(")")[-1].split()[0] != "Z"


def test_timeout_kills_the_whole_group_and_leaves_nothing(tmp_path):
    pidfile = tmp_path / "grandchild"
    # the child starts a grandchild that would outlive it, then hangs
    code = (
        "import subprocess, sys, time\n"
        f"p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        f"open({str(pidfile)!r}, 'w').write(str(p.pid))\n"
        "time.sleep(600)\n"
    )
    with pytest.raises(ProcessTimeout, match="timed out after 5 s, process group killed"):
        run_process([sys.executable, "-c", code], timeout=5)
    grandchild = int(pidfile.read_text())
    deadline = time.monotonic() + 30
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(grandchild)


def test_leftovers_of_a_finished_process_are_killed(tmp_path):
    pidfile = tmp_path / "orphan"
    code = (
        "import subprocess, sys\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        f"open({str(pidfile)!r}, 'w').write(str(p.pid))\n"
    )
    proc = run_process([sys.executable, "-c", code], timeout=60)
    assert proc.returncode == 0
    orphan = int(pidfile.read_text())
    deadline = time.monotonic() + 30
    while _alive(orphan) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(orphan)
