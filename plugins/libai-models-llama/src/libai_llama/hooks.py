"""``InstructionAccuracyHook``: exact-match accuracy of greedy answers, before and after fine-tuning.

``llama/sft.py`` adds it to ``train.hooks``. Before the first step of a fresh run and
after the last one it answers every record of a held-out Alpaca file greedily (the
prompt as :class:`~libai_llama.alpaca.AlpacaDataset` builds it, generation stopped at
EOS) and counts the answers equal to the record's output. It logs both numbers at the
end and writes them, with every answer, to ``<output_dir>/instruction_accuracy.json``.

Answers come from the model's ``generate`` (libai.inference: a KV cache, prompts
left-padded into batches); a model without ``generate`` is run step by step by
:func:`greedy_answer` on its logits.
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

# Under "libai.": the engine sends that namespace to the console and log.txt.
logger = logging.getLogger("libai.plugins.libai_models_llama")


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
        batch_size: prompts generated together.
        output_dir: where ``instruction_accuracy.json`` goes (default ``train.output_dir``).
    """

    def __init__(
        self,
        path: str,
        max_length: int = 128,
        max_new_tokens: int = 16,
        max_records: Optional[int] = None,
        batch_size: int = 16,
        output_dir: Optional[str] = None,
    ) -> None:
        self.path = str(path)
        self.max_length = int(max_length)
        self.max_new_tokens = int(max_new_tokens)
        self.max_records = max_records
        self.batch_size = int(batch_size)
        self._output_dir = output_dir
        self.before: Optional[dict[str, Any]] = None
        self.after: Optional[dict[str, Any]] = None

    def evaluate(self) -> dict[str, Any]:
        """``{"accuracy", "correct", "total", "answers": [record + "answer" + "correct"]}``."""
        tokenizer = self.trainer.tokenizer
        if tokenizer is None:
            raise ValueError(
                "InstructionAccuracyHook needs the trainer's tokenizer: set "
                "cfg.tokenization.tokenizer"
            )
        dataset = AlpacaDataset(self.path, tokenizer, max_length=self.max_length)
        stop_ids = list(getattr(tokenizer, "stop_token_ids", None) or [tokenizer.eos_token_id])
        count = len(dataset) if self.max_records is None else min(len(dataset), self.max_records)
        prompts = [dataset.tokens(i)[0] for i in range(count)]
        model = self.trainer.model
        was_training = model.training
        model.eval()
        try:
            if hasattr(model, "generate"):
                outputs = self._generate(model, prompts, stop_ids, dataset.pad_id)
            else:
                outputs = [
                    greedy_answer(model, ids, self.max_new_tokens, stop_ids, self.max_length)
                    for ids in prompts
                ]
        finally:
            model.train(was_training)
        answers = []
        for index, ids in enumerate(outputs):
            text = tokenizer.decode(ids, skip_special_tokens=True).strip()
            expected = dataset.records[index]["output"].strip()
            answers.append({**dataset.records[index], "answer": text, "correct": text == expected})
        correct = sum(a["correct"] for a in answers)
        return {
            "accuracy": correct / max(1, len(answers)),
            "correct": correct,
            "total": len(answers),
            "answers": answers,
        }

    def _generate(
        self, model: Any, prompts: list[list[int]], stop_ids: list[int], pad_id: int
    ) -> list[list[int]]:
        """Greedy answers by ``model.generate``, prompts left-padded in batches."""
        answers = []
        for start in range(0, len(prompts), self.batch_size):
            batch = prompts[start : start + self.batch_size]
            width = max(len(p) for p in batch)
            ids = np.full((len(batch), width), pad_id, dtype=np.int64)
            mask = np.zeros_like(ids)
            for row, prompt in enumerate(batch):
                ids[row, width - len(prompt) :] = prompt
                mask[row, width - len(prompt) :] = 1
            out = model.generate(
                ids,
                attention_mask=mask,
                max_new_tokens=self.max_new_tokens,
                do_sample=False,
                num_beams=1,
                eos_token_id=stop_ids,
                pad_token_id=pad_id,
            )
            for row in out.numpy()[:, width:].tolist():
                cut = next((i for i, t in enumerate(row) if t in stop_ids), len(row))
                answers.append(row[:cut])
        return answers

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
        out_dir = self._output_dir or self.trainer.cfg.train.output_dir
        os.makedirs(out_dir, exist_ok=True)
        path = os.path.join(out_dir, "instruction_accuracy.json")
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"path": self.path, "before": self.before, "after": self.after}, f, indent=1)
        os.replace(tmp, path)
