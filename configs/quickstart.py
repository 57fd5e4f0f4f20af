"""Quickstart: train a small GPT on three Shakespeare plays, on a CPU, in a few minutes.

    libai-engine run configs/quickstart.py                 # the full run
    libai-engine run configs/quickstart.py --fast-dev-run  # 20 iterations, a smoke test

Everything it needs ships with the packages: the text (libai-data's
``libai/data/quickstart/shakespeare.txt``, public domain), a byte-level BPE tokenizer
trained on it at first use, and a Megatron indexed dataset made from it by libai.data's
preprocessing; both are cached in ``$LIBAI_CACHE_DIR`` (default ``~/.cache/libai``).
The run evaluates perplexity on held-out scenes, writes checkpoints, ``metrics.json``,
TensorBoard events and ``loss_curve.png`` to ``train.output_dir``, and prints a sample
that the trained model writes after the prompt below.
"""

from libai.config import LazyCall, get_config
from libai.data.quickstart import data_prefix
from omegaconf import OmegaConf

VOCAB_SIZE = 2048
SEQ_LENGTH = 128
PREFIX = data_prefix(VOCAB_SIZE)  # just a path: nothing is built when the config loads

# -- tokenizer: trained on the bundled text the first time it is built ----------------
tokenization = OmegaConf.create()
tokenization.tokenizer = LazyCall("libai.data.quickstart.quickstart_tokenizer")(
    vocab_size=VOCAB_SIZE
)
tokenization.append_eod = True
tokenization.make_vocab_size_divisible_by = 128

# -- data: one document per scene; 10% of the scenes held out for validation ------------
dataloader = OmegaConf.create()
dataloader.train = LazyCall("libai.data.build_nlp_train_val_test_loader")(
    dataset=[
        LazyCall("datasets:GPT2Dataset")(
            name="shakespeare",
            tokenizer=None,  # filled in by the trainer
            data_prefix=PREFIX,
            indexed_dataset=LazyCall("libai.data.quickstart.quickstart_indexed_dataset")(
                vocab_size=VOCAB_SIZE
            ),
            max_seq_length=SEQ_LENGTH,
            seed=1234,
        ),
    ],
    train_val_test_num_samples=None,  # filled in by the trainer
    splits=[[90.0, 10.0, 0.0]],
    weights=[1.0],
    num_workers=0,  # the samples are tiny: worker processes would cost more than they save
)

# -- model: LiBai's GPT, small --------------------------------------------------------
model = get_config("common/models/gpt.py").pretrain_model
model.cfg.update(
    hidden_layers=2,
    vocab_size=VOCAB_SIZE,  # the trainer sets the tokenizer's padded size here
    hidden_size=128,
    ffn_hidden_size=512,
    num_attention_heads=4,
    max_seq_length=SEQ_LENGTH,
    # No dropout: a few hundred steps are far from overfitting 100 k tokens.
    embedding_dropout_prob=0.0,
    attention_dropout_prob=0.0,
    output_dropout_prob=0.0,
)

# -- optimizer and schedule -------------------------------------------------------------
optim = LazyCall("oneflow.optim.AdamW")(
    params=LazyCall("libai.optim.get_default_optimizer_params")(
        weight_decay_norm=0.0, weight_decay_bias=0.0
    ),
    lr=5e-3,
    weight_decay=0.01,
    betas=(0.9, 0.95),
)

train = get_config("common/train.py").train
train.output_dir = "./output/quickstart"
train.train_micro_batch_size = 16
train.test_micro_batch_size = 16
train.train_iter = 600
train.warmup_ratio = 0.05
train.scheduler = LazyCall("libai.scheduler.WarmupCosineLR")(
    warmup_factor=0.01, alpha=0.1, warmup_method="linear"
)
train.log_period = 20
train.seed = 1234
train.checkpointer.period = 200
train.checkpointer.max_to_keep = 2
train.evaluation.enabled = True
train.evaluation.evaluator = LazyCall("libai.evaluation.PPLEvaluator")()
train.evaluation.eval_period = 200
train.evaluation.eval_iter = 5
train.evaluation.eval_metric = "PPL"
train.evaluation.eval_mode = "min"
train.hooks = [
    # Sampled (temperature 0.8 over the 20 likeliest tokens, seeded): greedy decoding
    # of a model this small repeats one word.
    LazyCall("libai.engine.hooks.SampleTextHook")(
        prompt="MACBETH:\n",
        max_new_tokens=64,
        temperature=0.8,
        top_k=20,
        seed=0,
        max_context=SEQ_LENGTH,
    ),
]

# Static graph: about 4x faster than eager on this CPU (0.58 vs 2.5 s per step, measured
# side by side on a busy 2-core machine). See libai-engine's README on the rare CPU
# segfault of graph runs; `--resume` continues from the last checkpoint if it happens.
graph = dict(enabled=True, debug=-1)
