"""The model-agnostic LightningModule: any model of the zoo, plus loss, metrics and optimizer."""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torchmetrics.classification import MulticlassAccuracy

from .builders import build_model, optimizer_factory


class Classifier(pl.LightningModule):
    """Wraps the nn.Module built from `model` (a config dict with `_target_`, which must name a
    model of the zoo: see builders).

    Both arguments are plain dicts, saved as hyperparameters, so a checkpoint rebuilds its own
    model and loads with torch.load(weights_only=True).
    """

    def __init__(self, model: dict[str, Any], optimizer: dict[str, Any], num_classes: int = 10):
        super().__init__()
        self.save_hyperparameters()
        self.model = build_model(model, num_classes)
        self.train_acc = MulticlassAccuracy(num_classes, average="micro")
        self.val_acc = MulticlassAccuracy(num_classes, average="micro")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def _step(self, batch, stage: str, accuracy: MulticlassAccuracy) -> torch.Tensor:
        images, labels = batch
        logits = self(images)
        loss = F.cross_entropy(logits, labels)
        accuracy(logits, labels)
        # Under DDP each process sees its share of the batches: the epoch's loss is averaged across
        # processes (sync_dist) and the accuracy metric sums its counts across them, so rank 0 logs
        # the figures of the whole set.
        self.log(f"{stage}_loss", loss, on_step=False, on_epoch=True, prog_bar=True, sync_dist=True)
        self.log(f"{stage}_acc", accuracy, on_step=False, on_epoch=True, prog_bar=True)
        return loss

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train", self.train_acc)

    def validation_step(self, batch, batch_idx: int) -> None:
        self._step(batch, "val", self.val_acc)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return optimizer_factory(self.hparams.optimizer)(self.parameters())
