"""A SLURM job started again finds the run its earlier start opened (by the job id SLURM keeps),
on a real SQLite store; outside SLURM, or on a job's first start, nothing is looked up."""

from __future__ import annotations

import pytest
from mlflow import MlflowClient

from conftest import compose_config, mlflow_client
from mnist_pipeline.tracking import runs, store

SLURM_VARIABLES = ("SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID", "SLURM_RESTART_COUNT")


@pytest.fixture(scope="module")
def store_uri(tmp_path_factory) -> str:
    """One store for the module (a new SQLite store takes seconds to create)."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('requeue')}/store.db"
    store.setup(compose_config([f"tracking.tracking_uri={uri}"]))
    return uri


@pytest.fixture
def cfg(store_uri, request, monkeypatch):
    """A config of its own experiment, with no SLURM variables set."""
    for name in SLURM_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    mlflow_client(store_uri)
    return compose_config([f"tracking.tracking_uri={store_uri}", f"tracking.experiment_name={request.node.name}"])


def job_run(cfg, job: str, status: str) -> str:
    client = MlflowClient()
    run = client.create_run(store.setup(cfg), tags={runs.SLURM_JOB_TAG: job}).info.run_id
    client.set_terminated(run, status)
    return run


def test_a_requeued_job_finds_its_unfinished_run_and_a_first_start_looks_for_none(cfg, monkeypatch):
    killed = job_run(cfg, "7", "KILLED")
    job_run(cfg, "8", "KILLED")
    monkeypatch.setenv("SLURM_JOB_ID", "7")
    assert runs.requeued_run(cfg) is None  # no SLURM_RESTART_COUNT: the job's first start
    monkeypatch.setenv("SLURM_RESTART_COUNT", "0")
    assert runs.requeued_run(cfg) is None
    monkeypatch.setenv("SLURM_RESTART_COUNT", "1")
    assert runs.requeued_run(cfg) == killed
    assert runs.process_tags()[runs.SLURM_JOB_TAG] == "7" and runs.process_tags()[runs.SLURM_RESTARTS_TAG] == "1"


def test_a_finished_run_of_the_same_job_id_is_never_resumed(cfg, monkeypatch):
    """Job ids start again at 1 on a new cluster: a finished run with the same id is another job's."""
    job_run(cfg, "3", "FINISHED")
    monkeypatch.setenv("SLURM_JOB_ID", "3")
    monkeypatch.setenv("SLURM_RESTART_COUNT", "2")
    assert runs.requeued_run(cfg) is None


def test_a_task_of_a_job_array_is_found_by_its_own_job_id_and_tagged_with_its_index(cfg, monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "12")  # the array is 10; its task 2 is job 12, as sacct lists it
    monkeypatch.setenv("SLURM_ARRAY_JOB_ID", "10")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "2")
    assert runs.process_tags()[runs.SLURM_ARRAY_TAG] == "10_2"
    failed = job_run(cfg, "12", "FAILED")
    job_run(cfg, "10", "FAILED")
    monkeypatch.setenv("SLURM_RESTART_COUNT", "1")
    assert runs.requeued_run(cfg) == failed


def test_outside_slurm_a_run_has_no_slurm_tags(cfg):
    assert runs.slurm_job_id() is None and runs.SLURM_JOB_TAG not in runs.process_tags()
