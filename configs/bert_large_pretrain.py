"""BERT-large pre-training (LiBai's configs/bert_large_pretrain.py).

Run: libai-engine run configs/bert_large_pretrain.py  (data paths below are placeholders).
Trains on the CPU as is: the fused-kernel flags fall back to exact ops there.
"""

from libai.config import LazyCall, get_config

model = get_config("common/models/bert.py").pretrain_model
graph = get_config("common/models/graph.py").graph
train = get_config("common/train.py").train
_data = get_config("common/data/bert_dataset.py")
dataloader = _data.dataloader
tokenization = _data.tokenization

# LiBai's default AdamW (libai-config's common/optim.py), at this experiment's rate.
optim = get_config("common/optim.py").optim
optim.lr = 1.5e-4

vocab_file = "./data_test/bert_data/bert-base-chinese-vocab.txt"
data_prefix = "./data_test/bert_data/loss_compara_content_sentence"

tokenization.tokenizer.vocab_file = vocab_file
dataloader.train.dataset[0].data_prefix = data_prefix
dataloader.train.dataset[0].indexed_dataset.data_prefix = data_prefix

# BERT-large model config
model.cfg.num_attention_heads = 16
model.cfg.hidden_size = 768
model.cfg.hidden_layers = 8

train.input_placement_device = "cpu"
train.dist.pipeline_num_layers = model.cfg.hidden_layers
train.train_micro_batch_size = 16
train.amp.enabled = False  # AMP is a no-op on the CPU (shared/DESIGN.md section 5)

for ds in dataloader.train.dataset:
    ds.max_seq_length = model.cfg.max_position_embeddings

train.evaluation.evaluator = LazyCall("libai.evaluation.PPLEvaluator")()
train.evaluation.eval_metric = "PPL"
train.evaluation.eval_mode = "min"

train.output_dir = "output/bert_output"
