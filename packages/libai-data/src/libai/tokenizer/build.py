"""LiBai's ``build_tokenizer(cfg)``: instantiate ``cfg.tokenizer`` and set the eod token.

The trainer of this project instantiates ``cfg.tokenization.tokenizer`` itself and
calls :meth:`PreTrainedTokenizer.padded_vocab_size`; this function is kept for
LiBai scripts that call it directly.
"""

from __future__ import annotations

from typing import Any


def build_tokenizer(cfg: Any) -> Any:
    """Build the tokenizer described by ``cfg.tokenizer`` (a LazyCall node or an object).

    When ``cfg.append_eod`` is true and the tokenizer has no ``eod_token``, the eos
    token (else the pad token) is used, as in LiBai.

    Raises:
        KeyError: ``cfg`` has no ``tokenizer`` entry.
    """
    from libai.config import instantiate

    try:
        node = cfg["tokenizer"] if isinstance(cfg, dict) or hasattr(cfg, "keys") else cfg.tokenizer
    except (KeyError, AttributeError) as exc:
        raise KeyError(
            "build_tokenizer: the config has no `tokenizer` entry (tokenization.tokenizer)"
        ) from exc
    tokenizer = instantiate(node) if hasattr(node, "keys") and "_target_" in node else node
    append_eod = (
        cfg.get("append_eod", False) if hasattr(cfg, "get") else getattr(cfg, "append_eod", False)
    )
    if append_eod and tokenizer._eod_token is None:
        tokenizer.eod_token = (
            tokenizer._eos_token if tokenizer._eos_token is not None else tokenizer._pad_token
        )
    return tokenizer
