"""The Model Registry champion alias."""

from pathlib import Path

from conftest import mlflow_client
from mnist_pipeline.tracking import registry


def test_champion_moves_only_to_better_versions_above_the_minimum(tmp_path):
    client = mlflow_client(f"sqlite:///{tmp_path}/registry.db")
    client.create_registered_model("m")

    def new_version():
        return client.create_model_version("m", source=Path(tmp_path).as_uri()).version

    v1, v2, v3, v4 = (new_version() for _ in range(4))
    assert not registry.promote_if_better(client, "m", v1, 0.50, min_accuracy=0.6)  # below minimum
    assert registry.champion_accuracy(client, "m") is None
    assert registry.promote_if_better(client, "m", v2, 0.90, min_accuracy=0.6)
    assert not registry.promote_if_better(client, "m", v3, 0.85, min_accuracy=0.6)  # worse
    assert client.get_model_version_by_alias("m", "champion").version == v2
    assert registry.promote_if_better(client, "m", v4, 0.91, min_accuracy=0.6)
    assert client.get_model_version_by_alias("m", "champion").version == v4
    assert client.get_model_version("m", v3).tags["test_acc"] == "0.85"
