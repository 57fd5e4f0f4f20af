"""The supervisor names the rank that crashed, not a peer that died of the crash."""

from __future__ import annotations

import signal

from libai.engine.supervisor import _first_cause, launcher_group


def test_nothing_failed_yet() -> None:
    assert _first_cause([None, None]) is None
    assert _first_cause([0, None]) is None


def test_a_crash_signal_is_named_before_its_echo_in_a_peer() -> None:
    # rank 1 segfaulted; rank 0 aborted in the next collective, seen in the same poll
    assert _first_cause([-signal.SIGABRT, -signal.SIGSEGV]) == (1, -signal.SIGSEGV)
    assert _first_cause([1, -signal.SIGBUS]) == (1, -signal.SIGBUS)


def test_then_any_signal_then_an_exit_status_then_the_lowest_rank() -> None:
    assert _first_cause([1, -signal.SIGTERM]) == (1, -signal.SIGTERM)
    assert _first_cause([1, 1]) == (0, 1)
    assert _first_cause([None, 3, -signal.SIGSEGV, -signal.SIGSEGV]) == (2, -signal.SIGSEGV)


def test_a_one_machine_launcher_group_can_be_supervised_by_rank_0() -> None:
    env = {"WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1", "MASTER_ADDR": "127.0.0.1"}
    group = launcher_group(env)
    assert (group.rank, group.world_size, group.problem) == (1, 2, "")
    assert launcher_group({**env, "MASTER_ADDR": "localhost"}).problem == ""


def test_a_launcher_group_across_machines_cannot() -> None:
    node1 = {"WORLD_SIZE": "4", "RANK": "2", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1"}
    assert "RANK=2 and LOCAL_RANK=0" in launcher_group(node1).problem
    remote = {"WORLD_SIZE": "4", "RANK": "0", "LOCAL_RANK": "0", "MASTER_ADDR": "192.0.2.7"}
    assert "MASTER_ADDR='192.0.2.7'" in launcher_group(remote).problem
    assert "LOCAL_RANK=None" in launcher_group({"WORLD_SIZE": "2", "RANK": "0"}).problem
