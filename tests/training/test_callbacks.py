"""The training callbacks, each on a real few-batch Lightning fit of random digits on the CPU."""

from __future__ import annotations

import csv
import json
import random

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback
from pytorch_lightning.loggers import CSVLogger, MLFlowLogger

from mnist_pipeline.inference.logits import batched_logits, eval_logits
from mnist_pipeline.training import callbacks
from mnist_pipeline.training.callbacks import (
    BatchProbabilities,
    ProgressLine,
    Provenance,
    RngState,
    SplitAccuracy,
    StatusLine,
    Throughput,
    ValidateLastStep,
    _duration,
)
from mnist_pipeline.training.classifier import Classifier
from mnist_pipeline.training.datamodule import MNISTDataModule

BATCH = 16
SIZES = {"train": 3 * BATCH, "val": 2 * BATCH, "test": BATCH}  # three training batches an epoch
MODEL = {"_target_": "mnist_pipeline.models.SmallCNN", "dropout": 0.0}
ADAM = {"_target_": "torch.optim.Adam", "_partial_": True, "lr": 1e-3}


class RandomDigits(MNISTDataModule):
    """The real data module's loaders over random uint8 images instead of a prepared folder."""

    def __init__(self, train_batches: int = 3):
        super().__init__("unused", BATCH)
        generator = torch.Generator().manual_seed(0)
        sizes = {**SIZES, "train": train_batches * BATCH}
        self.splits = {split: (torch.randint(0, 256, (n, 28, 28), dtype=torch.uint8, generator=generator),
                               torch.randint(0, 10, (n,), generator=generator)) for split, n in sizes.items()}

    def setup(self, stage=None) -> None:
        pass


class Recorder(Callback):
    """What happened during a fit: each step's loss and batch, and the steps validation ran after."""

    def __init__(self):
        self.losses, self.batches, self.validated_at = [], [], []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.batches.append([t.clone() for t in batch])

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.losses.append(float(outputs["loss"]))

    def on_validation_end(self, trainer, pl_module):
        if not trainer.sanity_checking:
            self.validated_at.append(trainer.global_step)


def fit(*callbacks, lr: float = 1e-3, logger=False, train_batches: int = 3,
        **trainer_options) -> tuple[pl.Trainer, Classifier]:
    pl.seed_everything(0)
    module = Classifier(model=MODEL, optimizer={**ADAM, "lr": lr})
    options = {"max_epochs": 2, "log_every_n_steps": 1, **trainer_options}
    trainer = pl.Trainer(accelerator="cpu", devices=1, logger=logger, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, callbacks=list(callbacks), **options)
    trainer.fit(module, datamodule=RandomDigits(train_batches))
    return trainer, module


class Clock:
    """A clock that moves only when told: the callbacks' timings become exact whatever the machine's load."""

    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_throughput_counts_every_training_image_and_leaves_validation_time_out(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(callbacks.time, "perf_counter", clock)

    class Ticks(Callback):  # each training batch takes 1 s, each validation batch 10 s
        def on_train_batch_end(self, *args):
            clock.now += 1.0

        def on_validation_batch_end(self, *args):
            clock.now += 10.0

    throughput = Throughput()
    trainer, _ = fit(Ticks(), throughput)
    assert throughput.images == 2 * SIZES["train"]
    assert throughput.seconds == 6.0  # 3 batches in each of 2 epochs; the validations' 40 s left out
    assert throughput.validation_seconds == 60.0  # 2 batches in each of 3 validations, the sanity check's too
    assert throughput.images_per_sec == 2 * SIZES["train"] / 6.0
    assert float(trainer.callback_metrics["train_images_per_sec"]) == pytest.approx(throughput.images_per_sec)


def test_provenance_writes_the_run_id_and_config_into_every_checkpoint(tmp_path):
    config = {"model": MODEL, "seed": 7}
    trainer, _ = fit(Provenance("run-123", config), max_epochs=1)
    trainer.save_checkpoint(tmp_path / "last.ckpt")
    checkpoint = torch.load(tmp_path / "last.ckpt", weights_only=True)
    assert checkpoint["mlflow_run_id"] == "run-123"
    assert checkpoint["config"] == config


def test_rng_state_in_a_checkpoint_restores_torch_numpy_and_random_draws(tmp_path):
    trainer, _ = fit(RngState(), max_epochs=1)
    trainer.save_checkpoint(tmp_path / "last.ckpt")
    expected = (torch.rand(3), np.random.rand(3), random.random())
    torch.manual_seed(99), np.random.seed(99), random.seed(99)  # moved on, as a new process would be

    checkpoint = torch.load(tmp_path / "last.ckpt", weights_only=False)
    [state] = [value for key, value in checkpoint["callbacks"].items() if "RngState" in key]
    RngState().load_state_dict(state)
    assert torch.equal(torch.rand(3), expected[0])
    assert np.array_equal(np.random.rand(3), expected[1])
    assert random.random() == expected[2]


def test_validate_last_step_validates_when_max_steps_ends_mid_epoch():
    # 3 batches an epoch, validation at each epoch's end: step 5 falls inside the second epoch.
    without, with_it = Recorder(), Recorder()
    fit(without, max_steps=5, max_epochs=-1)
    trainer, _ = fit(with_it, ValidateLastStep(), max_steps=5, max_epochs=-1)
    assert without.validated_at == [3]  # what Lightning alone does: step 5 never validated
    assert with_it.validated_at == [3, 5]
    assert trainer.global_step == 5


def test_status_line_prints_every_n_steps_with_the_batch_accuracy_before_the_update():
    recorder = Recorder()
    status = StatusLine(every_n_steps=2, template="{step}|{loss:.6f}|{batch_acc}|{step_seconds:.3f}|{elapsed:.3f}")
    # lr 0: the model never changes, so the accuracy before the update is the fixed model's
    trainer, module = fit(recorder, status, lr=0.0, max_steps=5, max_epochs=-1)
    rows = [line.split("|") for line in status.lines]
    assert [int(row[0]) for row in rows] == [0, 2, 4]  # 0-based, as the seeds count
    for row in rows:
        step = int(row[0])
        images, labels = recorder.batches[step]
        expected = (eval_logits(module.model, images).argmax(dim=1) == labels).float().mean().item()
        assert float(row[1]) == pytest.approx(recorder.losses[step], abs=1e-6)
        assert float(row[2]) == pytest.approx(expected)
        assert 0 <= float(row[3]) <= float(row[4])


def test_split_accuracy_scores_whole_splits_every_n_steps_and_after_the_last_step(tmp_path):
    accuracy = SplitAccuracy(every_n_steps=2, splits=["val", "test"])
    logger = CSVLogger(tmp_path, name="run", version=0)
    trainer, module = fit(accuracy, logger=logger, max_steps=5, max_epochs=-1)
    assert [row["step"] for row in accuracy.history] == [2, 4, 5]
    splits = trainer.datamodule.splits
    for split in ("val", "test"):  # the last row is the finished model's
        images, labels = splits[split]
        expected = (batched_logits(module.model, images, True).argmax(dim=1) == labels).float().mean().item()
        assert accuracy.history[-1][f"full_{split}_acc"] == pytest.approx(expected)
    logger.finalize("success")
    with open(tmp_path / "run" / "version_0" / "metrics.csv") as file:
        logged = [row for row in csv.DictReader(file) if row.get("full_val_acc")]
    assert [int(row["step"]) for row in logged] == [2, 4, 5]


def test_batch_probabilities_records_the_fixed_batch_and_logs_it_to_the_run(tmp_path):
    probabilities = BatchProbabilities(every_n_steps=2, size=4)
    logger = MLFlowLogger(experiment_name="callbacks", tracking_uri=f"sqlite:///{tmp_path}/mlflow.db",
                          artifact_location=(tmp_path / "mlruns").as_uri())
    trainer, module = fit(probabilities, logger=logger, max_steps=5, max_epochs=-1)
    assert [record["step"] for record in probabilities.records] == [2, 4]
    last = np.array(probabilities.records[-1]["probabilities"])
    assert last.shape == (4, 10)
    assert np.allclose(last.sum(axis=1), 1, atol=1e-3)
    artifact = logger.experiment.download_artifacts(logger.run_id, "batch_probabilities.json", str(tmp_path))
    with open(artifact) as file:
        assert json.load(file) == probabilities.records


def test_progress_line_shows_each_validation_with_the_mean_training_loss_since_the_last_line():
    recorder, throughput = Recorder(), Throughput()
    progress = ProgressLine(throughput)
    # 4 batches an epoch, validated after its second (mid-epoch) and fourth (the epoch's end), twice
    trainer, _ = fit(recorder, throughput, progress, train_batches=4, val_check_interval=2)
    assert recorder.validated_at == [2, 4, 6, 8]
    assert [line.split(":")[0] for line in progress.lines] == ["epoch 1/2 step 2/8", "epoch 1/2 step 4/8",
                                                              "epoch 2/2 step 6/8", "epoch 2/2 step 8/8"]
    first = dict(part.rsplit(" ", 1) for part in progress.lines[0].split(": ", 1)[1].split(";")[0].split(", "))
    assert float(first["train_loss"]) == pytest.approx(np.mean(recorder.losses[:2]), abs=1e-4)
    assert "train_acc" not in first  # mid-epoch: the epoch's accuracy is not known yet
    last = dict(part.rsplit(" ", 1) for part in progress.lines[-1].split(": ", 1)[1].split(";")[0].split(", "))
    for name in ("train_loss", "val_loss", "train_acc", "val_acc"):  # the epoch's own figures at its end
        assert float(last[name]) == pytest.approx(float(trainer.callback_metrics[name]), abs=1e-4)
    assert progress.lines[-1].endswith("0m00s left")


@pytest.mark.parametrize(("seconds", "shown"), [(float("nan"), "?"), (65, "1m05s"), (3725, "1h02m"), (0.4, "0m00s")])
def test_durations_read_as_minutes_or_hours(seconds, shown):
    assert _duration(seconds) == shown
