"""Plugin manager (STUB: the registry issue replaces the bodies).

Contract used by the rest of libai.config -- keep this function:

- ``config_dirs()``: list of ``(plugin_name, Path)`` for every directory of
  default configs contributed through the ``libai_config_dirs`` hook, in
  plugin load order.
"""

from __future__ import annotations

from pathlib import Path


def config_dirs() -> list[tuple[str, Path]]:
    return []
