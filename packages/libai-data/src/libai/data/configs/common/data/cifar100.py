# CIFAR-100 for image classification (LiBai's configs/common/data/cifar100.py).
# Expects the python release unpacked under `root`: ./cifar-100-python/{train,test}.
# Nothing is downloaded: a missing file is an error naming the expected layout.
from flowvision import transforms
from flowvision.data.mixup import Mixup
from libai.config import LazyCall
from libai.data.build import build_image_test_loader, build_image_train_loader
from libai.data.datasets import CIFAR100Dataset
from libai.data.transforms import CIFAR100_MEAN, CIFAR100_STD, interpolation_mode
from omegaconf import OmegaConf

train_aug = LazyCall(transforms.Compose)(
    transforms=[
        LazyCall(transforms.RandomResizedCrop)(
            size=(224, 224),
            scale=(0.08, 1.0),
            ratio=(3.0 / 4.0, 4.0 / 3.0),
            # A string through interpolation_mode keeps the config savable as YAML.
            interpolation=LazyCall(interpolation_mode)(name="bicubic"),
        ),
        LazyCall(transforms.RandomHorizontalFlip)(),
        LazyCall(transforms.ToTensor)(),
        LazyCall(transforms.Normalize)(mean=CIFAR100_MEAN, std=CIFAR100_STD),
    ]
)

test_aug = LazyCall(transforms.Compose)(
    transforms=[
        LazyCall(transforms.Resize)(
            size=256,
            interpolation=LazyCall(interpolation_mode)(name="bicubic"),
        ),
        LazyCall(transforms.CenterCrop)(size=224),
        LazyCall(transforms.ToTensor)(),
        LazyCall(transforms.Normalize)(mean=CIFAR100_MEAN, std=CIFAR100_STD),
    ]
)

dataloader = OmegaConf.create()
dataloader.train = LazyCall(build_image_train_loader)(
    dataset=[
        LazyCall(CIFAR100Dataset)(
            root="./",
            train=True,
            download=False,
            transform=train_aug,
        ),
    ],
    num_workers=4,
    mixup_func=LazyCall(Mixup)(
        mixup_alpha=0.8,
        cutmix_alpha=1.0,
        prob=1.0,
        switch_prob=0.5,
        mode="batch",
        num_classes=100,
    ),
)

dataloader.test = [
    LazyCall(build_image_test_loader)(
        dataset=LazyCall(CIFAR100Dataset)(
            root="./",
            train=False,
            download=False,
            transform=test_aug,
        ),
        num_workers=4,
    )
]
