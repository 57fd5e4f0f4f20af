"""Swin-T on CIFAR-100 (LiBai's configs/swin_cifar100.py).

Run: libai-engine run configs/swin_cifar100.py  (the data config expects the python
release of CIFAR-100 unpacked under `root`: ./cifar-100-python/{train,test}). Images are
resized to 224x224; the data config's Mixup makes soft labels for the model's loss.
"""

from flowvision.data import Mixup
from libai.config import LazyCall, get_config

model = get_config("common/models/swin/swin_tiny_patch4_window7_224.py").model
graph = get_config("common/models/graph.py").graph
train = get_config("common/train.py").train
dataloader = get_config("common/data/cifar100.py").dataloader

optim = LazyCall("oneflow.optim.AdamW")(
    params=LazyCall("libai.optim.get_default_optimizer_params")(
        clip_grad_max_norm=None,
        clip_grad_norm_type=None,
        weight_decay_norm=0.0,
        weight_decay_bias=0.0,
    ),
    lr=5e-4,
    weight_decay=0.05,
    betas=(0.9, 0.999),
    eps=1e-8,
    do_bias_correction=True,
)

# Add Mixup Func
dataloader.train.mixup_func = LazyCall(Mixup)(
    mixup_alpha=0.8,
    cutmix_alpha=1.0,
    prob=1.0,
    switch_prob=0.5,
    mode="batch",
    num_classes=100,
)

# Refine model cfg for swin training on cifar100
model.cfg.num_classes = 100
# loss_func stays None: the model uses the soft-target cross entropy for mixup's
# (batch, classes) labels and plain cross entropy for class ids (LiBai sets
# SoftTargetCrossEntropy here, which fails on class ids when mixup is off).

# Refine train cfg for swin model
train.train_micro_batch_size = 32
train.num_accumulation_steps = 1
train.test_micro_batch_size = 32
train.train_epoch = 300
train.warmup_ratio = 20 / 300
train.evaluation.eval_period = 200
train.log_period = 20

# Scheduler
train.scheduler.warmup_factor = 5e-7
train.scheduler.alpha = 0.0
train.scheduler.warmup_method = "linear"

# Parallel settings: one process on this machine (LiBai's file uses 2x2x2 on 8 GPUs).
train.dist.data_parallel_size = 1
train.dist.tensor_parallel_size = 1
train.dist.pipeline_parallel_size = 1
train.dist.pipeline_num_layers = sum(model.cfg.depths)
train.output_dir = "output/swin_cifar100"

train.amp.enabled = False  # AMP is a no-op on the CPU (shared/DESIGN.md section 5)
graph.enabled = False
