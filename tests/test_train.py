import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mlflow import MlflowClient

from mnist_pipeline.download import download
from mnist_pipeline.prepare import prepare
from mnist_pipeline.tracking import runs, store
from mnist_pipeline.train import train

pytestmark = pytest.mark.slow  # end to end: deselect with -m 'not slow'


def test_train_logs_run_and_saves_loadable_checkpoints(tiny_cfg, tiny_mirror, caplog):
    cfg = tiny_cfg()
    download(cfg)
    prepare(cfg)
    with caplog.at_level(logging.INFO, logger="mnist_pipeline.training.callbacks"):
        best_val = train(cfg)
    # A line per epoch: step, losses, accuracies, images/s, time left.
    progress = [r.getMessage() for r in caplog.records if r.getMessage().startswith("epoch ")]
    assert len(progress) == 2, progress
    line = (r"epoch {epoch}/2 step {step}/40: train_loss [\d.]+, val_loss [\d.]+, train_acc [\d.]+, val_acc [\d.]+; "
            r"[\d,]+ images/s, \dm\d\ds left")
    assert re.fullmatch(line.format(epoch=1, step=20), progress[0]), progress[0]
    assert re.fullmatch(line.format(epoch=2, step=40), progress[1]) and progress[1].endswith("0m00s left")

    models = Path(cfg.paths.models)
    best = torch.load(models / "best.ckpt", weights_only=True)  # plain hyperparameters only
    assert (models / "last.ckpt").exists()
    assert not list(models.glob(".*.part"))
    metrics = json.loads((Path(cfg.paths.reports) / "train_metrics.json").read_text())
    assert metrics["best_val_acc"] == best_val > 0.5  # 1000 real digits, 2 epochs
    assert metrics["epochs"] == 2 and metrics["train_images_per_sec"] > 0

    store.setup(cfg)
    client = MlflowClient()
    run = client.get_run(best["mlflow_run_id"])
    assert run.data.params["optimizer.lr"] == "0.002" and run.data.params["model._target_"].endswith("SmallCNN")
    assert run.data.tags["dataset"] == "tiny" and run.data.tags["dataset_sha256"] == runs.dataset_digest(cfg)
    assert run.data.tags["git_commit"]
    assert run.data.tags[runs.MIRROR_TAG] == tiny_mirror[0].as_uri() + "/"  # where download fetched the data
    assert re.fullmatch(r"SmallCNN-tiny-[0-9a-f]{6}", run.info.run_name), run.info.run_name
    for name in ("train_loss", "val_loss", "train_acc", "val_acc", "train_images_per_sec"):
        assert len(client.get_metric_history(run.info.run_id, name)) == 2, name  # once per epoch
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"config.yaml", "model_summary.txt"} <= artifacts
    assert best["config"]["data"]["name"] == "tiny"


@pytest.mark.smoke  # in `make test`'s quick loop
def test_multirun_sweep_gives_one_mlflow_run_per_job(tiny_cfg, tmp_path):
    cfg = tiny_cfg()
    download(cfg)
    prepare(cfg)
    overrides = [
        "data=tiny", f"paths.prepared={cfg.paths.prepared}", f"tracking.tracking_uri={cfg.tracking.tracking_uri}",
        "tracking.experiment_name=sweep", "trainer.max_epochs=1", f"hydra.sweep.dir={tmp_path}/multirun",
    ]
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    result = subprocess.run(
        [sys.executable, "-m", "mnist_pipeline.train", "--config-path", str(tmp_path / "conf"), "-m",
         "model=small_cnn,deep_cnn", *overrides],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    cfg.tracking.experiment_name = "sweep"
    experiment = store.setup(cfg)
    all_runs = MlflowClient().search_runs([experiment])
    [parent] = [r for r in all_runs if r.data.tags.get("sweep_role") == "parent"]
    runs = [r for r in all_runs if r is not parent]
    assert sorted(r.data.tags["model"] for r in runs) == ["DeepCNN", "SmallCNN"]
    assert sorted(r.data.tags["hydra_job_num"] for r in runs) == ["0", "1"]
    assert all(r.info.status == "FINISHED" for r in all_runs)
    # Both jobs are nested under the sweep's parent run, which names the better one.
    assert all(r.data.tags["mlflow.parentRunId"] == parent.info.run_id for r in runs)
    names = sorted(r.info.run_name for r in runs)  # the job's number, then its overrides
    assert [n.split()[0] for n in names] == ["job-0", "job-1"]
    assert sorted(n.split()[1] for n in names) == ["model=deep_cnn", "model=small_cnn"]
    best = max(runs, key=lambda r: r.data.metrics["best_val_acc"])
    assert parent.data.tags["best_run_id"] == best.info.run_id
    assert parent.data.params["best.model._target_"] == best.data.params["model._target_"]
    assert parent.data.params["sweep.sweeper._target_"].endswith("BasicSweeper")
    assert parent.data.params["sweep.overrides"].startswith("model=small_cnn,deep_cnn")
    for job in ("0", "1"):  # each job keeps its own checkpoints, none in the pipeline's models/
        assert (tmp_path / "multirun" / job / "models" / "best.ckpt").exists()
    assert not Path(cfg.paths.models).exists()
