"""Stage 2: parse the IDX archives once, validate them, split train/validation, save compact tensors.

    python -m mnist_pipeline.prepare        (reads params.yaml)

Writes <paths.prepared>/{train,val,test}.pt, each {"images": uint8 [N, 28, 28], "labels": int64 [N]},
so training slices batches from one in-memory tensor instead of building a PIL image per sample.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
from pathlib import Path

import numpy as np
import torch

from .atomic import atomic_path
from .config import load_params, run_stage
from .download import verify
from .errors import PipelineError

log = logging.getLogger(__name__)

IMAGES_MAGIC = 0x00000803  # unsigned byte, 3 dimensions
LABELS_MAGIC = 0x00000801  # unsigned byte, 1 dimension
SPLITS = ("train", "val", "test")


class IdxError(PipelineError):
    """An IDX file is malformed or does not hold what the config says it should."""


def read_idx(path: Path, magic: int) -> np.ndarray:
    """Parse one gzipped IDX file of unsigned bytes, checking magic number and declared shape."""
    with gzip.open(path, "rb") as stream:
        data = stream.read()
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(data) < header:
        raise IdxError(f"{path}: {len(data)} bytes is too short for an IDX header")
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        raise IdxError(f"{path}: magic number 0x{found:08x}, expected 0x{magic:08x}")
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape))
    if len(data) - header != expected:
        raise IdxError(f"{path}: header declares shape {shape} ({expected} bytes) "
                       f"but {len(data) - header} bytes follow")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def write_idx(path: Path, array: np.ndarray, magic: int) -> str:
    """Write a gzipped IDX file of unsigned bytes; returns the sha256 of its decompressed content."""
    raw = (magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
           + array.astype(np.uint8).tobytes())
    with atomic_path(path) as tmp:
        tmp.write_bytes(gzip.compress(raw, mtime=0))
    return hashlib.sha256(raw).hexdigest()


def load_split(images_path: Path, labels_path: Path, count: int, num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Images uint8 [N, 28, 28] and labels int64 [N] of one IDX pair, validated."""
    images = read_idx(images_path, IMAGES_MAGIC)
    labels = read_idx(labels_path, LABELS_MAGIC)
    if images.shape[1:] != (28, 28):
        raise IdxError(f"{images_path}: images are {images.shape[1]}x{images.shape[2]}, expected 28x28")
    if len(images) != len(labels):
        raise IdxError(f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} labels")
    if len(images) != count:
        raise IdxError(f"{images_path}: {len(images)} images, expected {count} (data.sizes)")
    if len(labels) and labels.max() >= num_classes:
        raise IdxError(f"{labels_path}: label {labels.max()} out of range 0..{num_classes - 1}")
    return torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64))


def split_train_val(images: torch.Tensor, labels: torch.Tensor, val_size: int, seed: int):
    """A seeded random split: the same seed always gives the same validation images."""
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    val, train = order[:val_size], order[val_size:]
    return (images[train], labels[train]), (images[val], labels[val])


def save_tensors(obj: dict[str, torch.Tensor], path: Path) -> None:
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def load_prepared(folder: Path, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    data = torch.load(Path(folder) / f"{split}.pt", weights_only=True)
    return data["images"], data["labels"]


def prepare(cfg) -> dict[str, int]:
    raw, out = Path(cfg.paths.raw), Path(cfg.paths.prepared)
    files = {key: raw / spec.name for key, spec in cfg.data.files.items()}
    for key, path in files.items():  # never train on a file that changed since download
        if not path.exists():
            raise IdxError(f"{path} is missing: run the download stage first")
        verify(path, cfg.data.files[key].sha256)
    num_classes = len(cfg.data.classes)
    train = load_split(files["train_images"], files["train_labels"], cfg.data.sizes.train, num_classes)
    test = load_split(files["test_images"], files["test_labels"], cfg.data.sizes.test, num_classes)
    train, val = split_train_val(*train, val_size=cfg.data.val_size, seed=cfg.data.split_seed)
    counts = {}
    for split, (images, labels) in zip(SPLITS, (train, val, test)):
        save_tensors({"images": images, "labels": labels}, out / f"{split}.pt")
        counts[split] = len(labels)
    log.info("prepared %s: %s", cfg.data.name, counts)
    return counts


def main() -> None:
    prepare(load_params())


if __name__ == "__main__":
    run_stage(main)
