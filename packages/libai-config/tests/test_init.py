"""The public surface of libai.config and what importing it costs."""

from __future__ import annotations

import subprocess
import sys

import libai.config as config


def test_public_names():
    for name in (
        "LazyCall",
        "LazyConfig",
        "instantiate",
        "get_config",
        "configurable",
        "try_get_key",
        "hookimpl",
        "engine_supplied",
        "ConfigLoadError",
        "ConfigSaveError",
        "InstantiationError",
        "ConfigNotFoundError",
    ):
        assert getattr(config, name) is not None, name


def test_hookimpl_is_the_pluggy_marker():
    from libai.config import hookimpl
    from libai.config.hookspecs import hookimpl as marker

    assert hookimpl is marker


def test_import_does_not_load_plugin_machinery():
    code = (
        "import sys, libai.config\n"
        "heavy = [m for m in ('pluggy', 'importlib_metadata', 'rich', 'libai.config.registry',"
        " 'libai.config.plugins', 'libai.config._registry_scan', 'libai.config._state')"
        " if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
