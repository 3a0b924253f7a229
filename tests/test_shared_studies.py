"""Optuna studies kept in a database (hydra.sweeper.storage): a killed sweep continues when rerun,
and two sweeps on the same study, started at the same moment on a new store, share its trials."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from omegaconf import OmegaConf

from conftest import mlflow_client, tiny_overrides

pytestmark = pytest.mark.slow  # end to end: deselect with -m 'not slow'

COMPLETE = optuna.trial.TrialState.COMPLETE


def start_sweep(folder: Path, study: str, n_trials: int, sweep_dir: str, seed: int = 42) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return subprocess.Popen(
        [sys.executable, "-m", "mnist_pipeline.train", "--config-path", str(folder / "conf"), "-m",
         *tiny_overrides(folder), "hparams_search=small_cnn_optuna", f"hydra.sweeper.storage={storage(folder)}",
         f"hydra.sweeper.study_name={study}", f"hydra.sweeper.n_trials={n_trials}",
         "hydra.sweeper.sampler.n_startup_trials=2", f"hydra.sweeper.sampler.seed={seed}",
         f"hydra.sweep.dir={folder / sweep_dir}",
         "trainer.max_epochs=1", "trainer.limit_train_batches=3", "trainer.limit_val_batches=2"],
        cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)


def storage(folder: Path) -> str:
    return f"sqlite:///{folder}/optuna.db"


def finished(sweep: subprocess.Popen) -> None:
    _, err = sweep.communicate(timeout=300)
    assert sweep.returncode == 0, err[-3000:]


def complete_trials(folder: Path, study: str) -> list[optuna.trial.FrozenTrial]:
    try:
        trials = optuna.load_study(study_name=study, storage=storage(folder)).get_trials(deepcopy=False)
    except KeyError:  # not created yet
        return []
    return [trial for trial in trials if trial.state == COMPLETE]


def test_a_killed_sweep_continues_its_study_when_rerun(project):
    sweep = start_sweep(project, "killed", n_trials=6, sweep_dir="first")
    deadline = time.monotonic() + 240
    while len(complete_trials(project, "killed")) < 2:
        assert sweep.poll() is None and time.monotonic() < deadline, sweep.stderr.read()[-3000:]
        time.sleep(0.5)
    os.killpg(sweep.pid, signal.SIGKILL)  # no chance to clean up: a lost machine, an OOM kill
    sweep.wait(timeout=30)
    before = {trial.number: trial.params for trial in complete_trials(project, "killed")}
    assert 2 <= len(before) < 6

    finished(start_sweep(project, "killed", n_trials=2, sweep_dir="rerun"))
    after = complete_trials(project, "killed")
    assert {trial.number: trial.params for trial in after if trial.number in before} == before  # kept
    new = [trial for trial in after if trial.number not in before]
    assert len(new) == 2 and min(trial.number for trial in new) > max(before)  # continued, numbered on
    # The rerun reports the study's best, earlier trials included.
    result = OmegaConf.load(project / "rerun" / "optimization_results.yaml")
    assert result.best_value == pytest.approx(max(trial.value for trial in after))


def test_two_sweeps_started_at_once_on_new_stores_share_one_study(project):
    # Each worker seeds its sampler differently; with the same seed both would propose the same
    # first (random, startup) trials.
    sweeps = [start_sweep(project, "shared", n_trials=2, sweep_dir=name, seed=seed)
              for name, seed in (("a", 1), ("b", 2))]
    for sweep in sweeps:
        finished(sweep)
    trials = complete_trials(project, "shared")
    assert sorted(trial.number for trial in trials) == [0, 1, 2, 3]  # one study, each trial run once
    assert len({trial.params["optimizer.lr"] for trial in trials}) == 4

    # Both sweeps logged to the (new) MLflow store too: two parents, two finished jobs under each.
    client = mlflow_client(f"sqlite:///{project}/mlflow.db")
    runs = client.search_runs([client.get_experiment_by_name("mnist").experiment_id])
    parents = [run for run in runs if run.data.tags.get("sweep_role") == "parent"]
    assert len(parents) == 2 and all(run.info.status == "FINISHED" for run in runs)
    for parent in parents:
        children = [run for run in runs if run.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
        assert len(children) == 2
