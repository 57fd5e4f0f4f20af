"""libai-data's plugin: contributes the package's default configs.

Listed in the ``libai.plugins`` entry-point group; datasets and tokenizers are
registered by plain entry points (``libai.datasets``, ``libai.tokenizers``), so this
module only answers ``libai_config_dirs`` and imports nothing heavy.
"""

from __future__ import annotations

from pathlib import Path

from libai.config import hookimpl

CONFIG_DIR = Path(__file__).resolve().parent / "configs"


@hookimpl
def libai_config_dirs() -> list[Path]:
    """``get_config("common/data/gpt_dataset.py")`` finds the files under ``configs/``."""
    return [CONFIG_DIR]
