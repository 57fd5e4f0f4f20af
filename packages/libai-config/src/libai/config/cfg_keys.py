"""Declaring the keys a model reads from LiBai's ``cfg=`` dict, so ``check`` can vet them.

LiBai's models take one ``cfg`` dict (``LazyCall(GPTModel)(cfg=cfg)``) and read
what they need from it; a misspelt key (``hiden_layers``) is silently ignored
and the model builds with its default. A class that takes ``cfg`` declares the
keys it reads, next to the class::

    @reads_cfg(aliases={"num_layers": "hidden_layers"}, extra=("pretrained_model_path",))
    class GPTModel(nn.Module):
        @configurable
        def __init__(self, hidden_layers, vocab_size, ...): ...

The declared keys are: the named parameters of the class's ``__init__`` (or
the function's signature), the ``aliases`` (alternative spellings it maps),
the ``extra`` keys it documents (generation defaults, ``pretrained_model_path``),
and the keys of every class in ``also`` (a wrapper that hands ``cfg`` on to
another model). ``libai-engine check`` reports any other key in ``cfg``, with
the nearest declared names, before anything is built.

Nothing here imports the target's module: the declaration is read from the
object the registry or import path already resolved.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Callable, TypeVar

__all__ = [
    "CFG_KEYS_ATTR",
    "ENGINE_CFG_KEYS",
    "GENERATION_CFG_KEYS",
    "declared_cfg_keys",
    "reads_cfg",
]

CFG_KEYS_ATTR = "__libai_cfg_keys__"

#: Keys the engine and the model loaders read from (or write into) any model's
#: ``cfg``: ``amp_enabled`` (set from ``train.amp``), ``pretrained_model_path``
#: (LiBai's loaders and inference pipelines).
ENGINE_CFG_KEYS = ("amp_enabled", "pretrained_model_path")

#: Generation defaults a generating model's ``cfg`` may carry (Hugging Face's
#: names, as LiBai keeps them in the model config; shared/DESIGN.md section 7).
GENERATION_CFG_KEYS = (
    "max_new_tokens",
    "max_length",
    "min_new_tokens",
    "min_length",
    "do_sample",
    "temperature",
    "top_k",
    "top_p",
    "repetition_penalty",
    "no_repeat_ngram_size",
    "num_beams",
    "length_penalty",
    "early_stopping",
    "num_return_sequences",
    "bos_token_id",
    "eos_token_id",
    "pad_token_id",
    "decoder_start_token_id",
    "use_cache",
    "seed",  # of sampling
)
_T = TypeVar("_T")


class _Declaration:
    """What a ``cfg`` reader declared; the key set is computed on first use."""

    def __init__(
        self,
        owner: Any,
        aliases: Iterable[str],
        extra: Iterable[str],
        also: Iterable[Any],
    ) -> None:
        self.owner = owner
        self.aliases = frozenset(aliases)
        self.extra = frozenset(extra)
        self.also = tuple(also)
        self._keys: frozenset[str] | None = None

    def keys(self) -> frozenset[str]:
        if self._keys is None:
            from .signatures import named_arguments

            own = set(named_arguments(self.owner) or {})
            own.discard("cfg")
            for other in self.also:
                own |= declared_cfg_keys(other) or set()
            self._keys = frozenset(own) | self.aliases | self.extra
        return self._keys


def reads_cfg(
    *,
    aliases: Mapping[str, str] | Iterable[str] = (),
    extra: Iterable[str] = (),
    also: Iterable[Any] = (),
) -> Callable[[_T], _T]:
    """Class (or function) decorator: declare the ``cfg`` keys the target reads.

    :param aliases: other spellings of its arguments (a mapping's keys are used).
    :param extra: keys read beyond the constructor's parameters.
    :param also: readers the target passes ``cfg`` on to (their keys count too).
    """

    def mark(target: _T) -> _T:
        setattr(target, CFG_KEYS_ATTR, _Declaration(target, aliases, extra, also))
        return target

    return mark


def declared_cfg_keys(target: Any) -> frozenset[str] | None:
    """The keys ``target`` declares it reads from ``cfg``, or None when it declares none."""
    declaration = getattr(target, CFG_KEYS_ATTR, None)
    if not isinstance(declaration, _Declaration):
        return None
    if declaration.owner is not target:  # inherited: a subclass reads its own __init__'s keys
        declaration = _Declaration(target, declaration.aliases, declaration.extra, declaration.also)
        setattr(target, CFG_KEYS_ATTR, declaration)
    return declaration.keys()
