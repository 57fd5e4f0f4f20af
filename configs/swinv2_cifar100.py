"""SwinV2-T (window 8) on CIFAR-100 at 256x256 (LiBai's configs/swinv2_cifar100.py).

Run: libai-engine run configs/swinv2_cifar100.py  (CIFAR-100's python release under
`root`, see the data config). The transforms are the data config's, resized to 256.
"""

from flowvision.data import Mixup
from libai.config import LazyCall, get_config

model = get_config("common/models/swinv2/swinv2_tiny_patch4_window8_256.py").model
graph = get_config("common/models/graph.py").graph
train = get_config("common/train.py").train
dataloader = get_config("common/data/cifar100.py").dataloader

optim = LazyCall("oneflow.optim.AdamW")(
    params=LazyCall("libai.optim.get_default_optimizer_params")(
        clip_grad_max_norm=None,
        clip_grad_norm_type=None,
        weight_decay_norm=0.0,
        weight_decay_bias=0.0,
        # LiBai's SwinV2 recipe keeps these out of weight decay.
        overrides={
            "absolute_pos_embed": {"weight_decay": 0.0},
            "logit_scale": {"weight_decay": 0.0},
        },
    ),
    lr=5e-4,
    weight_decay=0.05,
    betas=(0.9, 0.999),
    eps=1e-8,
    do_bias_correction=True,
)

# 256x256 inputs: the data config's crops are 224, SwinV2-T/8 is built for 256.
dataloader.train.dataset[0].transform.transforms[0].size = (256, 256)
dataloader.test[0].dataset.transform.transforms[0].size = 256
dataloader.test[0].dataset.transform.transforms[1].size = 256

# Add Mixup Func
dataloader.train.mixup_func = LazyCall(Mixup)(
    mixup_alpha=0.8,
    cutmix_alpha=1.0,
    prob=1.0,
    switch_prob=0.5,
    mode="batch",
    num_classes=100,
)

# Refine model cfg for swinv2 training on cifar100
model.cfg.num_classes = 100
# loss_func stays None: the model uses the soft-target cross entropy for mixup's
# (batch, classes) labels and plain cross entropy for class ids (LiBai sets
# SoftTargetCrossEntropy here, which fails on class ids when mixup is off).

# Refine train cfg for swinv2 model
train.train_micro_batch_size = 32
train.num_accumulation_steps = 1
train.test_micro_batch_size = 32
train.train_epoch = 300
train.warmup_ratio = 20 / 300
train.evaluation.eval_period = 1562
train.log_period = 10

# Scheduler
train.scheduler.warmup_factor = 5e-7
train.scheduler.alpha = 0.0
train.scheduler.warmup_method = "linear"

train.dist.data_parallel_size = 1
train.dist.tensor_parallel_size = 1
train.dist.pipeline_parallel_size = 1
train.dist.pipeline_num_layers = sum(model.cfg.depths)
train.output_dir = "output/swinv2_cifar100"

train.amp.enabled = False  # AMP is a no-op on the CPU (shared/DESIGN.md section 5)
train.activation_checkpoint.enabled = False
graph.enabled = False
