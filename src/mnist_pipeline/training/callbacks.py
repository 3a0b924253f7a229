"""Lightning callbacks: throughput, provenance and RNG state in checkpoints, and the seed tutorials'
training-time displays (status lines, full-split Precision@1, a probability logging hook).

The display callbacks are configured under `callbacks:` (see conf/experiment/), each with `_target_`.
"""

from __future__ import annotations

import json
import logging
import random
import time
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback

from ..inference.logits import batched_logits, eval_logits

log = logging.getLogger(__name__)


class Throughput(Callback):
    """Training images per second, logged each epoch: the training epochs' wall time (batch loading,
    steps, hooks and logging all counted), validation excluded."""

    def __init__(self) -> None:
        self.images = 0
        self.seconds = 0.0
        self.validation_seconds = 0.0  # all validations, sanity check included
        self._validating = 0.0
        self._epoch_started: float | None = None

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._epoch_started = time.perf_counter()
        self._validating = 0.0

    def on_validation_start(self, trainer, pl_module) -> None:
        self._validation_started = time.perf_counter()

    def on_validation_end(self, trainer, pl_module) -> None:
        took = time.perf_counter() - self._validation_started
        self._validating += took
        self.validation_seconds += took

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.images += len(batch[1])

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if self._epoch_started is not None:  # None: a run resumed from a checkpoint made at the epoch's end
            self.seconds += time.perf_counter() - self._epoch_started - self._validating
            self._epoch_started = None
        # All processes together under DDP (each counts its own share of the images).
        pl_module.log("train_images_per_sec", self.images_per_sec, sync_dist=True, reduce_fx="sum")

    @property
    def images_per_sec(self) -> float:
        return self.images / self.seconds if self.seconds else 0.0

    def images_per_sec_so_far(self) -> float:
        """The same, counting the running epoch's time too (for lines printed mid-epoch)."""
        seconds = self.seconds
        if self._epoch_started is not None:
            seconds += time.perf_counter() - self._epoch_started - self._validating
        return self.images / seconds if seconds > 0 else 0.0


class Provenance(Callback):
    """Stores the MLflow run id and the resolved config in every checkpoint, so the evaluate
    stage logs to the same run and rebuilds the same model."""

    def __init__(self, run_id: str, config: dict) -> None:
        self.run_id, self.config = run_id, config

    def on_save_checkpoint(self, trainer, pl_module, checkpoint) -> None:
        checkpoint["mlflow_run_id"] = self.run_id
        checkpoint["config"] = self.config


class RngState(Callback):
    """Saves the global torch, numpy and random generator states with each checkpoint and restores
    them on resume, so a resumed run draws the same shuffles as an uninterrupted one."""

    def state_dict(self) -> dict[str, Any]:
        return {"torch": torch.get_rng_state(), "numpy": np.random.get_state()[1].tolist(),
                "numpy_pos": int(np.random.get_state()[2]), "python": list(random.getstate()[1])}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        torch.set_rng_state(state["torch"])
        np.random.set_state(("MT19937", np.array(state["numpy"], dtype=np.uint32), state["numpy_pos"]))
        random.setstate((3, tuple(state["python"]), None))


class ValidateLastStep(Callback):
    """Validates after the last optimizer step when the schedule would not (max_steps reached
    mid-epoch or between val_check_interval points), so every finished training has a best
    checkpoint and a real validation metric. Asking the loop to stop makes Lightning validate
    that batch."""

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if 0 < trainer.max_steps <= trainer.global_step:
            trainer.should_stop = True


def _due(trainer: pl.Trainer, every_n_steps: int) -> bool:
    """True after optimizer step N, 2N, ... and after the last step (global_step counts from 1)."""
    step = trainer.global_step
    return step % every_n_steps == 0 or step == trainer.max_steps


class StatusLine(Callback):
    """A line every N steps in the seed's own words. Template fields: step (0-based, as the seeds
    count), loss, step_seconds, elapsed, batch_acc (the batch's accuracy before the update, with
    dropout off, as seed S0 measured it)."""

    def __init__(self, every_n_steps: int, template: str) -> None:
        self.every_n_steps, self.template = every_n_steps, template
        self.lines: list[str] = []

    def on_train_start(self, trainer, pl_module) -> None:
        self._started = time.perf_counter()

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self._step_started = time.perf_counter()
        self._batch_acc = None
        if trainer.global_step % self.every_n_steps == 0 and "batch_acc" in self.template:
            images, labels = batch
            logits = eval_logits(pl_module.model, images)
            self._batch_acc = (logits.argmax(dim=1) == labels).float().mean().item()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        step = trainer.global_step - 1
        if step % self.every_n_steps:
            return
        now = time.perf_counter()
        line = self.template.format(step=step, loss=float(outputs["loss"]), step_seconds=now - self._step_started,
                                    elapsed=now - self._started, batch_acc=self._batch_acc)
        self.lines.append(line)
        log.info(line)


class SplitAccuracy(Callback):
    """Precision@1 (accuracy) on whole splits every N steps and after the last step, printed as
    seed S1's do_eval() did and logged as full_<split>_acc."""

    def __init__(self, every_n_steps: int, splits: list[str]) -> None:
        self.every_n_steps, self.splits = every_n_steps, list(splits)
        self.history: list[dict[str, float]] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if not _due(trainer, self.every_n_steps):
            return
        datamodule = trainer.datamodule
        row = {"step": trainer.global_step}
        for split in self.splits:
            images, labels = datamodule.splits[split]
            correct = int((batched_logits(pl_module.model, images, datamodule.normalize).argmax(dim=1) == labels).sum())
            log.info("%s Data Eval:\n  Num examples: %d  Num correct: %d  Precision @ 1: %0.04f",
                     split.capitalize(), len(labels), correct, correct / len(labels))
            row[f"full_{split}_acc"] = correct / len(labels)
        self.history.append(row)
        if trainer.logger:
            trainer.logger.log_metrics({k: v for k, v in row.items() if k != "step"}, step=trainer.global_step)


class BatchProbabilities(Callback):
    """Seed S3's logging hook: softmax probabilities of a fixed batch (the first `size` validation
    images) every N steps, to the log and, at the end, to an MLflow artifact."""

    def __init__(self, every_n_steps: int, size: int = 8) -> None:
        self.every_n_steps, self.size = every_n_steps, size
        self.records: list[dict[str, Any]] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step % self.every_n_steps:
            return
        datamodule = trainer.datamodule
        images = datamodule.splits["val"][0][: self.size]
        probabilities = batched_logits(pl_module.model, images, datamodule.normalize).softmax(dim=1)
        rounded = [[round(p, 4) for p in row] for row in probabilities.tolist()]
        self.records.append({"step": trainer.global_step, "probabilities": rounded})
        log.info("step %d probabilities = %s", trainer.global_step, rounded)

    def on_train_end(self, trainer, pl_module) -> None:
        logger = trainer.logger
        if logger is not None and hasattr(logger, "run_id"):
            logger.experiment.log_text(logger.run_id, json.dumps(self.records), "batch_probabilities.json")


class ProgressLine(Callback):
    """One line per validation (each epoch, or each val_check_interval for the step-based recipes):
    epoch, step, losses, accuracies, training images/s and the time left, so a training (and
    `dvc repro`) is never silent. Throughput supplies the images/s.

    After a validation at an epoch's end the line waits for the epoch's training figures; after
    one mid-epoch it shows the mean training loss since the previous line."""

    def __init__(self, throughput: Throughput) -> None:
        self.throughput = throughput
        self.lines: list[str] = []
        self._pending: dict | None = None

    def on_train_start(self, trainer, pl_module) -> None:
        self._started, self._first_step = time.perf_counter(), trainer.global_step  # a resumed run starts later
        self._loss_sum, self._steps = 0.0, 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self._pending:  # validated mid-epoch, after the previous batch
            self._emit(trainer, {"train_loss": self._mean_loss()})
        # Summed on the device: reading the loss each step would wait for the GPU every step.
        self._loss_sum, self._steps = self._loss_sum + outputs["loss"].detach(), self._steps + 1

    def on_validation_end(self, trainer, pl_module) -> None:
        if not trainer.sanity_checking:
            metrics = trainer.callback_metrics
            self._pending = {"step": trainer.global_step, "epoch": trainer.current_epoch,
                             **{name: float(metrics[name]) for name in ("val_loss", "val_acc") if name in metrics}}

    # The LightningModule logs the epoch's training figures in its own on_train_epoch_end, which
    # Lightning calls after the callbacks': a line pending at the epoch's end goes out when the next
    # epoch starts, or when training ends.
    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._emit_with_epoch_figures(trainer)

    def on_train_end(self, trainer, pl_module) -> None:
        self._emit_with_epoch_figures(trainer)

    def _emit_with_epoch_figures(self, trainer) -> None:
        if self._pending:
            metrics = trainer.callback_metrics
            self._emit(trainer, {name: float(metrics[name]) for name in ("train_loss", "train_acc") if name in metrics})

    def _mean_loss(self) -> float:
        return float(self._loss_sum) / max(self._steps, 1)

    def _emit(self, trainer, train: dict[str, float]) -> None:
        pending, self._pending, self._loss_sum, self._steps = self._pending, None, 0.0, 0
        step, total = pending["step"], trainer.estimated_stepping_batches
        done = (step - self._first_step) / max(total - self._first_step, 1)
        elapsed = time.perf_counter() - self._started
        left = elapsed * (1 - done) / done if done > 0 else float("nan")
        figures = {**train, **pending}
        shown = ", ".join(f"{name} {figures[name]:.4f}" for name in ("train_loss", "val_loss", "train_acc", "val_acc")
                          if name in figures)
        epochs = f"/{trainer.max_epochs}" if trainer.max_epochs and trainer.max_epochs > 0 else ""
        line = (f"epoch {pending['epoch'] + 1}{epochs} step {step}/{int(total)}: {shown}; "
                f"{self.throughput.images_per_sec_so_far():,.0f} images/s, {_duration(left)} left")
        self.lines.append(line)
        log.info(line)


def _duration(seconds: float) -> str:
    if seconds != seconds:  # nan: nothing measured yet
        return "?"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"
