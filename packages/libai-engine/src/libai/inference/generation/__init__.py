"""Generation for models of any package: ``GenerationMixin`` and Hugging Face's settings.

``from libai.inference.generation import GenerationMixin``: a model that implements
``generation_forward`` (one decoding step with a KV cache) gets ``generate`` with greedy
search, sampling (temperature, top-k, top-p), repetition penalty, no-repeat n-grams,
beam search and left-padded batches, with ``transformers``' names and semantics.
"""

from libai.inference.generation.config import GenerationConfig, resolve_generation_config
from libai.inference.generation.mixin import GenerationMixin, as_broadcast_global, reorder_cache

__all__ = [
    "GenerationConfig",
    "GenerationMixin",
    "as_broadcast_global",
    "reorder_cache",
    "resolve_generation_config",
]
