"""The evaluator protocol and the inference loop (LiBai's ``inference_on_dataset``)."""

from __future__ import annotations

import datetime
import logging
import time
from collections import OrderedDict
from collections.abc import Mapping, MutableSequence
from typing import Any, Callable, Union

from libai.evaluation.utils import is_rank_shard, pad_batch
from libai.utils import distributed as dist
from libai.utils.oneflow_env import flow

logger = logging.getLogger(__name__)


class DatasetEvaluator:
    """Accumulates per-batch results (:meth:`process`) and summarizes them (:meth:`evaluate`).

    ``inference_on_dataset`` calls ``reset()`` once, ``process(inputs, outputs)`` per
    batch with the model's input dict and output dict, then ``evaluate()``.

    Multi-process runs: pass global tensors and every rank reads the whole batch;
    pass local tensors and each rank's share is combined in ``evaluate()`` by
    :meth:`_gather` (every rank must then call ``evaluate()``).
    """

    def reset(self) -> None:
        """Prepare for a new round of evaluation."""
        self._records: list = []
        self._sharded = False

    def process(self, inputs: Mapping[str, Any], outputs: Mapping[str, Any]) -> None:
        """Consume one batch: ``inputs`` as given to the model, ``outputs`` as it returned."""

    def evaluate(self) -> dict:
        """Return ``{metric name: value}`` for everything processed since ``reset()``."""
        return {}

    # -- for subclasses -------------------------------------------------------------

    def _note_inputs(self, *values: Any) -> None:
        if not hasattr(self, "_records"):
            self.reset()
        self._sharded = self._sharded or any(is_rank_shard(v) for v in values)

    def _gather(self) -> list:
        """The records of every rank when the inputs were rank-local, else this rank's."""
        records = getattr(self, "_records", [])
        if not getattr(self, "_sharded", False):
            return list(records)
        # Ranks that differ only in their tensor/pipeline position load the same data:
        # keep one share per data-parallel rank so nothing is counted twice.
        shares: dict = {}
        for dp_rank, rank_records in dist.all_gather_object(
            (dist.get_data_parallel_rank(), list(records))
        ):
            shares.setdefault(dp_rank, rank_records)
        return [r for dp_rank in sorted(shares) for r in shares[dp_rank]]


class DatasetEvaluators(DatasetEvaluator):
    """Several evaluators run as one; their result keys must not collide."""

    def __init__(self, evaluators: list) -> None:
        super().__init__()
        self._evaluators = list(evaluators)

    def reset(self) -> None:
        for evaluator in self._evaluators:
            evaluator.reset()

    def process(self, inputs: Mapping[str, Any], outputs: Mapping[str, Any]) -> None:
        for evaluator in self._evaluators:
            evaluator.process(inputs, outputs)

    def evaluate(self) -> dict:
        results: dict = OrderedDict()
        for evaluator in self._evaluators:
            result = evaluator.evaluate() or {}
            for key, value in result.items():
                if key in results:
                    raise ValueError(
                        f"two evaluators report the metric {key!r} "
                        f"(the second is {type(evaluator).__name__}); rename one"
                    )
                results[key] = value
        return results


def _dataset_size(data_loader: Any) -> int | None:
    """``len(data_loader.dataset)``, or ``None`` when the loader has no sized dataset."""
    try:
        return len(data_loader.dataset)
    except (AttributeError, TypeError):
        return None


def _valid_rows(value: Any, padded_size: int, valid: int) -> Any:
    if isinstance(value, flow.Tensor) and value.ndim >= 1 and value.shape[0] == padded_size:
        return value[:valid] if valid < padded_size else value
    return value


def inference_on_dataset(
    model: Callable,
    data_loader: Any,
    batch_size: int,
    eval_iter: int | None,
    get_batch: Callable,
    input_placement_device: str,
    evaluator: Union[DatasetEvaluator, list, None],
) -> dict:
    """Run ``model`` over ``data_loader`` without gradients and return the evaluator's results.

    Args:
        model: called as ``model(**batch)``; must return a dict of tensors. An
            ``nn.Module`` is put in eval mode for the loop and restored after.
        data_loader: iterable of raw batches.
        batch_size: the batch size the model expects; a shorter last batch is padded
            (a compiled graph has a fixed batch size) and the padding dropped again.
            When the loader has a ``dataset`` with a length, rows past that many
            samples are padding too and dropped: a data-parallel test sampler
            (``SingleRoundSampler``) completes the last global batch that way, so
            that every rank runs the same number of batches.
        eval_iter: evaluate at most this many batches (``None`` or a negative value: all).
        get_batch: ``get_batch(raw_batch, input_placement_device)`` -> dict of global tensors.
        input_placement_device: device type the batch is placed on first ("cpu").
        evaluator: an evaluator, a list of them, or ``None`` (only run the model).

    Raises ``TypeError`` when the model does not return a dict.
    """
    if evaluator is None:
        evaluator = DatasetEvaluators([])
    elif isinstance(evaluator, MutableSequence):
        evaluator = DatasetEvaluators(evaluator)
    evaluator.reset()
    limit = None if eval_iter is None or eval_iter < 0 else int(eval_iter)

    # Only an nn.Module switches modes here; an nn.Graph is compiled for one mode.
    was_training = isinstance(model, flow.nn.Module) and model.training
    if was_training:
        model.eval()
    start = time.perf_counter()
    compute_time = 0.0
    num_batches = 0
    num_samples = 0
    total = _dataset_size(data_loader)
    try:
        with flow.no_grad():
            for idx, raw in enumerate(data_loader):
                if (limit is not None and idx >= limit) or (
                    total is not None and num_samples >= total
                ):
                    break
                data = get_batch(raw, input_placement_device)
                padded, valid = pad_batch(data, batch_size)
                padded_size = max(valid, batch_size)
                if total is not None:
                    valid = min(valid, max(total - num_samples, 0))
                tic = time.perf_counter()
                outputs = model(**padded)
                compute_time += time.perf_counter() - tic
                if not isinstance(outputs, Mapping):
                    raise TypeError(
                        f"inference_on_dataset: the model returned {type(outputs).__name__}; "
                        "in eval mode it must return a dict such as {'prediction_scores': logits}"
                    )
                valid_inputs = {k: _valid_rows(v, padded_size, valid) for k, v in data.items()}
                valid_outputs = {k: _valid_rows(v, padded_size, valid) for k, v in outputs.items()}
                evaluator.process(valid_inputs, valid_outputs)
                num_batches += 1
                num_samples += valid
    finally:
        if was_training:
            model.train()

    total = time.perf_counter() - start
    logger.info(
        "Inference on %d batches (%d samples) took %s (%.4f s/batch, model %.4f s/batch) on %d "
        "process(es)",
        num_batches,
        num_samples,
        datetime.timedelta(seconds=int(total)),
        total / max(num_batches, 1),
        compute_time / max(num_batches, 1),
        dist.get_world_size(),
    )
    return evaluator.evaluate() or {}
