"""The prepared tensors: a seeded train/validation split, saved and loaded as
{"images": uint8 [N, 28, 28], "labels": int64 [N]} per split."""

from __future__ import annotations

from pathlib import Path

import torch

from ..core.atomic import atomic_path

SPLITS = ("train", "val", "test")


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
