"""ViT-Small/16 on ImageNet (LiBai's configs/vit_imagenet.py).

Run: libai-engine run configs/vit_imagenet.py  (point the two `root`s at an ImageFolder
tree: <root>/{train,val}/<class>/<image>). Mixup/CutMix produce soft labels, which the
model's soft-target cross entropy consumes.
"""

from flowvision.data import Mixup
from libai.config import LazyCall, get_config

model = get_config("common/models/vit/vit_small_patch16_224.py").model
graph = get_config("common/models/graph.py").graph
train = get_config("common/train.py").train
dataloader = get_config("common/data/imagenet.py").dataloader

optim = LazyCall("oneflow.optim.AdamW")(
    params=LazyCall("libai.optim.get_default_optimizer_params")(
        clip_grad_max_norm=None,
        clip_grad_norm_type=None,
        weight_decay_norm=0.0,
        weight_decay_bias=0.0,
        overrides={"pos_embed": {"weight_decay": 0.0}, "cls_token": {"weight_decay": 0.0}},
    ),
    lr=1e-3,  # 5e-4 * 1024 (batch size) / 512
    weight_decay=0.05,
    betas=(0.9, 0.999),
    eps=1e-8,
    do_bias_correction=True,
)

# Refine data path to imagenet
dataloader.train.dataset[0].root = "/path/to/imagenet"
dataloader.test[0].dataset.root = "/path/to/imagenet"

# Refine model cfg for vit training on imagenet
model.cfg.num_classes = 1000
# loss_func stays None: the model uses the soft-target cross entropy for mixup's
# (batch, classes) labels and plain cross entropy for class ids (LiBai sets
# SoftTargetCrossEntropy here, which fails on class ids when mixup is off).

# Add Mixup Func
dataloader.train.mixup_func = LazyCall(Mixup)(
    mixup_alpha=0.8,
    cutmix_alpha=1.0,
    prob=1.0,
    switch_prob=0.5,
    mode="batch",
    num_classes=model.cfg.num_classes,
)

# Refine train cfg for vit model
train.train_micro_batch_size = 128
train.test_micro_batch_size = 128
train.train_epoch = 300
train.warmup_ratio = 5 / 300
train.evaluation.eval_period = 1000
train.log_period = 1

# Scheduler
train.scheduler.warmup_factor = 0.001
train.scheduler.alpha = 0.01
train.scheduler.warmup_method = "linear"

train.amp.enabled = False  # AMP is a no-op on the CPU (shared/DESIGN.md section 5)

# Distributed settings
train.dist.pipeline_num_layers = model.cfg.depth
train.dist.data_parallel_size = 1
train.dist.tensor_parallel_size = 1
train.dist.pipeline_parallel_size = 1

train.output_dir = "output/vit_imagenet"
