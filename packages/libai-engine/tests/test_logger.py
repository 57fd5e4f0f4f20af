"""libai.utils.logger, and libai.utils.events (LiBai's import path)."""

from __future__ import annotations

import logging

from libai.utils.logger import log_every_n, log_first_n, setup_logger


def test_main_rank_logs_to_console_and_file(tmp_path, capsys):
    logger = setup_logger(str(tmp_path), distributed_rank=0, name="libai.test_logger")
    logger.info("hello %d", 1)
    logger.debug("details")
    for handler in logger.handlers:
        handler.flush()
    text = (tmp_path / "log.txt").read_text()
    assert "hello 1" in text and "details" in text  # the file gets DEBUG too
    out = capsys.readouterr().out
    assert "hello 1" in out and "details" not in out


def test_other_ranks_write_their_own_file_only(tmp_path, capsys):
    logger = setup_logger(str(tmp_path), distributed_rank=1, name="libai.test_logger_r1")
    logger.info("from rank one")
    for handler in logger.handlers:
        handler.flush()
    assert "from rank one" in (tmp_path / "log.txt.rank1").read_text()
    assert not (tmp_path / "log.txt").exists()
    assert "from rank one" not in capsys.readouterr().out


def test_setting_up_twice_does_not_duplicate_lines(tmp_path):
    setup_logger(str(tmp_path / "a"), name="libai.test_twice")
    logger = setup_logger(str(tmp_path / "b"), name="libai.test_twice")
    logger.info("once")
    for handler in logger.handlers:
        handler.flush()
    assert (tmp_path / "b" / "log.txt").read_text().count("once") == 1
    assert "once" not in (tmp_path / "a" / "log.txt").read_text()
    assert len(logger.handlers) == 2


def test_rate_limited_logging(caplog):
    with caplog.at_level(logging.INFO, logger="libai"):
        for i in range(5):
            log_first_n(logging.INFO, f"first {i}", n=2)
            log_every_n(logging.INFO, f"every {i}", n=2)
    messages = [r.getMessage() for r in caplog.records]
    assert [m for m in messages if m.startswith("first")] == ["first 0", "first 1"]
    assert [m for m in messages if m.startswith("every")] == ["every 0", "every 2", "every 4"]


def test_events_reexport_libai_path():
    from libai.engine.events import EventStorage as engine_storage
    from libai.utils.events import EventStorage

    assert EventStorage is engine_storage
