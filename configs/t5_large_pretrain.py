"""T5 pre-training (LiBai's configs/t5_large_pretrain.py).

Run: libai-engine run configs/t5_large_pretrain.py  (data paths below are placeholders).
Trains on the CPU as is: the fused-kernel flags fall back to exact ops there.
"""

from libai.config import LazyCall, get_config

model = get_config("common/models/t5.py").pretrain_model
graph = get_config("common/models/graph.py").graph
train = get_config("common/train.py").train
_data = get_config("common/data/t5_dataset.py")
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

# T5-large model config
model.cfg.num_attention_heads = 12
model.cfg.hidden_size = 384
model.cfg.hidden_layers = 6

train.input_placement_device = "cpu"
# Encoder and decoder layers both count: the decoder's layer indices follow the encoder's.
train.dist.pipeline_num_layers = 2 * model.cfg.hidden_layers
train.train_micro_batch_size = 16
train.amp.enabled = False  # AMP is a no-op on the CPU (shared/DESIGN.md section 5)

train.evaluation.evaluator = LazyCall("libai.evaluation.PPLEvaluator")()
train.evaluation.eval_metric = "PPL"
train.evaluation.eval_mode = "min"

train.output_dir = "./output/t5_output"
