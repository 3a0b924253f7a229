"""The model-agnostic LightningModule: any model of the zoo, plus loss, metrics and optimizer."""

from __future__ import annotations

import inspect
from functools import partial
from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F

from ..models.build import build_model
from .builders import optimizer_factory, scheduler_factory


class Classifier(pl.LightningModule):
    """Wraps the nn.Module built from `model` (a config dict with `_target_`, which must name a
    model of the zoo: see builders).

    Both arguments are plain dicts, saved as hyperparameters, so a checkpoint rebuilds its own
    model and loads with torch.load(weights_only=True).

    Loss and accuracy are logged once per epoch (train_*) and per validation (val_*), as means over
    all the images seen. They are summed into tensors on the device at each step and logged at the
    end: a self.log or a metric object per step costs more than the step of a small model, and
    reading a value per step would wait for the GPU.
    """

    def __init__(self, model: dict[str, Any], optimizer: dict[str, Any], num_classes: int = 10,
                 scheduler: dict[str, Any] | None = None):
        super().__init__()
        self.save_hyperparameters()
        self.model = build_model(model, num_classes)
        self._sums: dict[str, torch.Tensor] = {}  # stage -> [loss sum, correct, images], on the device

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def _step(self, batch, stage: str) -> torch.Tensor:
        images, labels = batch
        logits = self(images)
        loss = F.cross_entropy(logits, labels)
        with torch.no_grad():
            step = torch.stack([loss.double() * len(labels), (logits.argmax(dim=1) == labels).sum().double(),
                                # a fill on the device, not a copy from the host at every step
                                torch.full((), len(labels), dtype=torch.float64, device=loss.device)])
            self._sums[stage] = self._sums[stage] + step if stage in self._sums else step
        return loss

    def _log_means(self, stage: str) -> None:
        sums = self._sums.pop(stage, None)
        if sums is not None:
            # Under DDP each process sees its share of the batches: summing the sums and counts
            # across processes makes rank 0 log the figures of the whole set.
            loss, correct, count = self.trainer.strategy.reduce(sums, reduce_op="sum")
            self.log_dict({f"{stage}_loss": loss / count, f"{stage}_acc": correct / count}, prog_bar=True)

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx: int) -> None:
        self._step(batch, "val")

    def on_train_epoch_start(self) -> None:
        self._sums.pop("train", None)

    def on_train_epoch_end(self) -> None:
        self._log_means("train")

    def on_validation_epoch_start(self) -> None:
        self._sums.pop("val", None)

    def on_validation_epoch_end(self) -> None:
        self._log_means("val")

    def configure_optimizers(self):
        optimizer = optimizer_factory(self.hparams.optimizer)(self.parameters())
        if not self.hparams.get("scheduler"):
            return optimizer
        make = scheduler_factory(self.hparams.scheduler)
        if "total_steps" in inspect.signature(make.func).parameters:  # OneCycleLR: the run's optimizer steps
            make = partial(make, total_steps=int(self.trainer.estimated_stepping_batches))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": make(optimizer), "interval": "step"}}
