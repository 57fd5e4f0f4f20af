"""libai.data: samplers, batch structures and loader builders (LiBai's names).

Only re-exports, resolved lazily (PEP 562): ``import libai.data`` (and the plugin
module ``libai.data.plugin`` that the config system imports to find default configs)
does not import OneFlow; the first use of a name below does.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "build_image_test_loader": "libai.data.build",
    "build_image_train_loader": "libai.data.build",
    "build_nlp_test_loader": "libai.data.build",
    "build_nlp_train_loader": "libai.data.build",
    "build_nlp_train_val_test_loader": "libai.data.build",
    "trivial_batch_collator": "libai.data.build",
    "CyclicSampler": "libai.data.samplers",
    "SingleRoundSampler": "libai.data.samplers",
    "DistTensorData": "libai.data.structures",
    "Instance": "libai.data.structures",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'libai.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
