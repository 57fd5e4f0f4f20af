"""Build a site directory the way pip leaves one: packages plus ``*.dist-info``.

Registry and plugin tests put such a directory on ``sys.path`` so that
importlib-metadata finds real distributions with real entry points (no
monkeypatched entry points), and reset the process-wide registry around it.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

from libai.config import plugins


def add_distribution(
    site: Path,
    name: str,
    version: str = "1.0",
    entry_points: dict[str, dict[str, str]] | None = None,
    files: dict[str, str] | None = None,
) -> None:
    """Write ``<name>-<version>.dist-info`` (METADATA, entry_points.txt) and module files."""
    dist_info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8"
    )
    lines = []
    for group, entries in (entry_points or {}).items():
        lines.append(f"[{group}]")
        lines.extend(f"{key} = {value}" for key, value in entries.items())
        lines.append("")
    (dist_info / "entry_points.txt").write_text("\n".join(lines), encoding="utf-8")
    for rel, source in (files or {}).items():
        path = site / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source).lstrip("\n"), encoding="utf-8")


class SiteOnPath:
    """Context manager: ``site`` first on sys.path, fresh registry and plugin manager."""

    def __init__(self, site: Path) -> None:
        self.site = site
        self.modules_before: set[str] = set()

    def __enter__(self) -> Path:
        self.modules_before = set(sys.modules)
        sys.path.insert(0, str(self.site))
        plugins.reset_plugin_manager()
        return self.site

    def __exit__(self, *exc: object) -> None:
        sys.path.remove(str(self.site))
        # Forget modules imported from the temporary site, so tests stay independent.
        for name in set(sys.modules) - self.modules_before:
            module_file = getattr(sys.modules[name], "__file__", None) or ""
            if module_file.startswith(str(self.site)):
                del sys.modules[name]
        plugins.reset_plugin_manager(clear_disabled=True)
