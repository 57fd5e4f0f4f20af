"""``InstructionAccuracyHook``: exact-match accuracy of greedy answers, before and after fine-tuning.

``llama/sft.py`` adds it to ``train.hooks``. Before the first step of a fresh run and
after the last one it answers every record of a held-out Alpaca file greedily (the
prompt as :class:`~libai_llama.alpaca.AlpacaDataset` builds it, generation stopped at
EOS) and counts the answers equal to the record's output. It prints both numbers at the
end and writes them, with every answer, to ``<output_dir>/instruction_accuracy.json``.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any, Optional

import numpy as np
from libai.engine.trainer import HookBase

from .alpaca import AlpacaDataset

__all__ = ["InstructionAccuracyHook", "greedy_answer"]

logger = logging.getLogger(__name__)


def greedy_answer(
    model: Any,
    prompt_ids: list[int],
    max_new_tokens: int,
    stop_ids: list[int],
    max_context: Optional[int] = None,
) -> list[int]:
    """The ids ``model`` appends to ``prompt_ids`` by argmax, up to a stop id (not included).

    ``model(input_ids=...)`` must return logits, or a dict with ``"logits"`` /
    ``"prediction_scores"``; every rank computes the same answer (the logits are made
    broadcast), so this is safe under a launcher.
    """
    from libai.utils import distributed as dist
    from libai.utils.oneflow_env import flow

    placement = dist.get_layer_placement(0)
    sbp = dist.get_nd_sbp([flow.sbp.broadcast, flow.sbp.broadcast])
    ids = list(prompt_ids)
    answer: list[int] = []
    with flow.no_grad():
        for _ in range(max_new_tokens):
            context = ids[-max_context:] if max_context else ids
            x = flow.tensor([context], dtype=flow.long).to_global(placement=placement, sbp=sbp)
            out = model(input_ids=x)
            if isinstance(out, dict):
                out = out["logits"] if "logits" in out else out["prediction_scores"]
            last = out.to_global(sbp=sbp).to_local()[0, -1].numpy()
            token = int(np.argmax(last))
            if token in stop_ids:
                break
            answer.append(token)
            ids.append(token)
    return answer


class InstructionAccuracyHook(HookBase):
    """Score greedy answers on held-out Alpaca records before and after training.

    Args:
        path: the held-out Alpaca file.
        max_length: prompt budget (as ``AlpacaDataset``'s ``max_length``); also the
            context cropped to at generation, which must not exceed the model's positions.
        max_new_tokens: answer length limit.
        max_records: score only the first records (``None``: all).
        output_dir: where ``instruction_accuracy.json`` goes (default ``train.output_dir``).
    """

    def __init__(
        self,
        path: str,
        max_length: int = 128,
        max_new_tokens: int = 16,
        max_records: Optional[int] = None,
        output_dir: Optional[str] = None,
    ) -> None:
        self.path = str(path)
        self.max_length = int(max_length)
        self.max_new_tokens = int(max_new_tokens)
        self.max_records = max_records
        self._output_dir = output_dir
        self.before: Optional[dict[str, Any]] = None
        self.after: Optional[dict[str, Any]] = None

    def evaluate(self) -> dict[str, Any]:
        """``{"accuracy", "correct", "total", "answers": [{prompt-less record + answer}]}``."""
        tokenizer = self.trainer.tokenizer
        if tokenizer is None:
            raise ValueError(
                "InstructionAccuracyHook needs the trainer's tokenizer: set "
                "cfg.tokenization.tokenizer"
            )
        dataset = AlpacaDataset(self.path, tokenizer, max_length=self.max_length)
        stop_ids = list(getattr(tokenizer, "stop_token_ids", None) or [tokenizer.eos_token_id])
        model = self.trainer.model
        was_training = model.training
        model.eval()
        answers = []
        try:
            count = (
                len(dataset) if self.max_records is None else min(len(dataset), self.max_records)
            )
            for index in range(count):
                prompt_ids, _ = dataset.tokens(index)
                ids = greedy_answer(
                    model, prompt_ids, self.max_new_tokens, stop_ids, self.max_length
                )
                text = tokenizer.decode(ids, skip_special_tokens=True).strip()
                expected = dataset.records[index]["output"].strip()
                answers.append(
                    {**dataset.records[index], "answer": text, "correct": text == expected}
                )
        finally:
            model.train(was_training)
        correct = sum(a["correct"] for a in answers)
        return {
            "accuracy": correct / max(1, len(answers)),
            "correct": correct,
            "total": len(answers),
            "answers": answers,
        }

    def before_train(self) -> None:
        if self.trainer.start_iter == 0:
            self.before = self.evaluate()
            logger.info(
                "held-out exact match before training: %d/%d",
                self.before["correct"],
                self.before["total"],
            )

    def after_train(self) -> None:
        if self.trainer.iter < self.trainer.max_iter:
            return  # training failed: nothing to score
        self.after = self.evaluate()
        from libai.utils import distributed as dist

        if not dist.is_main_process():
            return
        lines = []
        for name, result in (("before", self.before), ("after", self.after)):
            if result is not None:
                lines.append(
                    f"held-out exact match {name} training: {result['correct']}/{result['total']}"
                    f" = {100 * result['accuracy']:.1f}%"
                )
        for line in lines:
            logger.info(line)
            print(line, flush=True)
        out_dir = self._output_dir or self.trainer.cfg.train.output_dir
        os.makedirs(out_dir, exist_ok=True)
        path = os.path.join(out_dir, "instruction_accuracy.json")
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"path": self.path, "before": self.before, "after": self.after}, f, indent=1)
        os.replace(tmp, path)
