"""Corpus BLEU with sacrebleu (LiBai's ``BLEUEvaluator`` used nltk; sacrebleu is the standard)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from libai.evaluation.evaluator import DatasetEvaluator


def _sentences(value: Any) -> list:
    """A batch of sentences: a string, a list of strings, or a list of token lists."""
    if isinstance(value, str):
        return [value]
    out = []
    for item in value:
        if isinstance(item, str):
            out.append(item)
        else:
            out.append(" ".join(str(token) for token in item))
    return out


class BLEUEvaluator(DatasetEvaluator):
    """``bleu_score``: sacrebleu's corpus BLEU (0 to 100) of ``outputs["candidate"]``
    against ``inputs["reference"]`` (one reference per candidate)."""

    def __init__(self, tokenize: str = "13a") -> None:
        self.tokenize = tokenize
        self.reset()

    def process(self, inputs: Mapping[str, Any], outputs: Mapping[str, Any]) -> None:
        self._note_inputs(None)
        candidates = _sentences(outputs["candidate"])
        references = _sentences(inputs["reference"])
        if len(candidates) != len(references):
            raise ValueError(
                f"BLEUEvaluator: {len(candidates)} candidate(s) but {len(references)} "
                "reference(s) in one batch; give one reference per candidate"
            )
        self._records.append({"candidates": candidates, "references": references})

    def evaluate(self) -> dict:
        import sacrebleu

        records = self._gather()
        candidates = [c for r in records for c in r["candidates"]]
        references = [c for r in records for c in r["references"]]
        score = sacrebleu.corpus_bleu(candidates, [references], tokenize=self.tokenize)
        return OrderedDict(bleu_score=float(score.score))
