"""``AlpacaDataset``: instruction tuning samples read straight from Alpaca's published files.

Alpaca's ``alpaca_data.json`` is a JSON list of ``{"instruction", "input", "output"}``
records; many copies are JSON lines instead. Both are read as they are (LiBai needed a
torch preprocessing step first). Each record becomes the standard Alpaca prompt
followed by the output and EOS::

    [BOS] Below is an instruction that describes a task[, paired with an input ...].
    Write a response that appropriately completes the request.\\n\\n### Instruction:\\n
    {instruction}\\n\\n[### Input:\\n{input}\\n\\n]### Response:\\n {output} [EOS]

and the sample is LiBai's causal-LM pair (as ``GPT2Dataset``): ``input_ids`` are the
tokens but the last, ``labels`` the tokens but the first, so ``labels[t]`` is the token
that follows ``input_ids[t]``. The loss counts only the response and EOS: every other
label (the prompt, the padding) is :data:`IGNORE_INDEX` (``-100``); LlamaForCausalLM's
loss ignores negative labels (transformers' ``-100`` and LiBai's ``-1`` alike).

The prompt and the output are tokenized separately (the output after the prompt, as a
model generating an answer sees it), so the boundary between them is exact.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np
from libai.data.structures import DistTensorData, Instance
from libai.utils.oneflow_env import flow

from .prompts import PROMPT_NO_INPUT, PROMPT_WITH_INPUT, format_prompt

__all__ = [
    "IGNORE_INDEX",
    "PROMPT_NO_INPUT",
    "PROMPT_WITH_INPUT",
    "AlpacaDataset",
    "format_prompt",
    "read_alpaca_records",
]

IGNORE_INDEX = -100

_KEYS = ("instruction", "input", "output")


def _check_record(record: Any, where: str) -> dict[str, str]:
    if not isinstance(record, dict):
        raise ValueError(
            f"{where} is a {type(record).__name__}, not an object; Alpaca records are "
            '{"instruction": ..., "input": ..., "output": ...}'
        )
    for key in ("instruction", "output"):
        if key not in record:
            raise ValueError(
                f"{where} has no {key!r} key (it has {sorted(record)}); Alpaca records need "
                "'instruction' and 'output', and may have 'input'"
            )
    values = {}
    for key in _KEYS:
        value = record.get(key, "")
        value = "" if value is None and key == "input" else value
        if not isinstance(value, str):
            raise ValueError(f"{where}: {key!r} must be a string, got {type(value).__name__}")
        values[key] = value
    return values


def read_alpaca_records(path: Union[str, os.PathLike]) -> list[dict[str, str]]:
    """The records of an Alpaca file: a JSON list, or JSON lines (one object per line).

    Returns a list of ``{"instruction", "input", "output"}`` dicts (``input`` defaults to "").

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file is neither format, or a record is malformed; the message
            names the file, the record index (and line for JSON lines) and the key.
    """
    path = Path(os.fspath(path)).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"AlpacaDataset: no file at {str(path)!r}; pass an Alpaca JSON list or JSON-lines "
            "file of {instruction, input, output} records (nothing is downloaded)"
        )
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"{path}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg}); expected Alpaca's "
                "JSON list of records"
            ) from exc
        return [_check_record(r, f"{path}: record {i}") for i, r in enumerate(data)]
    records = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"{path}:{lineno}: not valid JSON ({exc.msg}); expected a JSON list of records "
                "or one JSON object per line"
            ) from exc
        records.append(_check_record(record, f"{path}:{lineno}: record {len(records)}"))
    if not records:
        raise ValueError(f"{path} holds no records")
    return records


class AlpacaDataset(flow.utils.data.Dataset):
    """Supervised fine-tuning samples from an Alpaca JSON / JSON-lines file.

    Args:
        path: the Alpaca file.
        tokenizer: a LiBai tokenizer with ``encode`` and an ``eos_token_id``
            (:class:`libai_llama.tokenizer.LlamaTokenizer`; the trainer passes
            ``cfg.tokenization.tokenizer``).
        max_length: length of ``input_ids`` and ``labels``; a sample holds up to
            ``max_length + 1`` tokens. Longer samples lose the start of the prompt (after
            BOS) first, so the instruction's end, the input and the whole response stay;
            the response itself is cut (at its end) only when it would leave the prompt
            less than half the sample.
        pad_to_max_length: pad every sample to ``max_length`` (the default: LiBai's
            default collate stacks equal shapes, and a static graph needs them); with
            ``False`` use :meth:`collate` to pad each batch to its longest sample.
        add_bos: start with the tokenizer's BOS (when it has one).

    Each item is an ``Instance`` with ``input_ids`` (layer 0) and ``labels`` (last
    pipeline stage), int64 tensors of ``max_length``.

    Raises:
        FileNotFoundError, ValueError: see :func:`read_alpaca_records`; a tokenizer
            without EOS or a ``max_length`` below 4 is a ``ValueError`` too.
    """

    def __init__(
        self,
        path: Union[str, os.PathLike],
        tokenizer: Any = None,
        max_length: int = 512,
        pad_to_max_length: bool = True,
        add_bos: bool = True,
    ) -> None:
        if tokenizer is None:
            raise ValueError(
                "AlpacaDataset needs a tokenizer: the trainer passes cfg.tokenization.tokenizer "
                "(leave tokenizer=None in the config); when building it yourself pass "
                "tokenizer=LlamaTokenizer(pretrained_model_path=...)"
            )
        if getattr(tokenizer, "eos_token_id", None) is None:
            raise ValueError(
                f"AlpacaDataset: the tokenizer {type(tokenizer).__name__} has no eos_token; "
                "each response ends with EOS so that generation learns to stop"
            )
        if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 4:
            raise ValueError(f"AlpacaDataset: max_length must be an int >= 4, got {max_length!r}")
        self.path = str(path)
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.pad_to_max_length = bool(pad_to_max_length)
        self.records = read_alpaca_records(path)
        bos = getattr(tokenizer, "bos_token_id", None)
        self._bos = [bos] if add_bos and bos is not None else []
        self.eos_id = int(tokenizer.eos_token_id)
        pad = getattr(tokenizer, "pad_token_id", None)
        # The padding's input ids are never attended to by real tokens (causal mask,
        # padding on the right) and their labels are ignored: any valid id will do.
        self.pad_id = int(pad) if pad is not None else self.eos_id

    def __len__(self) -> int:
        return len(self.records)

    def prompt(self, index: int) -> str:
        """The Alpaca prompt of record ``index`` (what a model is asked at generation)."""
        record = self.records[index]
        return format_prompt(record["instruction"], record["input"])

    def tokens(self, index: int) -> tuple[list[int], list[int]]:
        """``(prompt_ids, response_ids)`` of record ``index`` after truncation.

        ``prompt_ids`` starts with BOS, ``response_ids`` ends with EOS unless the response
        had to be cut.
        """
        prompt = self._bos + list(self.tokenizer.encode(self.prompt(index)))
        response = list(self.tokenizer.encode(self.records[index]["output"])) + [self.eos_id]
        return self._truncate(prompt, response)

    def _truncate(self, prompt: list[int], response: list[int]) -> tuple[list[int], list[int]]:
        budget = self.max_length + 1
        if len(prompt) + len(response) <= budget:
            return prompt, response
        keep_response = min(len(response), max(budget - len(prompt), budget // 2))
        response = response[:keep_response]
        keep_prompt = budget - keep_response
        head = self._bos if prompt[: len(self._bos)] == self._bos else []
        tail = keep_prompt - len(head)
        prompt = head + (prompt[len(head) :][-tail:] if tail > 0 else [])
        return prompt, response

    def arrays(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """``(input_ids, labels)`` of record ``index`` as int64 arrays (padded as configured)."""
        prompt, response = self.tokens(index)
        sequence = np.asarray(prompt + response, dtype=np.int64)
        labels = sequence[1:].copy()
        labels[: len(prompt) - 1] = IGNORE_INDEX
        input_ids = sequence[:-1]
        if self.pad_to_max_length:
            input_ids, labels = self._pad(input_ids, labels, self.max_length)
        return input_ids, labels

    def _pad(self, input_ids: np.ndarray, labels: np.ndarray, length: int):
        extra = length - len(input_ids)
        return (
            np.concatenate([input_ids, np.full(extra, self.pad_id, dtype=np.int64)]),
            np.concatenate([labels, np.full(extra, IGNORE_INDEX, dtype=np.int64)]),
        )

    def __getitem__(self, index: int) -> Instance:
        input_ids, labels = self.arrays(index)
        return Instance(
            input_ids=DistTensorData(flow.tensor(input_ids, dtype=flow.long)),
            labels=DistTensorData(flow.tensor(labels, dtype=flow.long), placement_idx=-1),
        )

    def collate(self, batch: list[Instance], pad_to_multiple_of: Optional[int] = None) -> Instance:
        """Pad the samples of ``batch`` to its longest (rounded up to ``pad_to_multiple_of``) and stack them.

        For ``pad_to_max_length=False``: ``build_nlp_train_loader(..., collate_fn=dataset.collate)``.
        """
        length = max(item.input_ids.tensor.shape[0] for item in batch)
        if pad_to_multiple_of:
            length = -(-length // pad_to_multiple_of) * pad_to_multiple_of
        padded = []
        for item in batch:
            input_ids, labels = self._pad(
                item.input_ids.tensor.numpy(), item.labels.tensor.numpy(), length
            )
            padded.append(
                Instance(
                    input_ids=DistTensorData(flow.tensor(input_ids, dtype=flow.long)),
                    labels=DistTensorData(flow.tensor(labels, dtype=flow.long), placement_idx=-1),
                )
            )
        return Instance.stack(padded)
