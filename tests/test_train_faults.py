"""The train stage under faults: kills, signals, resumes, early stops and bad config."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from mlflow import MlflowClient
from omegaconf import open_dict

from conftest import mlflow_client
from mnist_pipeline.core.errors import ConfigError
from mnist_pipeline.train import train

pytestmark = pytest.mark.slow  # end to end: deselect with -m 'not slow'


def start_training(cfg, folder: Path, *overrides: str) -> subprocess.Popen:
    """`python -m mnist_pipeline.train` on the tiny data, checkpoints in folder/models."""
    args = ["data=tiny", f"paths.prepared={cfg.paths.prepared}", f"paths.models={folder}/models",
            f"paths.checkpoints={cfg.paths.checkpoints}",
            f"paths.reports={folder}/reports", f"tracking.tracking_uri={cfg.tracking.tracking_uri}",
            f"hydra.run.dir={folder}/hydra", *overrides]
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    # One thread each, whatever else runs: a training's share of the cores depends on how many run at
    # once, and another thread count sums floats in another order (the weights compared would differ).
    env["OMP_NUM_THREADS"] = "1"
    return subprocess.Popen([sys.executable, "-m", "mnist_pipeline.train", "--config-path",
                             str(Path(cfg.paths.models).parent / "conf"), *args],
                            cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def resumable_checkpoint(cfg, process: subprocess.Popen, timeout: float = 120) -> Path:
    """The running training's first resumable checkpoint, <paths.checkpoints>/<run id>/last.ckpt."""
    deadline = time.monotonic() + timeout
    while not (found := list(Path(cfg.paths.checkpoints).glob("*/last.ckpt"))):
        assert process.poll() is None, f"training ended before any checkpoint: {process.communicate()[1][-2000:]}"
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.02)
    return found[0]


def interrupted(cfg, folder: Path, sig: int, *overrides: str) -> tuple[subprocess.CompletedProcess, Path]:
    """A training sent `sig` once its first resumable checkpoint exists; and that checkpoint."""
    folder.mkdir(parents=True, exist_ok=True)
    process = start_training(cfg, folder, "trainer.max_epochs=30", *overrides)
    checkpoint = resumable_checkpoint(cfg, process)
    process.send_signal(sig)
    out, err = process.communicate(timeout=120)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err), checkpoint


def only_run(cfg) -> tuple[MlflowClient, object]:
    client = mlflow_client(cfg.tracking.tracking_uri)
    [run] = client.search_runs([client.get_experiment_by_name("mnist").experiment_id])
    return client, run


@pytest.mark.parametrize(("sig", "code", "reason"), [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGINT, 130, "Ctrl-C")])
def test_sigterm_and_ctrl_c_exit_non_zero_and_mark_the_run_killed(prepared, tmp_path, sig, code, reason):
    cfg = prepared()
    result, checkpoint = interrupted(cfg, tmp_path / "job", sig, "data.batch_size=10")
    assert result.returncode == code, result.stderr[-2000:]
    client, run = only_run(cfg)
    assert run.info.status == "KILLED" and reason in run.data.tags["error"]
    assert checkpoint.parent.name == run.info.run_id and f"resume with resume_from={checkpoint}" in result.stderr
    assert torch.load(checkpoint, weights_only=True)["mlflow_run_id"] == run.info.run_id
    assert not (tmp_path / "job" / "models").exists()  # models/ holds finished trainings only


def test_a_run_left_running_by_sigkill_is_marked_killed_by_the_next(prepared, tmp_path):
    cfg = prepared()
    result, _ = interrupted(cfg, tmp_path / "killed", signal.SIGKILL, "data.batch_size=10")
    assert result.returncode == -signal.SIGKILL
    client, killed = only_run(cfg)
    assert killed.info.status == "RUNNING"  # nothing could close it
    assert killed.data.tags["process_pid"] and killed.data.tags["process_host"]

    train(prepared("trainer.max_epochs=1"))
    assert client.get_run(killed.info.run_id).info.status == "KILLED"
    assert "killed" in client.get_run(killed.info.run_id).data.tags["error"]


def test_resume_after_a_kill_continues_the_run_and_ends_with_the_same_weights(prepared, tmp_path):
    cfg = prepared()
    epochs = ["trainer.max_epochs=4", "data.batch_size=10"]
    (tmp_path / "whole").mkdir()
    whole = start_training(cfg, tmp_path / "whole", *epochs)
    assert whole.wait(timeout=300) == 0, whole.communicate()[1][-2000:]

    (tmp_path / "killed").mkdir()
    process = start_training(cfg, tmp_path / "killed", *epochs)
    checkpoint = resumable_checkpoint(cfg, process)
    process.kill()
    process.wait()
    run_id = checkpoint.parent.name
    resumed = start_training(cfg, tmp_path / "killed", *epochs, f"resume_from={checkpoint}")
    assert resumed.wait(timeout=300) == 0, resumed.communicate()[1][-2000:]

    final = torch.load(tmp_path / "killed" / "models" / "last.ckpt", weights_only=True)
    assert final["mlflow_run_id"] == run_id  # the same MLflow run, continued
    expected = torch.load(tmp_path / "whole" / "models" / "last.ckpt", weights_only=True)["state_dict"]
    assert all(torch.equal(final["state_dict"][k], expected[k]) for k in expected)
    assert not checkpoint.parent.exists()  # a finished training's in-progress folder goes

    client = mlflow_client(cfg.tracking.tracking_uri)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.data.tags["resumed_from"] == str(checkpoint)
    assert "error" not in run.data.tags and "killed" in run.data.tags["resumed_after"]
    steps = [m.step for m in client.get_metric_history(run_id, "val_acc")]
    assert steps == sorted(set(steps)) and len(steps) == 4  # one point per epoch, none twice


def test_a_training_that_stops_before_its_first_validation_is_validated_at_the_end(prepared):
    cfg = prepared("trainer.max_steps=5")  # 24 steps an epoch: the epoch-end validation never comes
    best_val = train(cfg)
    best = Path(cfg.paths.models) / "best.ckpt"
    assert best.exists() and best_val > 0.1
    client, run = only_run(cfg)
    [point] = client.get_metric_history(run.info.run_id, "val_acc")
    assert point.step == 4  # Lightning logs at the last batch's 0-based index
    assert run.data.metrics["best_val_acc"] == pytest.approx(best_val)
    assert run.data.tags["best_checkpoint"] == str(best.resolve())


def test_a_misspelt_trainer_key_fails_before_any_run_starts(prepared):
    cfg = prepared()
    with open_dict(cfg):
        cfg.trainer.max_epoch = 3
    with pytest.raises(ConfigError, match=r"unknown key 'trainer.max_epoch' \(did you mean 'trainer.max_epochs'\?\)"):
        train(cfg)
    client = mlflow_client(cfg.tracking.tracking_uri)
    experiment = client.get_experiment_by_name("mnist")
    assert experiment is None or not client.search_runs([experiment.experiment_id])


def test_a_resume_checkpoint_of_another_model_is_refused_before_work(prepared, tmp_path):
    cfg = prepared("trainer.max_epochs=1")
    train(cfg)
    other = prepared("model=mlp", f"resume_from={cfg.paths.models}/last.ckpt")
    with pytest.raises(ConfigError, match="resume_from: .*last.ckpt holds model"):
        train(other)


def test_resuming_a_finished_schedule_says_nothing_is_left_and_leaves_the_run_finished(prepared, tmp_path):
    cfg = prepared("trainer=debug", "trainer.max_epochs=1")  # the debug preset's schedule: one epoch of 5 batches
    train(cfg)
    finished = Path(cfg.paths.models) / "last.ckpt"
    client, run = only_run(cfg)
    assert run.info.status == "FINISHED"
    before = {f.name: f.read_bytes() for f in Path(cfg.paths.models).iterdir()}

    job = tmp_path / "again"
    job.mkdir()
    recipe = ["model=small_cnn", "optimizer=adam", "trainer=debug"]  # the tests' recipe, as trained above
    again = start_training(cfg, job, *recipe, f"resume_from={finished}")
    _, err = again.communicate(timeout=300)
    assert again.returncode == 1
    assert err.strip().splitlines() == [
        f"error: resume_from: {finished} has run 1 epochs (5 steps), the whole schedule of trainer.max_epochs=1, "
        "trainer.max_steps=-1: nothing left to train: raise trainer.max_epochs/max_steps"], err[-2000:]
    after = client.get_run(run.info.run_id)
    assert after.info.status == "FINISHED" and "error" not in after.data.tags
    assert {f.name: f.read_bytes() for f in Path(cfg.paths.models).iterdir()} == before
    assert not (job / "models").exists() and not list(Path(cfg.paths.checkpoints).glob("*/*.ckpt"))

    longer = start_training(cfg, job, *recipe, "trainer.max_epochs=2", f"resume_from={finished}")
    assert longer.wait(timeout=300) == 0, longer.communicate()[1][-2000:]  # a raised schedule trains on
    assert client.get_run(run.info.run_id).info.status == "FINISHED"


def test_resuming_a_one_cycle_training_with_a_longer_schedule_is_refused_in_one_line(prepared, tmp_path):
    # The default recipe's one-cycle rate is planned over the run's length: stepping past it would
    # end in a traceback from torch in the middle of the training.
    cfg = prepared("trainer=debug", "trainer.max_epochs=1", "optimizer=adam_one_cycle", "data.batch_size=32")
    train(cfg)
    finished = Path(cfg.paths.models) / "last.ckpt"
    job = tmp_path / "again"
    job.mkdir()
    again = start_training(cfg, job, "model=small_cnn", "optimizer=adam_one_cycle", "data.batch_size=32",
                           "trainer=debug", "trainer.max_epochs=2", f"resume_from={finished}")
    _, err = again.communicate(timeout=300)
    assert again.returncode == 1
    assert err.strip().splitlines() == [
        f"error: resume_from: {finished} trains under a rate schedule planned over 5 steps (trainer.max_epochs=1, "
        "trainer.max_steps=-1), which cannot be lengthened: resume with those, or start a new training"], err[-2000:]
