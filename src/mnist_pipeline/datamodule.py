"""Batches sliced from in-memory tensors: no per-sample Dataset.__getitem__, no PIL images.

The prepared uint8 tensors (47 MB for MNIST) are moved to the training device once; each batch is
one fancy-index into them, and the uint8 -> float conversion happens on the device.
"""

from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl
import torch
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler, TensorDataset

from .prepare import load_prepared


def to_model_input(images: torch.Tensor, normalize: bool = True) -> torch.Tensor:
    """uint8 [N, 28, 28] -> float [N, 1, 28, 28], scaled to [0, 1] unless normalize is false
    (seed S4's bug: raw 0-255 pixels)."""
    x = images.unsqueeze(1).float()
    return x / 255.0 if normalize else x


def batch_loader(images: torch.Tensor, labels: torch.Tensor, batch_size: int, shuffle: bool) -> DataLoader:
    """A DataLoader whose sampler yields whole index batches, so the dataset is indexed once per batch."""
    dataset = TensorDataset(images, labels)
    order = RandomSampler(dataset) if shuffle else SequentialSampler(dataset)
    return DataLoader(dataset, sampler=BatchSampler(order, batch_size, drop_last=False), batch_size=None)


class MNISTDataModule(pl.LightningDataModule):
    def __init__(self, folder: str | Path, batch_size: int, normalize: bool = True):
        super().__init__()
        self.folder = Path(folder)
        self.batch_size = batch_size
        self.normalize = normalize
        self.splits: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def setup(self, stage: str | None = None) -> None:
        device = self.trainer.strategy.root_device if self.trainer else torch.device("cpu")
        for split in ("train", "val", "test"):
            if split not in self.splits:
                images, labels = load_prepared(self.folder, split)
                self.splits[split] = (images.to(device), labels.to(device))

    def train_dataloader(self) -> DataLoader:
        return batch_loader(*self.splits["train"], self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return batch_loader(*self.splits["val"], self.batch_size, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return batch_loader(*self.splits["test"], self.batch_size, shuffle=False)

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        images, labels = batch
        return to_model_input(images, self.normalize), labels
