import sys
from pathlib import Path

# The toy models and loaders (tests/toy.py) are imported by the test configs as `toy.*`.
sys.path.insert(0, str(Path(__file__).resolve().parent))

import logging

import pytest


@pytest.fixture(autouse=True)
def _restore_libai_loggers():
    """Undo what ``setup_logger`` does to the ``libai`` loggers after each test.

    ``default_setup`` stops the ``libai`` logger from propagating (it has its own
    console and file handlers), which would hide later tests' records from
    ``caplog``; each test starts from the state it found.
    """
    names = ["libai", *[n for n in logging.root.manager.loggerDict if n.startswith("libai.")]]
    saved = {}
    for name in names:
        log = logging.getLogger(name)
        saved[name] = (log.propagate, log.level, list(log.handlers))
    yield
    for name, (propagate, level, handlers) in saved.items():
        log = logging.getLogger(name)
        for handler in [h for h in log.handlers if h not in handlers]:
            log.removeHandler(handler)
            handler.close()
        log.propagate, log.level = propagate, level
    for name in [n for n in logging.root.manager.loggerDict if n.startswith("libai")]:
        if name not in saved:
            log = logging.getLogger(name)
            if isinstance(log, logging.Logger):
                for handler in list(log.handlers):
                    log.removeHandler(handler)
                    handler.close()
                log.propagate = True
