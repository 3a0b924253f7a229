"""Benchmarks, printed as figures (medians of repeated, interleaved runs on this machine):

1. Batch loading: slicing the in-memory uint8 tensor (what training uses) versus the torchvision
   MNIST path (a PIL image and ToTensor per sample, then collate).
2. Seed S3's probability logging hook: training images/s of the tf_layers model with and without it.

    python benchmarks/training_speed.py [--steps 40] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import pytorch_lightning as pl
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import functional as F

from mnist_pipeline.training.callbacks import BatchProbabilities
from mnist_pipeline.training.classifier import Classifier
from mnist_pipeline.training.datamodule import MNISTDataModule, batch_loader


class PilPerSample(Dataset):
    """What torchvision.datasets.MNIST does per item: a PIL image, then ToTensor."""

    def __init__(self, images, labels):
        self.images, self.labels = images, labels

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return F.to_tensor(Image.fromarray(self.images[i].numpy(), mode="L")), int(self.labels[i])


def time_epoch(loader) -> float:
    started = time.perf_counter()
    count = sum(len(labels) for _, labels in loader)
    return (time.perf_counter() - started) / count * 1e6  # µs per sample


class InMemory(MNISTDataModule):
    def __init__(self, images, labels, batch_size):
        super().__init__(".", batch_size)
        self.splits = {"train": (images, labels), "val": (images[:100], labels[:100]),
                       "test": (images[:100], labels[:100])}

    def setup(self, stage=None):
        pass


def images_per_sec(images, labels, steps: int, hook: bool) -> float:
    pl.seed_everything(0)
    module = Classifier(model={"_target_": "mnist_pipeline.models.DeepCNN", "dropout": 0.4},
                        optimizer={"_target_": "torch.optim.SGD", "_partial_": True, "lr": 0.001})
    callbacks = [BatchProbabilities(every_n_steps=50)] if hook else []
    trainer = pl.Trainer(max_steps=steps, logger=False, enable_checkpointing=False, limit_val_batches=0,
                         enable_progress_bar=False, enable_model_summary=False, callbacks=callbacks)
    started = time.perf_counter()  # wall time of the whole fit, so the hook's own cost is counted
    trainer.fit(module, datamodule=InMemory(images, labels, 100))
    return steps * 100 / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    images = torch.randint(0, 256, (55000, 28, 28), dtype=torch.uint8)  # content does not change the cost
    labels = torch.randint(0, 10, (55000,))

    sliced, pil = [], []
    for _ in range(args.repeats):
        sliced.append(time_epoch(batch_loader(images, labels, 100, shuffle=True)))
        pil.append(time_epoch(DataLoader(PilPerSample(images[:10000], labels[:10000]), batch_size=100, shuffle=True)))
    fast, slow = statistics.median(sliced), statistics.median(pil)
    print(f"batch loading, µs per sample (median of {args.repeats}): in-memory slicing {fast:.2f}, "
          f"PIL per sample {slow:.1f}  -> {slow / fast:.0f}x")

    without, with_hook = [], []
    for _ in range(args.repeats):  # interleaved, so drift on a noisy machine hits both alike
        without.append(images_per_sec(images, labels, args.steps, hook=False))
        with_hook.append(images_per_sec(images, labels, args.steps, hook=True))
    a, b = statistics.median(without), statistics.median(with_hook)
    print(f"tf_layers training images/s over {args.steps} steps (median of {args.repeats}): without hook {a:.0f}, "
          f"with probability hook every 50 steps {b:.0f}  -> ratio {b / a:.3f}")


if __name__ == "__main__":
    main()
