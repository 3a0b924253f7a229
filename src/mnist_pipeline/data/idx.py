"""IDX files, the format MNIST ships in: parse and write gzipped IDX, and read one validated split."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import torch

from ..core.atomic import atomic_path
from ..core.errors import PipelineError

IMAGES_MAGIC = 0x00000803  # unsigned byte, 3 dimensions
LABELS_MAGIC = 0x00000801  # unsigned byte, 1 dimension


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
