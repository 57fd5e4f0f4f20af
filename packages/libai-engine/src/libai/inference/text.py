"""Text in, text out: tokenize prompts, left-pad them, ``model.generate``, decode.

Used by :class:`~libai.inference.text_generation.TextGenerationPipeline`, by
``libai-engine generate`` and by the engine's ``SampleTextHook``, so all three decode
the same way. The tokenizer needs ``encode(str) -> ids`` and ``decode(ids)``;
``eos_token_id``/``eod_token_id``/``pad_token_id`` are used when it has them.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any, Optional

import numpy as np

__all__ = ["encode_prompts", "generate_text", "tokenizer_eos_id"]


def tokenizer_eos_id(tokenizer: Any) -> Optional[int]:
    """The tokenizer's end-of-sequence id (``eos_token_id``, else ``eod_token_id``), if any."""
    for name in ("eos_token_id", "eod_token_id", "eod"):
        value = getattr(tokenizer, name, None)
        if isinstance(value, (int, np.integer)):
            return int(value)
    return None


def _pad_id(tokenizer: Any, eos: Optional[int]) -> int:
    value = getattr(tokenizer, "pad_token_id", None)
    if isinstance(value, (int, np.integer)):
        return int(value)
    return eos if eos is not None else 0


def encode_prompts(
    tokenizer: Any,
    prompts: Sequence[str],
    pad_id: int,
    append_id: Optional[int] = None,
    left: bool = True,
) -> tuple[np.ndarray, np.ndarray, list[list[int]]]:
    """Token ids of ``prompts`` padded with ``pad_id``: ``(ids, mask, per-prompt ids)``.

    Decoder-only models need left padding (``left=True``, the new tokens follow the
    prompt); an encoder's input is padded on the right, as its tokenizer does, and
    ``append_id`` ends it (T5's tokenizer ends an encoder input with ``</s>``).
    Raises ``ValueError`` naming a prompt that encodes to no tokens.
    """
    encoded = []
    for i, prompt in enumerate(prompts):
        ids = [int(t) for t in tokenizer.encode(prompt)]
        if not ids:
            raise ValueError(f"prompt {i} ({prompt!r}) encodes to no tokens")
        if append_id is not None and ids[-1] != append_id:
            ids.append(append_id)
        encoded.append(ids)
    width = max(len(ids) for ids in encoded)
    batch = np.full((len(encoded), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(encoded), width), dtype=np.int64)
    for row, ids in enumerate(encoded):
        cols = slice(width - len(ids), width) if left else slice(0, len(ids))
        batch[row, cols] = ids
        mask[row, cols] = 1
    return batch, mask, encoded


def _decode(tokenizer: Any, ids: list[int]) -> str:
    try:
        accepts = "skip_special_tokens" in inspect.signature(tokenizer.decode).parameters
    except (TypeError, ValueError):
        accepts = False
    if accepts:
        return tokenizer.decode(ids, skip_special_tokens=True)
    return tokenizer.decode(ids)


def _continuation(row: np.ndarray, eos: Sequence[int]) -> list[int]:
    """The new tokens up to and including the first end-of-sequence token."""
    tokens = [int(t) for t in row]
    for i, token in enumerate(tokens):
        if token in eos:
            return tokens[: i + 1]
    return tokens


def generate_text(
    model: Any, tokenizer: Any, prompts: Sequence[str], **generate_kwargs: Any
) -> list[dict]:
    """Continue each prompt; one dict per prompt and returned sequence, in order.

    Each dict: ``{"prompt", "generated_text", "token_ids"}``. ``token_ids`` are the new
    tokens only (cut after the first end-of-sequence token); ``generated_text`` is the
    prompt and its continuation decoded with special tokens skipped (an encoder-decoder
    model's output does not repeat its input, so there it is the continuation only).
    ``eos_token_id``/``pad_token_id`` default to the tokenizer's.
    """
    eos = generate_kwargs.get("eos_token_id")
    if eos is None:
        eos = tokenizer_eos_id(tokenizer)
        if eos is not None:
            generate_kwargs["eos_token_id"] = eos
    pad = generate_kwargs.get("pad_token_id")
    if pad is None:
        pad = _pad_id(tokenizer, eos if isinstance(eos, int) or eos is None else eos[0])
        generate_kwargs["pad_token_id"] = pad
    eos_ids = [] if eos is None else ([eos] if isinstance(eos, int) else list(eos))
    encoder_decoder = bool(getattr(model, "is_encoder_decoder", False))
    ids, mask, encoded = encode_prompts(
        tokenizer,
        prompts,
        pad,
        append_id=eos_ids[0] if encoder_decoder and eos_ids else None,
        left=not encoder_decoder,
    )
    out = model.generate(ids, mask, **generate_kwargs).numpy()
    per_prompt = out.shape[0] // len(prompts)
    start = 1 if encoder_decoder else ids.shape[1]
    results = []
    for row in range(out.shape[0]):
        index = row // per_prompt
        new = _continuation(out[row, start:], eos_ids)
        shown = new if start == 1 else encoded[index] + new
        results.append(
            {
                "prompt": prompts[index],
                "generated_text": _decode(tokenizer, shown),
                "token_ids": new,
            }
        )
    return results
