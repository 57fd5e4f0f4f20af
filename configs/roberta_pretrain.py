"""RoBERTa masked-LM pre-training (LiBai's configs/roberta_pretrain.py).

Run: libai-engine run configs/roberta_pretrain.py  (data paths below are placeholders).
Trains on the CPU as is.
"""

from libai.config import LazyCall, get_config

model = get_config("common/models/roberta.py").pretrain_model
graph = get_config("common/models/graph.py").graph
train = get_config("common/train.py").train
_data = get_config("common/data/roberta_dataset.py")
dataloader = _data.dataloader
tokenization = _data.tokenization

# LiBai's default AdamW (libai-config's common/optim.py), at this experiment's rate.
optim = get_config("common/optim.py").optim
optim.lr = 1.5e-4

vocab_file = "./data_test/roberta_data/roberta-vocab.json"
merge_files = "./data_test/roberta_data/roberta-merges.txt"
data_prefix = "./data_test/roberta_data/loss_compara_content_sentence"

tokenization.tokenizer.vocab_file = vocab_file
tokenization.tokenizer.merges_file = merge_files
dataloader.train.dataset[0].data_prefix = data_prefix
dataloader.train.dataset[0].indexed_dataset.data_prefix = data_prefix

# RoBERTa-base model config
model.cfg.num_attention_heads = 12
model.cfg.hidden_size = 768
model.cfg.hidden_layers = 8

train.input_placement_device = "cpu"
train.dist.pipeline_num_layers = model.cfg.hidden_layers
train.train_micro_batch_size = 4
train.amp.enabled = False  # AMP is a no-op on the CPU (shared/DESIGN.md section 5)

for ds in dataloader.train.dataset:
    ds.max_seq_length = model.cfg.max_position_embeddings

train.evaluation.evaluator = LazyCall("libai.evaluation.PPLEvaluator")()
train.evaluation.eval_metric = "PPL"
train.evaluation.eval_mode = "min"

train.output_dir = "./output/roberta_output"
