"""A tiny character-level language model run: tokenizer, text loader, SampleTextHook."""

from libai.config import LazyCall, get_config

train = get_config("common/train.py").train
train.output_dir = "./output/toy_lm"
train.train_micro_batch_size = 4
train.train_iter = 30
train.log_period = 10
train.seed = 3
train.checkpointer.period = 1000
train.evaluation.enabled = False
train.scheduler = LazyCall("libai.scheduler.WarmupCosineLR")(
    warmup_factor=0.1, alpha=0.1, warmup_method="linear"
)
train.hooks = [LazyCall("libai.engine.hooks.SampleTextHook")(prompt="the quick", max_new_tokens=8)]

tokenization = dict(
    tokenizer=LazyCall("toy.CharTokenizer")(),
    make_vocab_size_divisible_by=8,
)

model = LazyCall("toy.ToyLM")(vocab_size=28, hidden=32, layers=2, heads=2)

optim = LazyCall("oneflow.optim.AdamW")(
    params=LazyCall("libai.optim.get_default_optimizer_params")(),
    lr=1e-2,
    weight_decay=0.0,
)

dataloader = dict(train=LazyCall("toy.build_text_loaders")(seq_len=16))

graph = dict(enabled=False)
