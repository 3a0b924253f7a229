"""Batches sliced from in-memory tensors: no per-sample Dataset.__getitem__, no PIL images.

The prepared uint8 tensors (47 MB for MNIST) are moved to the training device once; each batch is
one fancy-index into them, and the uint8 -> float conversion happens on the device.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytorch_lightning as pl
import torch
from torch.utils.data import Sampler, SequentialSampler, TensorDataset
from torchdata.stateful_dataloader import StatefulDataLoader
from torchdata.stateful_dataloader.sampler import BatchSampler

from ..data.inputs import to_model_input
from ..data.prepared import load_prepared


class TensorBatches(TensorDataset):
    """Tensors indexed a whole batch at a time (DataLoader calls __getitems__ with the batch's indices)."""

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, ...]:
        # One index tensor for all: indexing with a Python list converts it anew for each tensor.
        index = torch.as_tensor(indices, device=self.tensors[0].device)
        return tuple(tensor[index] for tensor in self.tensors)


class EpochSeededSampler(Sampler[int]):
    """A random order that depends only on (seed, epoch), with its position as state.

    Lightning calls set_epoch before each epoch and stores state_dict in checkpoints, so a run
    resumed from a checkpoint, mid-epoch or at an epoch's end, draws the same batches as an
    uninterrupted one. (A generator carried across epochs cannot: an ended epoch's saved state
    puts it back to that epoch's start.) with_replacement draws each index independently."""

    def __init__(self, size: int, replacement: bool, seed: int) -> None:
        self.size, self.replacement, self.seed = size, replacement, seed
        self.epoch = self.yielded = 0
        self._restored: dict[str, int] | None = None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[int]:
        # Runs at the first batch, after Lightning has called set_epoch and loaded any saved state
        # (in either order): a state saved in this epoch resumes it; one from an epoch that had
        # ended (an epoch-end checkpoint) leaves this epoch to start afresh.
        restored, self._restored = self._restored, None
        start = restored["yielded"] if restored and restored["epoch"] == self.epoch else 0
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        order = (torch.randint(self.size, (self.size,), generator=generator) if self.replacement
                 else torch.randperm(self.size, generator=generator))
        self.yielded = start
        for index in order[start:].tolist():
            self.yielded += 1
            yield index

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "yielded": self.yielded}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self._restored = dict(state)


def _as_is(batch):
    return batch


def batch_loader(images: torch.Tensor, labels: torch.Tensor, batch_size: int, shuffle: bool,
                 with_replacement: bool = False, seed: int = 0) -> StatefulDataLoader:
    """Batches sliced from the tensors with one index operation each.

    A stateful loader and sampler: Lightning stores their position in checkpoints, so a resumed run
    draws the same batches as an uninterrupted one. The shuffle has its own generator, so it does
    not depend on anything else drawn from torch's global one. with_replacement draws indices
    independently (seed S4's np.random.choice) instead of walking a permutation."""
    dataset = TensorBatches(images, labels)
    if shuffle:
        order = EpochSeededSampler(len(dataset), replacement=with_replacement, seed=seed)
    else:
        order = SequentialSampler(dataset)
    # The loader's own generator: each iter() draws a worker seed, which would otherwise come from
    # torch's global generator and shift dropout's random numbers between a run and its resumption.
    return StatefulDataLoader(dataset, batch_sampler=BatchSampler(order, batch_size, drop_last=False),
                              collate_fn=_as_is, generator=torch.Generator().manual_seed(seed))


class MNISTDataModule(pl.LightningDataModule):
    def __init__(self, folder: str | Path, batch_size: int, normalize: bool = True,
                 sample_with_replacement: bool = False, seed: int = 0, num_classes: int | None = None):
        super().__init__()
        self.num_classes = num_classes  # when given, labels outside 0..num_classes-1 are refused on load
        self.seed = seed
        self.folder = Path(folder)
        self.batch_size = batch_size
        self.normalize = normalize
        self.sample_with_replacement = sample_with_replacement
        self.splits: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def setup(self, stage: str | None = None) -> None:
        device = self.trainer.strategy.root_device if self.trainer else torch.device("cpu")
        for split in ("train", "val", "test"):
            if split not in self.splits:
                images, labels = load_prepared(self.folder, split, self.num_classes)
                self.splits[split] = (images.to(device), labels.to(device))

    def train_dataloader(self) -> StatefulDataLoader:
        return batch_loader(*self.splits["train"], self.batch_size, shuffle=True,
                            with_replacement=self.sample_with_replacement, seed=self.seed)

    def val_dataloader(self) -> StatefulDataLoader:
        return batch_loader(*self.splits["val"], self.batch_size, shuffle=False)

    def test_dataloader(self) -> StatefulDataLoader:
        return batch_loader(*self.splits["test"], self.batch_size, shuffle=False)

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        images, labels = batch
        return to_model_input(images, self.normalize), labels
