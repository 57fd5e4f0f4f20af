def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "multiprocess: launches 2 OneFlow processes (oneflow.distributed.launch); "
        "deselect with -m 'not multiprocess'",
    )
