"""The MLflow store: where it is (a SQLite file at the project root unless told otherwise) and the
experiment runs log to."""

from __future__ import annotations

import os
from pathlib import Path

import mlflow
from filelock import FileLock
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from omegaconf import DictConfig

from ..core.project import project_root

_SQLITE = "sqlite:///"
# MLflow 3 records an experiment's kind; without it the UI opens an experiment on its GenAI
# overview and asks what the experiment is. This one trains models: it opens on the runs.
KIND_TAG, TRAINING_KIND = "mlflow.experimentKind", "custom_model_development"


def tracking_uri(cfg: DictConfig) -> str:
    """MLFLOW_TRACKING_URI, else tracking.tracking_uri, else a SQLite store at the project root.

    A relative SQLite path counts from the project root, so DVC's temporary experiment copies
    log into the same store as the workspace."""
    uri = os.environ.get("MLFLOW_TRACKING_URI") or cfg.tracking.tracking_uri or "sqlite:///mlflow.db"
    if uri.startswith(_SQLITE) and not Path(uri[len(_SQLITE):]).is_absolute():
        uri = _SQLITE + str(project_root() / uri[len(_SQLITE):])
    return uri


def point_mlflow_at(uri: str) -> None:
    """mlflow's tracking and registry URIs, process-wide.

    MLflow also exports the URI as MLFLOW_TRACKING_URI, which tracking_uri() would then take for the
    user's choice: a later connect in this process (another config) must still find its own."""
    users = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    if users is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = users


def connect(cfg: DictConfig) -> str:
    """Point mlflow (tracking and registry) at the store; returns its URI."""
    uri = tracking_uri(cfg)
    point_mlflow_at(uri)
    if uri.startswith(_SQLITE):
        open_sqlite_store(uri)
    return uri


def sqlite_lock(uri: str) -> FileLock:
    """A lock file beside the SQLite database of `uri` (sqlite:///<path>)."""
    database = Path(uri[len(_SQLITE):])
    database.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(f"{database}.lock")


def open_sqlite_store(uri: str) -> None:
    """Open the SQLite store once in this process, one process at a time.

    Whoever opens a new SQLite store first creates its tables; two processes doing so at the same
    moment (two sweeps, two queued experiments) fail with "table experiments already exists". A file
    lock beside the database lets the first create them and the others find them made. (A tracking
    server creates its schema once, at its own start, so it needs no lock.)"""
    with sqlite_lock(uri):
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        client.search_experiments(max_results=1)  # MLflow caches the opened store per URI and process
        client.search_registered_models(max_results=1)


def setup(cfg: DictConfig) -> str:
    """Point mlflow at the store and make sure the experiment exists; returns its id.

    With a SQLite store, a new experiment keeps its artifacts in mlruns/ beside the database."""
    uri = connect(cfg)
    name = cfg.tracking.experiment_name
    experiment = mlflow.get_experiment_by_name(name)
    if experiment is not None:
        if KIND_TAG not in experiment.tags:  # created before the kind was recorded
            MlflowClient().set_experiment_tag(experiment.experiment_id, KIND_TAG, TRAINING_KIND)
        return experiment.experiment_id
    artifacts = None
    if uri.startswith(_SQLITE):
        artifacts = (Path(uri[len(_SQLITE):]).parent / "mlruns").as_uri()
    try:
        return mlflow.create_experiment(name, artifact_location=artifacts, tags={KIND_TAG: TRAINING_KIND})
    except MlflowException:  # created meanwhile by a concurrent job
        return mlflow.get_experiment_by_name(name).experiment_id
