"""libai.evaluation: exact metric values, the inference loop, and the evaluator entry points."""

from __future__ import annotations

import logging
import math
import statistics
from importlib.metadata import entry_points

import numpy as np
import pytest
import sacrebleu
from libai.evaluation import (
    BLEUEvaluator,
    ClsEvaluator,
    DatasetEvaluator,
    DatasetEvaluators,
    PPLEvaluator,
    RegEvaluator,
    flatten_results_dict,
    inference_on_dataset,
    print_csv_format,
)
from libai.evaluation.reg_evaluator import rankdata
from libai.utils import distributed as dist
from libai.utils.oneflow_env import flow

LOGITS = np.array(
    [
        [0.1, 0.7, 0.2, 0.0],  # label 1: top-1 hit
        [0.5, 0.1, 0.3, 0.1],  # label 2: second best -> top-2 hit
        [0.2, 0.3, 0.4, 0.1],  # label 3: last -> miss even at top-3
        [0.9, 0.0, 0.05, 0.05],  # label 0: top-1 hit
    ],
    dtype=np.float32,
)
LABELS = np.array([1, 2, 3, 0])


def test_cls_topk_accuracy_on_known_logits():
    evaluator = ClsEvaluator(topk=(1, 2, 3, 10))
    evaluator.reset()
    evaluator.process(
        {"labels": flow.tensor(LABELS[:2])}, {"prediction_scores": flow.tensor(LOGITS[:2])}
    )
    evaluator.process(
        {"labels": flow.tensor(LABELS[2:])}, {"prediction_scores": flow.tensor(LOGITS[2:])}
    )
    assert evaluator.evaluate() == {"Acc@1": 50.0, "Acc@2": 75.0, "Acc@3": 75.0, "Acc@10": 100.0}
    evaluator.reset()
    evaluator.process({"labels": LABELS}, {"prediction_scores": LOGITS})
    assert evaluator.evaluate()["Acc@1"] == 50.0


def test_ppl_is_exp_of_mean_token_cross_entropy():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 5, 7)).astype(np.float32)
    labels = rng.integers(0, 7, size=(2, 5))
    labels[1, 3:] = -1  # ignored positions
    evaluator = PPLEvaluator()
    evaluator.process({"labels": flow.tensor(labels)}, {"prediction_scores": flow.tensor(logits)})
    # Independent reference: OneFlow's own cross entropy over the kept tokens.
    keep = labels.reshape(-1) >= 0
    ce = flow.nn.functional.cross_entropy(
        flow.tensor(logits.reshape(-1, 7)[keep]), flow.tensor(labels.reshape(-1)[keep])
    )
    assert evaluator.evaluate()["PPL"] == pytest.approx(math.exp(float(ce.numpy())), rel=1e-5)


def test_ppl_of_uniform_logits_is_the_vocab_size():
    evaluator = PPLEvaluator()
    evaluator.process(
        {"labels": flow.tensor([[1, 2, 3]])}, {"prediction_scores": flow.zeros(1, 3, 11)}
    )
    assert evaluator.evaluate()["PPL"] == pytest.approx(11.0)


def test_regression_correlations():
    preds = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    labels = np.array([2.0, 1.0, 4.0, 3.0, 6.0, 6.0])
    evaluator = RegEvaluator()
    evaluator.process(
        {"labels": flow.tensor(labels[:3])}, {"prediction_scores": flow.tensor(preds[:3, None])}
    )
    evaluator.process(
        {"labels": flow.tensor(labels[3:])}, {"prediction_scores": flow.tensor(preds[3:, None])}
    )
    result = evaluator.evaluate()
    assert result["pearson"] == pytest.approx(statistics.correlation(preds, labels))
    # Ranks of the labels with the tie averaged: [2, 1, 4, 3, 5.5, 5.5].
    assert list(rankdata(labels)) == [2.0, 1.0, 4.0, 3.0, 5.5, 5.5]
    expected_spearman = statistics.correlation([1, 2, 3, 4, 5, 6], [2, 1, 4, 3, 5.5, 5.5])
    assert result["spearman"] == pytest.approx(expected_spearman)
    assert result["corr"] == pytest.approx((result["pearson"] + result["spearman"]) / 2)


def test_bleu_matches_sacrebleu():
    candidates = ["the cat sat on the mat", "a quick brown fox jumps", "hello there world"]
    references = ["the cat is on the mat", "the quick brown fox jumps", "hello world"]
    evaluator = BLEUEvaluator()
    evaluator.process({"reference": references[:2]}, {"candidate": candidates[:2]})
    evaluator.process(
        {"reference": [references[2].split()]}, {"candidate": [candidates[2].split()]}
    )
    expected = sacrebleu.corpus_bleu(candidates, [references]).score
    assert evaluator.evaluate()["bleu_score"] == pytest.approx(expected)
    assert 0 < expected < 100
    with pytest.raises(ValueError, match="2 candidate"):
        evaluator.process({"reference": ["a"]}, {"candidate": ["a", "b"]})


def test_evaluators_combined_and_colliding_keys():
    combined = DatasetEvaluators([ClsEvaluator(topk=(1,)), PPLEvaluator()])
    combined.reset()
    combined.process({"labels": flow.tensor(LABELS)}, {"prediction_scores": flow.tensor(LOGITS)})
    result = combined.evaluate()
    assert list(result) == ["Acc@1", "PPL"] and result["Acc@1"] == 50.0
    twice = DatasetEvaluators([ClsEvaluator(topk=(1,)), ClsEvaluator(topk=(1,))])
    twice.process({"labels": flow.tensor(LABELS)}, {"prediction_scores": flow.tensor(LOGITS)})
    with pytest.raises(ValueError, match="'Acc@1'"):
        twice.evaluate()


class _Classifier(flow.nn.Module):
    """Returns fixed logits per sample id, so the metric is known exactly."""

    def __init__(self):
        super().__init__()
        self.table = flow.nn.Parameter(flow.tensor(np.concatenate([LOGITS, LOGITS[:1]])))
        self.seen_batch_sizes = []

    def forward(self, ids, labels=None):
        self.seen_batch_sizes.append(ids.shape[0])
        return {"prediction_scores": flow.index_select(self.table, 0, ids)}


def _get_batch(raw, device):
    placement = dist.get_layer_placement(0, device_type=device)
    return {
        k: flow.tensor(v).to_global(placement=placement, sbp=dist.get_hidden_sbp())
        for k, v in raw.items()
    }


def test_inference_on_dataset_pads_the_last_batch_and_drops_the_padding():
    dist.setup_dist_util({"data_parallel_size": 1})
    model = dist.convert_to_distributed_default_setting(_Classifier())
    labels = np.array([1, 2, 3, 0, 1])
    loader = [
        {"ids": np.array([0, 1]), "labels": labels[:2]},
        {"ids": np.array([2, 3]), "labels": labels[2:4]},
        {"ids": np.array([4]), "labels": labels[4:]},  # short: padded to 2
    ]
    model.train()
    result = inference_on_dataset(model, loader, 2, None, _get_batch, "cpu", ClsEvaluator((1, 2)))
    # Samples 0 and 3 and 4 hit at top-1, sample 1 also at top-2: 3/5 and 4/5.
    assert result == {"Acc@1": pytest.approx(60.0), "Acc@2": pytest.approx(80.0)}
    assert model.seen_batch_sizes == [2, 2, 2]
    assert model.training  # restored

    # eval_iter limits the number of batches.
    result = inference_on_dataset(model, loader, 2, 1, _get_batch, "cpu", [ClsEvaluator((1,))])
    assert result == {"Acc@1": 50.0}


def test_inference_on_dataset_requires_a_dict_output():
    def model(**batch):
        return batch["ids"]

    with pytest.raises(TypeError, match="must return a dict"):
        inference_on_dataset(model, [{"ids": np.array([0])}], 1, None, _get_batch, "cpu", None)


def test_base_evaluator_and_result_formatting(caplog):
    base = DatasetEvaluator()
    base.reset()
    base.process({}, {})
    assert base.evaluate() == {}
    assert flatten_results_dict({"a": {"b": 1, "c": {"d": 2}}, "e": 3}) == {
        "a/b": 1,
        "a/c/d": 2,
        "e": 3,
    }
    with caplog.at_level(logging.INFO, logger="libai.evaluation.utils"):
        print_csv_format({"cls": {"Acc@1": 50.0, "Acc-dog": 1.0}, "loss": 0.5})
    assert "copypaste: Acc@1" in caplog.text and "copypaste: 50.0000" in caplog.text
    assert "Acc-dog" not in caplog.text and "copypaste: loss=0.5" in caplog.text


@pytest.mark.parametrize("name", ["ClsEvaluator", "PPLEvaluator", "RegEvaluator", "BLEUEvaluator"])
def test_evaluator_entry_points(name):
    (ep,) = [ep for ep in entry_points(group="libai.evaluators") if ep.name == name]
    assert issubclass(ep.load(), DatasetEvaluator)


def test_topk_with_ties_agrees_with_oneflow_topk():
    from libai.evaluation.cls_evaluator import topk_correct

    rng = np.random.default_rng(1)
    logits = rng.integers(0, 3, size=(200, 6)).astype(np.float32)  # many ties
    labels = rng.integers(0, 6, size=200)
    for k in (1, 2, 3):
        _, top = flow.topk(flow.tensor(logits), k, dim=1)
        expected = int((top.numpy() == labels[:, None]).any(axis=1).sum())
        assert topk_correct(logits, labels, [k]) == [expected]


def test_ppl_from_numpy_global_and_local_tensors_agree():
    from libai.evaluation.ppl_evaluator import token_cross_entropy

    dist.setup_dist_util({"data_parallel_size": 1})
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(3, 4, 9)).astype(np.float32)
    labels = rng.integers(-1, 9, size=(3, 4))
    loss, tokens = token_cross_entropy(logits, labels)
    assert tokens == int((labels >= 0).sum())
    placement, sbp = dist.get_layer_placement(0), dist.get_hidden_sbp()
    results = []
    for make in (
        lambda a: a,
        flow.tensor,
        lambda a: flow.tensor(a).to_global(placement=placement, sbp=sbp),
    ):
        evaluator = PPLEvaluator()
        evaluator.process({"labels": make(labels)}, {"prediction_scores": make(logits)})
        results.append(evaluator.evaluate()["PPL"])
    assert results == pytest.approx([math.exp(loss / tokens)] * 3, rel=1e-6)
