"""The seed recipes (conf/experiment/) compose, train, and show what the seeds showed."""

import logging
import re
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from mlflow import MlflowClient
from pytorch_lightning.callbacks import Callback

from conftest import compose_config
from mnist_pipeline.core.config import to_plain
from mnist_pipeline.core.specs import REGISTERED
from mnist_pipeline.tracking import runs, store
from mnist_pipeline.train import train
from mnist_pipeline.training.callbacks import BatchProbabilities, SplitAccuracy, StatusLine
from mnist_pipeline.training.classifier import Classifier
from mnist_pipeline.training.datamodule import MNISTDataModule

pytestmark = pytest.mark.slow  # end to end: deselect with -m 'not slow'

PRESETS = ["deep_mnist", "deep_mnist_20k", "mechanics101", "pytorch_cnn", "tf_layers", "two_layer_net", "speedrun"]


@pytest.mark.parametrize(("preset", "recipe"), [
    ("deep_mnist", {"model._target_": "mnist_pipeline.models.DeepCNN", "optimizer._target_": "torch.optim.Adam",
                    "optimizer.lr": 1e-4, "data.batch_size": 50, "trainer.max_steps": 3000, "model.dropout": 0.5,
                    "model.init": "tf_deep_mnist"}),
    ("deep_mnist_20k", {"trainer.max_steps": 20000, "optimizer.lr": 1e-4, "data.batch_size": 50}),
    ("mechanics101", {"model._target_": "mnist_pipeline.models.MLP", "optimizer._target_": "torch.optim.SGD",
                      "optimizer.lr": 0.01, "data.batch_size": 100, "trainer.max_steps": 2000,
                      "model.init": "tf_mechanics101"}),
    ("tf_layers", {"model._target_": "mnist_pipeline.models.DeepCNN", "optimizer._target_": "torch.optim.SGD",
                   "optimizer.lr": 0.001, "data.batch_size": 100, "trainer.max_steps": 20000, "model.dropout": 0.4,
                   "model.init": "tf_layers_default", "callbacks.logging_hook.every_n_steps": 50}),
    ("two_layer_net", {"model._target_": "mnist_pipeline.models.TwoLayerNet", "optimizer.lr": 0.1, "seed": 42,
                       "data.batch_size": 100, "data.sample_with_replacement": True, "trainer.max_steps": 6000,
                       "callbacks.epoch_accuracy.every_n_steps": 600, "model.init": "scratch_two_layer"}),
    ("speedrun", {"model._target_": "mnist_pipeline.models.FastCNN", "optimizer.betas": [0.7, 0.9],
                  "scheduler._target_": "torch.optim.lr_scheduler.OneCycleLR", "data.batch_size": 256,
                  "trainer.max_epochs": 2}),
])
def test_presets_set_the_seed_recipes(preset, recipe):
    cfg = compose_config([f"experiment={preset}"])
    flat = runs.flatten(to_plain(cfg))
    assert {key: flat[key] for key in recipe} == recipe
    assert cfg.recipe == preset


@pytest.mark.parametrize("preset", PRESETS)
def test_each_preset_trains_a_few_steps(prepared, preset, caplog):
    limits = ["trainer.max_steps=4", "trainer.val_check_interval=2", "trainer.max_epochs=-1",
              "trainer.check_val_every_n_epoch=null"]
    if preset in ("pytorch_cnn", "speedrun"):  # epoch-based recipes
        limits = ["trainer.max_epochs=1", "trainer.limit_train_batches=4"]
    cfg = prepared(f"experiment={preset}", *limits)
    with caplog.at_level(logging.INFO, logger="mnist_pipeline.training.callbacks"):
        assert train(cfg) > 0
    # A progress line per validation: after steps 2 and 4 for the step-based recipes.
    progress = [r.getMessage() for r in caplog.records if r.getMessage().startswith("epoch ")]
    steps = [re.search(r" step (\d+)/4: train_loss [\d.]+, val_loss [\d.]+", line).group(1) for line in progress]
    assert steps == (["4"] if preset in ("pytorch_cnn", "speedrun") else ["2", "4"]), progress
    store.setup(cfg)
    [run] = MlflowClient().search_runs([store.setup(cfg)])
    assert run.data.tags["recipe"] == preset
    assert run.data.metrics["epoch"] >= 0


class InputRange(Callback):
    """Records the largest pixel value the model is fed."""

    seen: list[float] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        InputRange.seen.append(batch[0].max().item())


@pytest.mark.parametrize(("normalize", "expected_max"), [("true", 1.0), ("false", 255.0)])
def test_s4_switch_feeds_raw_pixels(prepared, normalize, expected_max, monkeypatch):
    monkeypatch.setitem(REGISTERED, "test_experiments.InputRange", "callback")  # let config build this test's callback
    InputRange.seen = []
    cfg = prepared("experiment=two_layer_net", f"data.normalize={normalize}", "trainer.max_steps=3",
                   "+callbacks.input_range._target_=test_experiments.InputRange")
    train(cfg)
    assert max(InputRange.seen) == expected_max


def fit(cfg, callbacks, steps):
    pl.seed_everything(0)
    datamodule = MNISTDataModule(cfg.paths.prepared, batch_size=10)
    module = Classifier(model=to_plain(cfg.model), optimizer=to_plain(cfg.optimizer))
    trainer = pl.Trainer(max_steps=steps, logger=False, enable_checkpointing=False, limit_val_batches=0,
                         enable_progress_bar=False, enable_model_summary=False, callbacks=callbacks)
    trainer.fit(module, datamodule=datamodule)


def test_status_line_cadence_and_wording(prepared):
    s0 = StatusLine(5, "step {step}, elapsed time {elapsed:.2f} sec, training accuracy {batch_acc:.2%}")
    s1 = StatusLine(5, "Step {step}: loss = {loss:.2f} ({step_seconds:.3f} sec)")
    fit(prepared(), [s0, s1], steps=12)
    assert [line.split(",")[0] for line in s0.lines] == ["step 0", "step 5", "step 10"]
    assert all(line.endswith("%") and "elapsed time" in line for line in s0.lines)
    assert [line.split(":")[0] for line in s1.lines] == ["Step 0", "Step 5", "Step 10"]


def test_split_accuracy_every_n_steps_and_at_the_end(prepared):
    evals = SplitAccuracy(5, ["train", "val", "test"])
    fit(prepared(), [evals], steps=12)
    assert [row["step"] for row in evals.history] == [5, 10, 12]
    assert all(0 <= row["full_test_acc"] <= 1 for row in evals.history)
    assert set(evals.history[0]) == {"step", "full_train_acc", "full_val_acc", "full_test_acc"}


def test_probability_hook_cadence(prepared):
    hook = BatchProbabilities(every_n_steps=4, size=3)
    fit(prepared(), [hook], steps=12)
    assert [r["step"] for r in hook.records] == [4, 8, 12]
    for record in hook.records:
        assert len(record["probabilities"]) == 3
        assert all(sum(row) == pytest.approx(1, abs=1e-3) for row in record["probabilities"])


@pytest.mark.parametrize("resume_step", [8, 24])  # epochs are 20 steps here: first and second epoch
def test_resume_gives_the_same_final_weights(prepared, tmp_path, resume_step):
    common = ["experiment=mechanics101", "trainer.max_steps=30", "trainer.val_check_interval=10",
              "callbacks.step_checkpoints.every_n_train_steps=4", "data.batch_size=50",
              "callbacks.precision_at_1.every_n_steps=10"]
    full = prepared(*common, f"paths.models={tmp_path}/full")
    train(full)
    resumed = prepared(*common, f"paths.models={tmp_path}/resumed",
                       f"resume_from={tmp_path}/full/steps/step-{resume_step}.ckpt")
    train(resumed)
    weights = [torch.load(Path(c.paths.models) / "last.ckpt", weights_only=True)["state_dict"] for c in (full, resumed)]
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
