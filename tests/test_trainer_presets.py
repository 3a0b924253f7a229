"""The trainer presets of conf/trainer/: every common Lightning key overridable without `+`, the
debug preset's quick end-to-end check, and bf16 mixed precision on the CPU."""

import json
from pathlib import Path

import pytest
import torch
from mlflow import MlflowClient

from conftest import ROOT, compose_config
from mnist_pipeline.evaluate import evaluate
from mnist_pipeline.tracking import store
from mnist_pipeline.train import train

PRESETS = sorted(path.stem for path in (ROOT / "conf" / "trainer").glob("*.yaml"))
COMMON_KEYS = {"accelerator", "devices", "num_nodes", "strategy", "precision", "max_epochs", "max_steps",
               "val_check_interval", "check_val_every_n_epoch", "detect_anomaly", "limit_train_batches",
               "limit_val_batches"}


def test_the_presets_are_there():
    assert PRESETS == ["cpu", "ddp", "debug", "default", "gpu"]


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("recipe", [None, "deep_mnist", "pytorch_cnn"])
def test_every_common_key_overrides_without_plus(preset, recipe):
    overrides = [f"trainer={preset}", *([f"experiment={recipe}"] if recipe else [])]
    assert COMMON_KEYS <= set(compose_config(overrides).trainer)
    cfg = compose_config([*overrides, "trainer.max_steps=7", "trainer.precision=bf16-mixed", "trainer.num_nodes=2"])
    assert (cfg.trainer.max_steps, cfg.trainer.precision, cfg.trainer.num_nodes) == (7, "bf16-mixed", 2)


def test_ddp_preset_runs_one_process_per_device():
    cfg = compose_config(["trainer=ddp", "trainer.devices=4"])
    assert (cfg.trainer.strategy, cfg.trainer.devices, cfg.trainer.num_nodes) == ("ddp", 4, 1)




@pytest.mark.slow
def test_debug_preset_trains_a_few_batches_on_cpu_with_anomaly_detection(prepared):
    cfg = prepared("trainer=debug")
    assert cfg.trainer.accelerator == "cpu" and cfg.trainer.detect_anomaly is True
    train(cfg)
    metrics = json.loads((Path(cfg.paths.reports) / "train_metrics.json").read_text())
    assert metrics["steps"] == 5 * metrics["epochs"]  # 5 batches an epoch, of 24 (the fixture sets 2 epochs)
    assert compose_config(["trainer=debug"]).trainer.max_epochs == 1
    assert (Path(cfg.paths.models) / "best.ckpt").is_file()
    assert 0 <= evaluate(cfg, Path(cfg.paths.models) / "best.ckpt")["test_acc"] <= 1  # the whole stage runs


@pytest.mark.slow
def test_bf16_mixed_precision_trains_on_cpu(prepared):
    cfg = prepared("trainer=cpu", "trainer.precision=bf16-mixed", "trainer.max_epochs=1")
    best_val = train(cfg)
    assert best_val > 0.3  # 1000 real digits, one epoch, learning in bf16
    checkpoint = torch.load(Path(cfg.paths.models) / "last.ckpt", weights_only=True)
    assert checkpoint["config"]["trainer"]["precision"] == "bf16-mixed"
    # The master weights stay float32 under mixed precision.
    assert all(t.dtype == torch.float32 for t in checkpoint["state_dict"].values() if t.is_floating_point())
    store.setup(cfg)
    run = MlflowClient().get_run(checkpoint["mlflow_run_id"])
    assert run.info.status == "FINISHED" and run.data.params["trainer.precision"] == "bf16-mixed"
