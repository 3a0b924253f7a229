"""Run params and names."""

import re
import time

import mlflow
import pytest

from conftest import compose_config, mlflow_client
from mnist_pipeline.tracking import runs


def test_flatten():
    assert runs.flatten({"a": {"b": 1, "c": {"d": [2]}}, "e": 3}) == {"a.b": 1, "a.c.d": [2], "e": 3}


def test_run_names_say_what_ran_and_differ(tmp_path):
    cfg = compose_config([f"tracking.tracking_uri=sqlite:///{tmp_path}/store.db"])
    names = {runs.descriptive_run_name(cfg) for _ in range(20)}
    assert len(names) == 20  # unique even with the same seed and config
    assert all(re.fullmatch(r"FastCNN-mnist-[0-9a-f]{6}", name) for name in names), names
    recipe = compose_config(["experiment=deep_mnist"])
    assert runs.descriptive_run_name(recipe).startswith("deep_mnist-mnist-")


def test_a_sweep_job_is_named_by_its_number_and_overrides():
    tags = {"hydra_job_num": "3", "hydra_overrides": "optimizer.lr=0.003 model.dropout=0.2"}
    assert runs.job_run_name(tags) == "job-3 optimizer.lr=0.003 model.dropout=0.2"
    assert runs.job_run_name({"hydra_job_num": "0", "hydra_overrides": ""}) == "job-0"
    long = runs.job_run_name({"hydra_job_num": "1", "hydra_overrides": "x=" + "9" * 300})
    assert len(long) == 120 and long.startswith("job-1 x=99") and long.endswith("…")


def finished_run(tmp_path, status: str = "FINISHED"):
    """A run in a real SQLite store, ended with `status` a moment ago."""
    client = mlflow_client(f"sqlite:///{tmp_path}/store.db")
    experiment_id = client.create_experiment("reopened")
    run_id = client.create_run(experiment_id).info.run_id
    client.set_terminated(run_id, status)
    return client, run_id


@pytest.mark.parametrize("status", ["FINISHED", "FAILED", "KILLED"])
def test_a_reopened_run_keeps_its_status_and_end_time(tmp_path, status):
    client, run_id = finished_run(tmp_path, status)
    before = client.get_run(run_id).info
    time.sleep(0.05)  # so that an end time stamped on leaving would differ
    with runs.reopened(run_id):
        mlflow.log_metric("test_acc", 0.9)
    after = client.get_run(run_id)
    assert (after.info.status, after.info.end_time) == (status, before.end_time)
    assert after.data.metrics["test_acc"] == 0.9  # what was added is kept


def test_a_command_that_fails_inside_a_reopened_run_does_not_mark_it_failed(tmp_path):
    client, run_id = finished_run(tmp_path)
    before = client.get_run(run_id).info
    with pytest.raises(RuntimeError), runs.reopened(run_id):
        raise RuntimeError("export failed")
    after = client.get_run(run_id).info
    assert (after.status, after.end_time) == ("FINISHED", before.end_time)
    assert mlflow.active_run() is None
