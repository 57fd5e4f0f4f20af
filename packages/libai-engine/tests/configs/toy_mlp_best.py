"""toy_mlp.py with an evaluation score chosen per iteration (for the best-checkpoint test).

Evaluations at iterations 3, 7 and 11 score 0.9, 0.5 and 0.4: the first is the best.
"""

from libai.config import LazyCall

from .toy_mlp import dataloader, graph, model, optim, train

train.evaluation.eval_period = 4
train.evaluation.evaluator = LazyCall("toy.ScriptedEvaluator")(
    scores={"3": 0.9, "7": 0.5, "11": 0.4}
)
train.evaluation.eval_metric = "score"
train.evaluation.eval_mode = "max"
