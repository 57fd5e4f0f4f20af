"""The default data configs shipped in the package: found, loadable, savable, buildable."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from libai.config import LazyConfig, get_config, instantiate
from PIL import Image

SHIPPED = [
    "common/data/bert_dataset.py",
    "common/data/gpt_dataset.py",
    "common/data/roberta_dataset.py",
    "common/data/t5_dataset.py",
    "common/data/cifar100.py",
    "common/data/imagenet.py",
]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_config_loads_and_saves_as_yaml(name, tmp_path):
    cfg = get_config(name)
    assert "dataloader" in cfg
    assert cfg.dataloader.train._target_ is not None
    path = tmp_path / "cfg.yaml"
    LazyConfig.save(cfg, str(path))
    again = LazyConfig.load(str(path))
    assert again.dataloader.train.num_workers == cfg.dataloader.train.num_workers


def test_nlp_configs_name_megatron_datasets_and_engine_filled_sizes():
    for name in SHIPPED[:4]:
        train = get_config(name).dataloader.train
        assert train.train_val_test_num_samples is None  # the trainer fills it
        assert train.splits == [[949.0, 50.0, 1.0]]
        dataset = train.dataset[0]
        assert dataset.indexed_dataset.data_impl == "mmap"


def test_cifar100_config_builds_loaders_from_real_files(tmp_path):
    images = np.random.RandomState(0).randint(0, 256, size=(4, 32, 32, 3), dtype=np.uint8)
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    entry = {
        "data": images.transpose(0, 3, 1, 2).reshape(4, -1),
        "fine_labels": [3, 1, 4, 1],
        "coarse_labels": [0, 0, 0, 0],
    }
    for split in ("train", "test"):
        with open(folder / split, "wb") as f:
            pickle.dump(entry, f)
    cfg = get_config("common/data/cifar100.py")
    LazyConfig.apply_overrides(
        cfg,
        [
            f"dataloader.train.dataset.0.root={tmp_path}",
            f"dataloader.test.0.dataset.root={tmp_path}",
            "dataloader.train.num_workers=0",
            "dataloader.test.0.num_workers=0",
        ],
    )
    node = cfg.dataloader.train
    node.train_batch_size = 2
    node.seed = 0
    train, _, _ = instantiate(node, _recursive_=False)
    batch = next(iter(train))
    assert batch.images.tensor.shape == (2, 3, 224, 224)
    assert train.mixup_func is not None  # flowvision's Mixup, applied by the trainer

    test_node = cfg.dataloader.test[0]
    test_node.test_batch_size = 4
    test = instantiate(test_node, _recursive_=False)
    batch = next(iter(test))
    assert batch.labels.tensor.numpy().tolist() == [3, 1, 4, 1]
    assert batch.images.tensor.shape == (4, 3, 224, 224)


def test_imagenet_config_augmentations_run_on_an_image():
    cfg = get_config("common/data/imagenet.py")
    train_aug = instantiate(cfg.dataloader.train.dataset[0].transform)
    test_aug = instantiate(cfg.dataloader.test[0].dataset.transform)
    image = Image.fromarray(np.random.RandomState(1).randint(0, 256, (300, 260, 3), dtype=np.uint8))
    assert train_aug(image).shape == (3, 224, 224)
    assert test_aug(image).shape == (3, 224, 224)


def test_a_missing_dataset_path_says_what_layout_is_expected(tmp_path):
    cfg = get_config("common/data/imagenet.py")
    node = cfg.dataloader.test[0]
    node.dataset.root = str(tmp_path / "imagenet")
    node.test_batch_size = 2
    with pytest.raises(Exception, match=r"val/<class name>/<image file>"):
        instantiate(node, _recursive_=False)
