"""The MLflow store."""

import mlflow

from conftest import compose_config
from mnist_pipeline.tracking import store


def test_default_store_is_absolute_at_project_root(tmp_path, monkeypatch):
    (tmp_path / "dvc.yaml").touch()
    copy = tmp_path / ".dvc" / "tmp" / "exps" / "tmpx"
    copy.mkdir(parents=True)
    monkeypatch.chdir(copy)
    assert store.tracking_uri(compose_config()) == f"sqlite:///{tmp_path}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert store.tracking_uri(compose_config()) == "http://127.0.0.1:5000"


def test_artifacts_live_beside_the_sqlite_store(tmp_path):
    cfg = compose_config([f"tracking.tracking_uri=sqlite:///{tmp_path}/store.db", "tracking.experiment_name=e"])
    experiment_id = store.setup(cfg)
    assert store.setup(cfg) == experiment_id  # idempotent
    location = mlflow.get_experiment(experiment_id).artifact_location
    assert location == (tmp_path / "mlruns").as_uri()


def test_the_experiment_is_a_training_experiment(tmp_path):
    """So that the MLflow UI opens it on its runs, not on the GenAI overview."""
    cfg = compose_config([f"tracking.tracking_uri=sqlite:///{tmp_path}/store.db", "tracking.experiment_name=e"])
    experiment_id = store.setup(cfg)
    assert mlflow.get_experiment(experiment_id).tags["mlflow.experimentKind"] == "custom_model_development"
    old = mlflow.create_experiment("made-before")  # a store from before the kind was recorded
    cfg.tracking.experiment_name = "made-before"
    assert store.setup(cfg) == old
    assert mlflow.get_experiment(old).tags["mlflow.experimentKind"] == "custom_model_development"
