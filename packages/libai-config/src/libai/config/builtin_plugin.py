"""libai-config's own plugin: it contributes the default configs it ships.

Loaded through the ``libai.plugins`` entry point exactly as a third party's
plugin is (see ``examples/libai-models-example``), so ``get_config`` finds
``common/train.py`` and friends under the label ``libai-config``.
"""

from __future__ import annotations

from pathlib import Path

from libai.config.hookspecs import hookimpl

CONFIG_DIR = Path(__file__).resolve().parent / "configs"


@hookimpl
def libai_config_dirs() -> list[Path]:
    """The ``configs/`` directory inside this package."""
    return [CONFIG_DIR]
