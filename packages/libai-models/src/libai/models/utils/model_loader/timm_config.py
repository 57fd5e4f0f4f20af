"""Read a timm checkpoint's ``config.json`` (as ``timm.models.push_to_hf_hub`` / ``save_for_hf``
write it: ``architecture``, ``num_classes``, optional ``model_args``, ``pretrained_cfg``).

The architecture name gives the base sizes (``swin_tiny_patch4_window7_224``);
``model_args`` overrides them, with timm's argument names mapped onto libai's.
"""

from __future__ import annotations

import difflib
import re
from typing import Callable, Optional


class TimmConfigError(ValueError):
    """config.json does not describe a model this loader can build."""


def arch_sizes(arch: str, patterns: dict, family: str) -> dict:
    """Base sizes for ``arch`` from ``patterns`` ({regex: fn(match) -> dict}); raises when none fits."""
    for pattern, sizes in patterns.items():
        match = re.fullmatch(pattern, arch)
        if match:
            return sizes(match)
    raise TimmConfigError(
        f"config.json architecture={arch!r} is not a {family} architecture this loader knows "
        f"(patterns: {', '.join(patterns)}); add model_args with the sizes to config.json"
    )


def timm_cfg(
    hf: dict,
    family: str,
    patterns: dict,
    renames: dict,
    harmless: frozenset,
    check: Optional[Callable[[dict], None]] = None,
) -> dict:
    """libai cfg for a timm config.json.

    ``renames`` maps timm's ``model_args`` names to libai's (``None``: same name);
    ``harmless`` names args that do not change the weights' meaning (``global_pool``).
    Raises :class:`TimmConfigError` on an unknown architecture or argument.
    """
    arch = hf.get("architecture")
    model_args = dict(hf.get("model_args") or {})
    if arch is None and not model_args:
        raise TimmConfigError(
            f"config.json has neither 'architecture' nor 'model_args': not a timm {family} checkpoint"
        )
    cfg: dict = {}
    foreign = ""  # set when the architecture name is not one of this family's
    if arch is not None:
        try:
            cfg.update(arch_sizes(arch, patterns, family))
        except TimmConfigError as err:
            if not model_args:
                raise
            foreign = f"{err}; and "
    input_size = (hf.get("pretrained_cfg") or {}).get("input_size")
    if input_size and "img_size" in renames:
        cfg["img_size"] = int(input_size[-1])
    for name, value in model_args.items():
        if name in harmless:
            continue
        if name not in renames:
            close = difflib.get_close_matches(name, list(renames), n=2)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise TimmConfigError(
                f"{foreign}config.json model_args.{name}={value!r} is not supported for "
                f"{family}{hint}; "
                f"supported: {', '.join(sorted(renames))}"
            )
        target = renames[name] or name
        cfg[target] = list(value) if isinstance(value, (list, tuple)) else value
    if "num_classes" in hf:
        cfg["num_classes"] = int(hf["num_classes"])
    if check is not None:
        check(cfg)
    return cfg
