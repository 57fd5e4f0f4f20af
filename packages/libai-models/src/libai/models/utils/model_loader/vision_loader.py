"""The part the vision loaders (ViT, Swin, SwinV2, ResMLP) share.

On top of :class:`ModelLoaderHuggerFace` (which reports model parameters the converted
weights miss or do not fit), every checkpoint tensor must be used: a tensor no rule
converted is reported as unexpected, so a checkpoint of another architecture or
size fails loudly instead of loading half its weights. Buffers that the models
recompute (``relative_position_index``, ``attn_mask``, ...) are skipped by name.
"""

from __future__ import annotations

import difflib
import re
from typing import Any, Iterable

from libai.models.utils.model_loader.base_loader import (
    ModelLoaderHuggerFace,
    WeightLoadError,
    load_converted,
)
from libai.models.utils.model_loader.checkpoint_files import CheckpointError, read_state_dict


def require(state: dict, key: str) -> Any:
    """``state[key]``, or a ``CheckpointError`` naming the closest keys the checkpoint has."""
    if key in state:
        return state[key]
    close = difflib.get_close_matches(key, list(state), n=3, cutoff=0.5)
    hint = f"; closest keys present: {', '.join(close)}" if close else ""
    raise CheckpointError(f"checkpoint has no tensor {key!r}{hint}")


class _UsageTrackingState(dict):
    """A state dict that remembers which keys were read."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.used: set = set()

    def __getitem__(self, key: str) -> Any:
        self.used.add(key)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        if key in self:
            self.used.add(key)
        return super().get(key, default)


class VisionLoader(ModelLoaderHuggerFace):
    """Base of the vision loaders: strict about unused checkpoint tensors.

    Subclasses set ``ignored`` (regular expressions of checkpoint keys that are
    recomputed or not part of the classifier) and implement ``cfg_from_hf`` and
    ``convert``.
    """

    ignored: Iterable[str] = ()
    # Checkpoint keys of the classifier, skipped when the model is built headless
    # (``num_classes=0``: a classification checkpoint used as a feature extractor).
    head_pattern = r"^head\."

    def read_state(self) -> dict:
        return self.strip_hf_prefix(read_state_dict(self.pretrained_model_path))

    def load(self) -> Any:
        """Build the model and copy the weights in.

        Raises :class:`WeightLoadError` listing checkpoint tensors that nothing
        converted, model parameters the checkpoint lacks and shape mismatches;
        ``CheckpointError`` when the directory is incomplete or a tensor is missing.
        """
        cfg = self.build_cfg()
        state = _UsageTrackingState(self.read_state())
        converted = self.convert(state, cfg)
        patterns = [re.compile(p) for p in self.ignored]
        if cfg.get("num_classes", 1) == 0:
            patterns.append(re.compile(self.head_pattern))
        unused = sorted(
            k for k in state if k not in state.used and not any(p.search(k) for p in patterns)
        )
        if unused:
            name = getattr(self.model, "__name__", type(self.model).__name__)
            raise WeightLoadError(
                f"cannot load {self.pretrained_model_path} into {name}: "
                f"unexpected in the checkpoint ({len(unused)}): {', '.join(unused)} "
                "(is it a checkpoint of this architecture, and do depths/sizes match config.json?)"
            )
        model = self._build(cfg)
        load_converted(model, converted, self.base_prefix, str(self.pretrained_model_path))
        return model
