"""Generation settings: Hugging Face's names and defaults, overridable from a model's ``cfg``.

Precedence (lowest first): Hugging Face's defaults (``GenerationConfig``), the keys of
the same names in the model's LiBai ``cfg`` (LiBai keeps ``eos_token_id``,
``max_length``, ``num_beams``... there), then the keyword arguments of ``generate``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, Optional, Union

__all__ = ["GenerationConfig", "resolve_generation_config"]


@dataclasses.dataclass
class GenerationConfig:
    """The settings ``generate`` understands (a subset of ``transformers.GenerationConfig``)."""

    max_length: int = 20
    max_new_tokens: Optional[int] = None
    min_length: int = 0
    min_new_tokens: Optional[int] = None
    do_sample: bool = False
    temperature: float = 1.0
    top_k: Optional[int] = 50
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    no_repeat_ngram_size: int = 0
    num_beams: int = 1
    length_penalty: float = 1.0
    early_stopping: Union[bool, str] = False
    num_return_sequences: int = 1
    eos_token_id: Union[int, Sequence[int], None] = None
    pad_token_id: Optional[int] = None
    bos_token_id: Optional[int] = None
    decoder_start_token_id: Optional[int] = None
    use_cache: bool = True
    seed: Optional[int] = None

    @property
    def eos_token_ids(self) -> list[int]:
        """``eos_token_id`` as a list (empty when there is none)."""
        if self.eos_token_id is None:
            return []
        if isinstance(self.eos_token_id, int):
            return [self.eos_token_id]
        return [int(i) for i in self.eos_token_id]

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first setting that cannot work."""
        checks = [
            (self.num_beams >= 1, "num_beams must be >= 1"),
            (self.num_return_sequences >= 1, "num_return_sequences must be >= 1"),
            (
                self.num_return_sequences <= max(self.num_beams, 1) or self.do_sample,
                f"num_return_sequences={self.num_return_sequences} needs num_beams >= it "
                f"(num_beams={self.num_beams}) or do_sample=True",
            ),
            (
                self.num_beams > 1 or self.do_sample or self.num_return_sequences == 1,
                "greedy search returns one sequence: num_return_sequences must be 1",
            ),
            (self.temperature > 0, f"temperature must be > 0, got {self.temperature}"),
            (self.top_k is None or self.top_k >= 0, f"top_k must be >= 0, got {self.top_k}"),
            (0.0 <= self.top_p <= 1.0, f"top_p must be in [0, 1], got {self.top_p}"),
            (
                self.repetition_penalty > 0,
                f"repetition_penalty must be > 0, got {self.repetition_penalty}",
            ),
            (
                self.no_repeat_ngram_size >= 0,
                f"no_repeat_ngram_size must be >= 0, got {self.no_repeat_ngram_size}",
            ),
            (
                self.max_new_tokens is None or self.max_new_tokens >= 1,
                f"max_new_tokens must be >= 1, got {self.max_new_tokens}",
            ),
            (
                self.early_stopping in (True, False, "never"),
                f"early_stopping must be True, False or 'never', got {self.early_stopping!r}",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(f"generate: {message}")


_FIELDS = {f.name for f in dataclasses.fields(GenerationConfig)}


def _cfg_items(model: Any) -> dict:
    cfg = getattr(model, "cfg", None)
    if cfg is None:
        return {}
    if isinstance(cfg, Mapping) or hasattr(cfg, "items"):
        return {k: v for k, v in cfg.items() if k in _FIELDS and v is not None}
    return {k: getattr(cfg, k) for k in _FIELDS if getattr(cfg, k, None) is not None}


def resolve_generation_config(model: Any, kwargs: Mapping[str, Any]) -> GenerationConfig:
    """Merge defaults, ``model.cfg`` and ``kwargs``; unknown keywords are a ``TypeError``.

    A keyword passed as ``None`` keeps the lower layer's value, as in ``transformers``.
    """
    import difflib

    unknown = sorted(set(kwargs) - _FIELDS)
    if unknown:
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name, sorted(_FIELDS), n=1)
            hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise TypeError(f"generate() got unknown keyword argument(s): {', '.join(hints)}")
    values = _cfg_items(model)
    values.update({k: v for k, v in kwargs.items() if v is not None})
    config = GenerationConfig(**values)
    config.validate()
    return config
