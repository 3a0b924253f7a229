"""DDP with two CPU processes (gloo): one MLflow run, metrics of the whole validation set, one pair of
checkpoints that evaluate scores and a training resumes from; DDP inside a sweep refused at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import compose_config, mlflow_client, tiny_overrides, write_tiny_conf
from mnist_pipeline.data.prepared import load_prepared
from mnist_pipeline.download import download
from mnist_pipeline.evaluate import evaluate
from mnist_pipeline.inference.checkpoints import load_checkpoint
from mnist_pipeline.inference.logits import batched_logits
from mnist_pipeline.prepare import prepare

pytestmark = pytest.mark.slow  # end to end: deselect with -m 'not slow'

EXPERIMENT = "ddp"


def train_command(folder: Path, *overrides: str, multirun: bool = False) -> list[str]:
    return [sys.executable, "-m", "mnist_pipeline.train", "--config-path", str(folder / "conf"),
            *(["-m"] if multirun else []), *tiny_overrides(folder),
            f"tracking.experiment_name={EXPERIMENT}", f"hydra.run.dir={folder}/outputs", *overrides]


def run_train(folder: Path, *overrides: str, multirun: bool = False) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return subprocess.run(train_command(folder, *overrides, multirun=multirun), cwd=folder, env=env,
                          capture_output=True, text=True, timeout=400)


@pytest.fixture(scope="module")
def ddp_training(tmp_path_factory, tiny_mirror):
    """A finished 2-process DDP training on the tiny dataset: (folder, config)."""
    folder = tmp_path_factory.mktemp("ddp")
    cfg = compose_config([*tiny_overrides(folder), f"tracking.experiment_name={EXPERIMENT}"],
                         config_dir=write_tiny_conf(folder, *tiny_mirror))
    download(cfg)
    prepare(cfg)
    result = run_train(folder, "trainer=ddp", "trainer.devices=2", "trainer.accelerator=cpu", "trainer.max_epochs=2")
    assert result.returncode == 0, result.stderr[-3000:]
    return folder, cfg


def test_two_processes_make_one_run_and_one_pair_of_checkpoints(ddp_training):
    folder, cfg = ddp_training
    client = mlflow_client(cfg.tracking.tracking_uri)
    [run] = client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id])
    assert run.info.status == "FINISHED"
    assert run.data.params["trainer.strategy"] == "ddp" and run.data.tags["hardware"].startswith("2 processes")
    assert sorted(p.name for p in (folder / "models").iterdir()) == ["best.ckpt", "last.ckpt"]
    assert not list((folder / "checkpoints").iterdir())  # the in-progress folder went once published
    last = torch.load(folder / "models" / "last.ckpt", weights_only=True)
    assert last["mlflow_run_id"] == run.info.run_id and last["epoch"] == 2
    # 1000 training images in batches of 50, split over 2 processes: 10 optimizer steps an epoch.
    assert json.loads((folder / "reports" / "train_metrics.json").read_text())["steps"] == 20


def test_logged_validation_accuracy_is_that_of_the_whole_validation_set(ddp_training):
    """Each process validates half of the 200 images; rank 0 logs the figure of all 200."""
    folder, cfg = ddp_training
    client = mlflow_client(cfg.tracking.tracking_uri)
    model, checkpoint = load_checkpoint(folder / "models" / "last.ckpt")
    history = client.get_metric_history(checkpoint["mlflow_run_id"], "val_acc")
    assert len(history) == 2  # once per epoch, by one process
    images, labels = load_prepared(Path(cfg.paths.prepared), "val", 10)
    whole = float((batched_logits(model, images, True).argmax(dim=1) == labels).float().mean())
    halves = [float((batched_logits(model, images[i::2], True).argmax(dim=1) == labels[i::2]).float().mean())
              for i in (0, 1)]
    assert max(history, key=lambda m: m.step).value == pytest.approx(whole, abs=1e-6)
    assert halves[0] != halves[1]  # so rank 0's own half alone would have given another figure


def test_evaluate_scores_the_ddp_checkpoint_in_the_same_run(ddp_training):
    folder, cfg = ddp_training
    metrics = evaluate(cfg, folder / "models" / "best.ckpt")
    assert metrics["test_acc"] > 0.5
    client = mlflow_client(cfg.tracking.tracking_uri)
    [run] = client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id])
    assert run.data.metrics["test_acc"] == pytest.approx(metrics["test_acc"])


def test_a_ddp_training_resumes_in_its_own_run(ddp_training, tmp_path):
    folder, cfg = ddp_training
    result = run_train(folder, "trainer=ddp", "trainer.devices=2", "trainer.accelerator=cpu", "trainer.max_epochs=3",
                       f"resume_from={folder}/models/last.ckpt")
    assert result.returncode == 0, result.stderr[-3000:]
    client = mlflow_client(cfg.tracking.tracking_uri)
    [run] = client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id])
    assert run.info.status == "FINISHED" and "resumed_from" in run.data.tags
    assert len(client.get_metric_history(run.info.run_id, "val_acc")) == 3
    assert torch.load(folder / "models" / "last.ckpt", weights_only=True)["epoch"] == 3


def test_ddp_inside_a_sweep_fails_at_once_with_a_clear_message(ddp_training):
    folder, cfg = ddp_training
    result = run_train(folder, "trainer=ddp", "trainer.devices=2", "trainer.accelerator=cpu",
                       "optimizer.lr=0.001,0.002", f"hydra.sweep.dir={folder}/multirun", multirun=True)
    assert result.returncode != 0
    assert "cannot run inside a sweep (-m)" in result.stderr and "would start the whole sweep again" in result.stderr
    client = mlflow_client(cfg.tracking.tracking_uri)
    failed = [r for r in client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id])
              if r.data.tags.get("hydra_job_num")]
    assert [r.info.status for r in failed] == ["FAILED", "FAILED"]  # recorded under the sweep
    assert "cannot run inside a sweep" in failed[0].data.tags["error"]
    assert not list((folder / "multirun").rglob("*.ckpt"))  # nothing was trained

