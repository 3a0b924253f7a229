from pathlib import Path

import mlflow

from conftest import compose_config, mlflow_client
from mnist_pipeline import tracking
from mnist_pipeline.project import project_root


def test_project_root_escapes_dvc_experiment_copies(tmp_path):
    copy = tmp_path / ".dvc" / "tmp" / "exps" / "tmpabc123"
    copy.mkdir(parents=True)
    (copy / "dvc.yaml").touch()
    assert project_root(copy) == tmp_path
    assert project_root(copy / "conf") == tmp_path


def test_default_store_is_absolute_at_project_root(tmp_path, monkeypatch):
    (tmp_path / "dvc.yaml").touch()
    copy = tmp_path / ".dvc" / "tmp" / "exps" / "tmpx"
    copy.mkdir(parents=True)
    monkeypatch.chdir(copy)
    assert tracking.tracking_uri(compose_config()) == f"sqlite:///{tmp_path}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert tracking.tracking_uri(compose_config()) == "http://127.0.0.1:5000"


def test_artifacts_live_beside_the_sqlite_store(tmp_path):
    cfg = compose_config([f"tracking.tracking_uri=sqlite:///{tmp_path}/store.db", "tracking.experiment_name=e"])
    experiment_id = tracking.setup(cfg)
    assert tracking.setup(cfg) == experiment_id  # idempotent
    location = mlflow.get_experiment(experiment_id).artifact_location
    assert location == (tmp_path / "mlruns").as_uri()


def test_champion_moves_only_to_better_versions_above_the_minimum(tmp_path):
    client = mlflow_client(f"sqlite:///{tmp_path}/registry.db")
    client.create_registered_model("m")

    def new_version():
        return client.create_model_version("m", source=Path(tmp_path).as_uri()).version

    v1, v2, v3, v4 = (new_version() for _ in range(4))
    assert not tracking.promote_if_better(client, "m", v1, 0.50, min_accuracy=0.6)  # below minimum
    assert tracking.champion_accuracy(client, "m") is None
    assert tracking.promote_if_better(client, "m", v2, 0.90, min_accuracy=0.6)
    assert not tracking.promote_if_better(client, "m", v3, 0.85, min_accuracy=0.6)  # worse
    assert client.get_model_version_by_alias("m", "champion").version == v2
    assert tracking.promote_if_better(client, "m", v4, 0.91, min_accuracy=0.6)
    assert client.get_model_version_by_alias("m", "champion").version == v4
    assert client.get_model_version("m", v3).tags["test_acc"] == "0.85"


def test_flatten():
    assert tracking.flatten({"a": {"b": 1, "c": {"d": [2]}}, "e": 3}) == {"a.b": 1, "a.c.d": [2], "e": 3}
