"""libai-models as a LiBai plugin: contributes the default model configs.

Listed in the ``libai.plugins`` entry-point group, so
``get_config("common/models/bert.py")`` finds ``configs/common/models/bert.py`` of this
package. The models themselves are registered through the ``libai.models`` entry points
(see pyproject.toml); this module imports neither OneFlow nor any model.
"""

from __future__ import annotations

from pathlib import Path

from libai.config import hookimpl

CONFIG_DIR = Path(__file__).resolve().parent / "configs"


@hookimpl
def libai_config_dirs() -> list:
    """Return the directory holding ``common/models/*.py``."""
    return [CONFIG_DIR]
