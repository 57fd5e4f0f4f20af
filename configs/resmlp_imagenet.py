"""ResMLP-12 on ImageNet with LAMB (LiBai's configs/resmlp_imagenet.py).

Run: libai-engine run configs/resmlp_imagenet.py  (point the two `root`s at an
ImageFolder tree: <root>/{train,val}/<class>/<image>).
"""

from flowvision import transforms
from flowvision.data import Mixup
from libai.config import LazyCall, get_config
from libai.data.transforms import IMAGENET_MEAN, IMAGENET_STD, interpolation_mode

model = get_config("common/models/resmlp/resmlp_12.py").model
graph = get_config("common/models/graph.py").graph
train = get_config("common/train.py").train
dataloader = get_config("common/data/imagenet.py").dataloader

optim = LazyCall("oneflow.optim.LAMB")(
    params=LazyCall("libai.optim.get_default_optimizer_params")(
        clip_grad_max_norm=None,
        clip_grad_norm_type=None,
        weight_decay_norm=0.0,
        weight_decay_bias=0.0,
        overrides={
            "alpha": {"weight_decay": 0.0},
            "beta": {"weight_decay": 0.0},
            "gamma_1": {"weight_decay": 0.0},
            "gamma_2": {"weight_decay": 0.0},
        },
    ),
    lr=5e-3,  # batch size 256 * 8 = 2048
    weight_decay=0.2,
    eps=1e-8,
)

train.output_dir = "output/resmlp_imagenet"

# Refine data path to imagenet
dataloader.train.dataset[0].root = "/path/to/imagenet"
dataloader.test[0].dataset.root = "/path/to/imagenet"

# ResMLP's test augmentation: resize to 224 / 0.9, then centre crop 224.
dataloader.test[0].dataset.transform = LazyCall(transforms.Compose)(
    transforms=[
        LazyCall(transforms.Resize)(
            size=int(224 / 0.9),
            interpolation=LazyCall(interpolation_mode)(name="bicubic"),
        ),
        LazyCall(transforms.CenterCrop)(size=224),
        LazyCall(transforms.ToTensor)(),
        LazyCall(transforms.Normalize)(mean=IMAGENET_MEAN, std=IMAGENET_STD),
    ]
)

# Refine model cfg for resmlp training on imagenet
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

# Refine train cfg for resmlp model
train.train_micro_batch_size = 256
train.test_micro_batch_size = 64
train.train_epoch = 400
train.warmup_ratio = 5 / 400
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
