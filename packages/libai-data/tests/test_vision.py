"""Vision datasets read real files in the real formats, written here in tiny sizes."""

from __future__ import annotations

import gzip
import pickle
import struct

import numpy as np
import pytest
from libai.data.datasets.cifar import CIFAR10Dataset, CIFAR100Dataset
from libai.data.datasets.imagenet import ImageNetDataset
from libai.data.datasets.mnist import MNISTDataset, read_idx
from libai.data.structures import DistTensorData, Instance
from PIL import Image


def _images(n, seed):
    return np.random.RandomState(seed).randint(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)


def _cifar_rows(images):
    # The release stores each image as its R, G and B 32x32 planes, row-major.
    return images.transpose(0, 3, 1, 2).reshape(len(images), 3072)


def _pickle(path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump(obj, f)


def _pixels(sample):
    return np.rint(sample.images.tensor.numpy() * 255).astype(np.int64)


def test_cifar100_reads_fine_and_coarse_labels_and_pixels(tmp_path):
    train = _images(5, 0)
    test = _images(3, 1)
    folder = tmp_path / "cifar-100-python"
    _pickle(folder / "train", {"data": _cifar_rows(train), "fine_labels": [0, 99, 5, 7, 42],
                               "coarse_labels": [4, 1, 19, 0, 3], "filenames": ["a"] * 5})  # fmt: skip
    # Bytes keys, as when the official Python 2 pickles are read without latin1.
    _pickle(folder / "test", {b"data": _cifar_rows(test), b"fine_labels": [1, 2, 3],
                              b"coarse_labels": [9, 8, 7]})  # fmt: skip

    ds = CIFAR100Dataset(root=str(tmp_path), train=True)
    assert len(ds) == 5
    sample = ds[1]
    assert isinstance(sample, Instance)
    assert sample.labels.tensor.item() == 99
    assert sample.labels.placement_idx == -1
    assert sample.images.tensor.shape == (3, 32, 32)
    # Channel-first tensor of the HWC image, values in [0, 1].
    np.testing.assert_array_equal(_pixels(sample), train[1].transpose(2, 0, 1))

    coarse = CIFAR100Dataset(root=folder, train=False, label_type="coarse")
    assert [coarse[i].labels.tensor.item() for i in range(3)] == [9, 8, 7]
    np.testing.assert_array_equal(_pixels(coarse[2]), test[2].transpose(2, 0, 1))


def test_cifar10_concatenates_the_five_training_batches(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    images = _images(10, 2)
    for i in range(5):
        part = images[2 * i : 2 * i + 2]
        _pickle(folder / f"data_batch_{i + 1}", {"data": _cifar_rows(part), "labels": [i, 9 - i]})
    _pickle(folder / "test_batch", {"data": _cifar_rows(images[:1]), "labels": [3]})
    ds = CIFAR10Dataset(root=tmp_path, train=True)
    assert [ds[i].labels.tensor.item() for i in range(10)] == [0, 9, 1, 8, 2, 7, 3, 6, 4, 5]
    np.testing.assert_array_equal(_pixels(ds[7]), images[7].transpose(2, 0, 1))
    assert len(CIFAR10Dataset(root=tmp_path, train=False)) == 1


def test_cifar_transform_is_applied(tmp_path):
    from libai.data.transforms import CIFAR100_MEAN, CIFAR100_STD, transforms

    images = _images(2, 3)
    folder = tmp_path / "cifar-100-python"
    _pickle(
        folder / "test",
        {"data": _cifar_rows(images), "fine_labels": [1, 2], "coarse_labels": [0, 0]},
    )
    aug = transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize(CIFAR100_MEAN, CIFAR100_STD)]
    )
    sample = CIFAR100Dataset(root=tmp_path, train=False, transform=aug)[0]
    expected = (
        images[0].transpose(2, 0, 1) / 255.0 - np.array(CIFAR100_MEAN)[:, None, None]
    ) / np.array(CIFAR100_STD)[:, None, None]
    np.testing.assert_allclose(sample.images.tensor.numpy(), expected, atol=1e-5)


def test_cifar_missing_files_say_what_layout_is_expected(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"cifar-100-python/\{train\}"):
        CIFAR100Dataset(root=tmp_path, train=True, download=True)
    bad = tmp_path / "cifar-10-batches-py"
    bad.mkdir()
    (bad / "test_batch").write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="not a CIFAR python pickle"):
        CIFAR10Dataset(root=tmp_path, train=False)


def _write_idx(path, array, magic, compress=False):
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    if compress:
        with gzip.open(str(path) + ".gz", "wb") as f:
            f.write(raw)
    else:
        path.write_bytes(raw)


def test_mnist_reads_idx_files_plain_and_gzipped(tmp_path):
    rng = np.random.RandomState(4)
    train_images = rng.randint(0, 256, size=(6, 28, 28)).astype(np.uint8)
    test_images = rng.randint(0, 256, size=(2, 28, 28)).astype(np.uint8)
    raw = tmp_path / "MNIST" / "raw"
    _write_idx(raw / "train-images-idx3-ubyte", train_images, 2051)
    _write_idx(raw / "train-labels-idx1-ubyte", np.array([5, 0, 4, 1, 9, 2]), 2049)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte", test_images, 2051, compress=True)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.array([7, 2]), 2049, compress=True)

    train = MNISTDataset(root=tmp_path, train=True)
    assert len(train) == 6
    assert [train[i].labels.tensor.item() for i in range(6)] == [5, 0, 4, 1, 9, 2]
    assert train[3].images.tensor.shape == (1, 28, 28)
    np.testing.assert_array_equal(_pixels(train[3])[0], train_images[3])

    test = MNISTDataset(root=tmp_path, train=False)
    assert [test[i].labels.tensor.item() for i in range(2)] == [7, 2]
    np.testing.assert_array_equal(_pixels(test[1])[0], test_images[1])


def test_mnist_rejects_a_wrong_magic_number_and_missing_files(tmp_path):
    path = tmp_path / "labels"
    _write_idx(path, np.arange(3), 2051)  # image magic on a 1-D array
    with pytest.raises(ValueError, match="magic number is 2051"):
        read_idx(path, 2049)
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        MNISTDataset(root=tmp_path / "nowhere")


def test_imagenet_folder_layout_png_and_jpeg(tmp_path):
    colors = {"cat": (255, 0, 0), "dog": (0, 0, 255)}
    for split in ("train", "val"):
        for name, color in colors.items():
            folder = tmp_path / split / name
            folder.mkdir(parents=True)
            Image.new("RGB", (8, 6), color).save(folder / "a.png")
            Image.new("L", (8, 6), 128).save(folder / "b.jpg", quality=100)
            (folder / "notes.txt").write_text("not an image")
    ds = ImageNetDataset(root=tmp_path, train=True)
    assert ds.classes == ["cat", "dog"]
    assert len(ds) == 4
    assert ds.targets == [0, 0, 1, 1]
    red = ds[0]
    assert red.labels.tensor.item() == 0
    assert red.images.tensor.shape == (3, 6, 8)
    np.testing.assert_array_equal(_pixels(red)[:, 0, 0], [255, 0, 0])
    gray = ds[3]  # a grayscale JPEG, converted to RGB
    assert gray.labels.tensor.item() == 1
    assert np.all(np.abs(_pixels(gray) - 128) <= 1)
    assert len(ImageNetDataset(root=tmp_path, train=False)) == 4


def test_imagenet_missing_split_names_the_layout(tmp_path):
    with pytest.raises(FileNotFoundError, match="<class name>/<image file>"):
        ImageNetDataset(root=tmp_path, train=False)


def test_samples_batch_with_the_default_collator(tmp_path):
    folder = tmp_path / "cifar-100-python"
    _pickle(
        folder / "test",
        {"data": _cifar_rows(_images(3, 5)), "fine_labels": [1, 2, 3], "coarse_labels": [0, 0, 0]},
    )
    ds = CIFAR100Dataset(root=tmp_path, train=False)
    batch = Instance.stack([ds[0], ds[2]])
    assert isinstance(batch.images, DistTensorData)
    assert batch.images.tensor.shape == (2, 3, 32, 32)
    assert batch.labels.tensor.numpy().tolist() == [1, 3]
