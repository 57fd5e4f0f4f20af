"""``get_config("common/models/bert.py")``: default configs shipped by installed packages.

Directories are searched in this order, first match wins:

1. each directory in the ``LIBAI_CONFIG_PATH`` environment variable
   (``os.pathsep``-separated), labelled ``LIBAI_CONFIG_PATH``;
2. the directories plugins contribute through the ``libai_config_dirs`` hook,
   in plugin load order, labelled with the plugin's name;
3. libai-config's own ``configs/`` directory (``common/train.py``), labelled
   ``libai-config``, unless a plugin already contributed it.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any

from .errors import ConfigNotFoundError

ENV_VAR = "LIBAI_CONFIG_PATH"
BUILTIN_LABEL = "libai-config"
BUILTIN_DIR = Path(__file__).resolve().parent / "configs"


def config_search_path() -> list[tuple[str, Path]]:
    """Every ``(label, directory)`` that :func:`get_config` searches, in order."""
    from . import plugins

    dirs: list[tuple[str, Path]] = []
    for entry in os.environ.get(ENV_VAR, "").split(os.pathsep):
        if entry.strip():
            dirs.append((ENV_VAR, Path(entry.strip()).expanduser()))
    dirs.extend((str(name), Path(directory)) for name, directory in plugins.config_dirs())
    seen = set()
    unique = []
    for label, directory in dirs + [(BUILTIN_LABEL, BUILTIN_DIR)]:
        key = os.path.realpath(directory)
        if key not in seen:
            seen.add(key)
            unique.append((label, directory))
    return unique


def find_config(rel_path: str) -> Path:
    """The file ``rel_path`` names in the first directory that has it.

    Raises:
        ConfigNotFoundError: (a ``FileNotFoundError``) listing every directory
            searched with its label, and the nearest existing config paths.
    """
    rel = str(rel_path).replace("\\", "/").lstrip("/")
    searched = config_search_path()
    for _label, directory in searched:
        candidate = directory / rel
        if candidate.is_file():
            return candidate
    lines = [f"  {label}: {directory}" for label, directory in searched]
    known = sorted({p for _label, d in searched for p in _config_files(d)})
    close = difflib.get_close_matches(rel, known, n=3, cutoff=0.5)
    hint = f"\nclosest existing configs: {', '.join(close)}" if close else ""
    raise ConfigNotFoundError(
        f"config {rel!r} not found; searched {len(searched)} directories:\n"
        + "\n".join(lines)
        + hint
        + f"\n(add directories with the {ENV_VAR} environment variable or a plugin's "
        "libai_config_dirs hook)",
        rel,
        searched,
    )


def _config_files(directory: Path) -> list[str]:
    if not directory.is_dir():
        return []
    found = []
    for suffix in ("*.py", "*.yaml", "*.yml"):
        found.extend(p.relative_to(directory).as_posix() for p in directory.rglob(suffix))
    return [p for p in found if "__pycache__" not in p]


def get_config(rel_path: str) -> Any:
    """Load a default config by its path relative to a config directory.

    ``get_config("common/train.py").train`` is LiBai's default ``train``
    namespace. Returns what :meth:`LazyConfig.load` returns: a ``DictConfig``
    of every public config object of the file.
    """
    from .loader import load

    return load(find_config(rel_path))
