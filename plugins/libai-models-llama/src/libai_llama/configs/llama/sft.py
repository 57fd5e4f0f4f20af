"""Supervised fine-tuning of a small Llama on the plugin's bundled instructions, on a CPU.

    SFT=$(python -c 'from libai.config.get_config import find_config; print(find_config("llama/sft.py"))')
    libai-engine run "$SFT"                  # the full run (2000 steps: 7 minutes at 0.2 s a step)
    libai-engine run "$SFT" --fast-dev-run   # a smoke test

The data ships with the plugin (``libai_llama/data``: 798 training and 102 held-out
Alpaca records of four tasks with exact answers: three digit words to a number, copying
three words, giving the last of three words, repeating a word; see its ``SOURCE.md``), read by
``AlpacaDataset`` with the standard Alpaca prompts; the loss counts only the responses.
The tokenizer is a byte-level BPE trained on the training records (``data/tokenizer``,
read by ``LlamaTokenizer``). The model is a fresh 2-layer Llama; to fine-tune a Hugging
Face checkpoint instead, set ``model.cfg.pretrained_model_path`` to its directory (its
``config.json`` then gives the sizes) and ``tokenization.tokenizer.pretrained_model_path``
to the same directory.

Before the first step and after the last, ``InstructionAccuracyHook`` answers every
held-out record greedily and prints the exact-match accuracy; both numbers and every
answer land in ``<output_dir>/instruction_accuracy.json``.
"""

from libai.config import LazyCall, get_config
from libai_llama.data import HELDOUT_PATH, TOKENIZER_DIR, TRAIN_PATH
from omegaconf import OmegaConf

# Prompt + answer tokens of the longest bundled record, with room to spare.
MAX_LENGTH = 64

# -- tokenizer: shipped with the plugin, trained on the training records ----------------
tokenization = OmegaConf.create()
tokenization.tokenizer = LazyCall("tokenizers:llama")(pretrained_model_path=str(TOKENIZER_DIR))
# The trainer writes the padded vocabulary size into model.cfg.vocab_size.
tokenization.make_vocab_size_divisible_by = 64

# -- data: every training record, padded to MAX_LENGTH --------------------------------------
dataloader = OmegaConf.create()
dataloader.train = LazyCall("libai.data.build_nlp_train_loader")(
    dataset=[
        LazyCall("datasets:alpaca")(
            path=str(TRAIN_PATH),
            tokenizer=None,  # filled in by the trainer
            max_length=MAX_LENGTH,
        )
    ],
    num_workers=0,  # tiny samples: worker processes would cost more than they save
)

# -- model: a small Llama trained from scratch ---------------------------------------------
model = get_config("common/models/llama.py").model
model.cfg.update(
    hidden_layers=2,
    hidden_size=128,
    intermediate_size=352,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=MAX_LENGTH,
    vocab_size=512,  # the trainer sets the tokenizer's padded size here
    pretrained_model_path=None,
    # The ids of <s>, </s> and <pad> in data/tokenizer (tests check they agree), used by
    # the model's generate and by `libai-engine generate`.
    bos_token_id=484,
    eos_token_id=485,
    pad_token_id=486,
)

# -- optimizer and schedule ---------------------------------------------------------------
# LiBai's default AdamW (libai-config's common/optim.py), at a small model's rate.
optim = get_config("common/optim.py").optim
optim.lr = 5e-3
optim.betas = (0.9, 0.98)

train = get_config("common/train.py").train
train.output_dir = "./output/llama_sft"
train.train_micro_batch_size = 16
train.train_iter = 2000
train.warmup_ratio = 0.05
train.scheduler = LazyCall("libai.scheduler.WarmupCosineLR")(
    warmup_factor=0.01, alpha=0.05, warmup_method="linear"
)
train.log_period = 20
train.seed = 1234
train.checkpointer.period = 2000
train.checkpointer.max_to_keep = 1
train.evaluation.enabled = False
train.hooks = [
    LazyCall("libai_llama.hooks.InstructionAccuracyHook")(
        path=str(HELDOUT_PATH), max_length=MAX_LENGTH, max_new_tokens=8, max_records=None
    ),
]

graph = dict(enabled=True, debug=-1)
