"""A complete run config over the tests' toy MLP and synthetic data (tests/toy.py)."""

from libai.config import LazyCall, get_config

train = get_config("common/train.py").train
train.output_dir = "./output/toy_mlp"
train.train_micro_batch_size = 8
train.test_micro_batch_size = 8
train.global_batch_size = None
train.num_accumulation_steps = None
train.train_iter = 12
train.log_period = 4
train.seed = 7
train.checkpointer.period = 4
train.checkpointer.max_to_keep = 2
train.evaluation.enabled = True
train.evaluation.eval_period = 6
train.evaluation.eval_iter = 4
train.evaluation.evaluator = LazyCall("libai.evaluation.ClsEvaluator")(topk=(1,))
train.evaluation.eval_metric = "Acc@1"
train.evaluation.eval_mode = "max"
train.scheduler = LazyCall("libai.scheduler.WarmupCosineLR")(
    warmup_factor=0.1, alpha=0.1, warmup_method="linear"
)
train.warmup_ratio = 0.25

model = LazyCall("toy.ToyMLP")(hidden=32)

optim = LazyCall("oneflow.optim.AdamW")(
    params=LazyCall("libai.optim.get_default_optimizer_params")(
        weight_decay_norm=0.0, weight_decay_bias=0.0
    ),
    lr=1e-2,
    weight_decay=0.01,
)

dataloader = dict(
    train=LazyCall("toy.build_toy_loaders")(num_samples=256, num_test_samples=32),
)

graph = dict(enabled=False, debug=-1)
