"""The supervisor names the rank that crashed, not a peer that died of the crash."""

from __future__ import annotations

import signal

from libai.engine.supervisor import _first_cause


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
