"""The generation mixin of ``libai.inference`` (libai-engine), imported in one place.

``LlamaForCausalLM`` subclasses it and implements ``generation_forward``; ``generate``
(greedy, sampling, beam search with Hugging Face's names) comes from the mixin.
An engine without ``libai.inference`` still trains the model; ``generate`` then says
what is missing.
"""

from __future__ import annotations

from typing import Any

try:
    from libai.inference.generation import GenerationMixin
except ModuleNotFoundError as _missing:  # an older libai-engine
    _REASON = str(_missing)

    class GenerationMixin:  # type: ignore[no-redef]
        """Stands in for ``libai.inference.generation.GenerationMixin`` when it is absent."""

        def generate(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError(
                "generate() needs libai.inference.generation from libai-engine, which is not "
                f"installed here ({_REASON}); upgrade libai-engine"
            )


__all__ = ["GenerationMixin"]
