"""The pluggy plugin of libai-models-llama (entry point group ``libai.plugins``).

It only contributes the default config directory, so importing it stays cheap:
``get_config("common/models/llama.py")`` and ``get_config("llama/sft.py")`` find ours.
"""

from __future__ import annotations

from pathlib import Path

from libai.config.hookspecs import hookimpl

CONFIG_DIR = Path(__file__).resolve().parent / "configs"


@hookimpl
def libai_config_dirs() -> list[Path]:
    """Default configs shipped with the plugin."""
    return [CONFIG_DIR]
