"""GPT-2 pre-training (LiBai's configs/gpt2_pretrain.py).

Run: libai-engine run configs/gpt2_pretrain.py  (data paths below are placeholders:
override them, e.g. `dataloader.train.dataset.0.data_prefix=/path/to/prefix`).
Trains on the CPU as is: the fused-kernel flags fall back to exact ops there.
"""

from libai.config import LazyCall, get_config

model = get_config("common/models/gpt.py").pretrain_model
graph = get_config("common/models/graph.py").graph
train = get_config("common/train.py").train
_data = get_config("common/data/gpt_dataset.py")
dataloader = _data.dataloader
tokenization = _data.tokenization

# LiBai's default AdamW (libai-config's common/optim.py), at this experiment's rate.
optim = get_config("common/optim.py").optim
optim.lr = 1.5e-4

vocab_file = "./data_test/gpt_data/gpt2-vocab.json"
merge_files = "./data_test/gpt_data/gpt2-merges.txt"
data_prefix = "./data_test/gpt_data/loss_compara_content_sentence"

tokenization.tokenizer.vocab_file = vocab_file
tokenization.tokenizer.merges_file = merge_files
dataloader.train.dataset[0].data_prefix = data_prefix
dataloader.train.dataset[0].indexed_dataset.data_prefix = data_prefix

# GPT-2 model config
model.cfg.embedding_dropout_prob = 0.1
model.cfg.attention_dropout_prob = 0.1
model.cfg.num_attention_heads = 16
model.cfg.hidden_size = 384
model.cfg.ffn_hidden_size = 1536
model.cfg.hidden_layers = 6
model.cfg.max_seq_length = 1024

train.input_placement_device = "cpu"
train.dist.pipeline_num_layers = model.cfg.hidden_layers

for ds in dataloader.train.dataset:
    ds.max_seq_length = model.cfg.max_seq_length

train.train_micro_batch_size = 4
train.amp.enabled = False  # AMP is a no-op on the CPU (shared/DESIGN.md section 5)

train.evaluation.evaluator = LazyCall("libai.evaluation.PPLEvaluator")()
train.evaluation.eval_metric = "PPL"
train.evaluation.eval_mode = "min"

train.output_dir = "./output/gpt2_output"
