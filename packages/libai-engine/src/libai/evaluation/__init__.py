"""Evaluation (LiBai's ``libai.evaluation``): evaluators and the inference loop.

An evaluator follows the :class:`DatasetEvaluator` protocol: ``reset()``,
``process(inputs, outputs)`` once per batch, ``evaluate() -> dict``. In a
multi-process run every rank returns the same results: global tensors are read
whole, and counts from rank-local tensors are combined across ranks.
"""

from libai.evaluation.bleu_evaluator import BLEUEvaluator
from libai.evaluation.cls_evaluator import ClsEvaluator
from libai.evaluation.evaluator import DatasetEvaluator, DatasetEvaluators, inference_on_dataset
from libai.evaluation.ppl_evaluator import PPLEvaluator
from libai.evaluation.reg_evaluator import RegEvaluator
from libai.evaluation.utils import flatten_results_dict, print_csv_format

__all__ = [
    "BLEUEvaluator",
    "ClsEvaluator",
    "DatasetEvaluator",
    "DatasetEvaluators",
    "PPLEvaluator",
    "RegEvaluator",
    "flatten_results_dict",
    "inference_on_dataset",
    "print_csv_format",
]
