"""The Model Registry's champion gate: aliases, and the reason written on each version."""

from pathlib import Path

import numpy as np

from conftest import mlflow_client
from mnist_pipeline.reports.significance import mcnemar_exact
from mnist_pipeline.tracking import registry


def gate(only_new: int, only_old: int, level: float = 0.05):
    both = 900
    new = np.array([True] * (both + only_new) + [False] * only_old)
    old = np.array([True] * both + [False] * only_new + [True] * only_old)
    return mcnemar_exact(new, old, level)


def aliases(client, version) -> list[str]:
    return sorted(client.get_model_version("m", version).aliases)


def test_champion_moves_only_to_significantly_better_versions_above_the_minimum(tmp_path):
    client = mlflow_client(f"sqlite:///{tmp_path}/registry.db")
    client.create_registered_model("m")

    def new_version():
        return client.create_model_version("m", source=Path(tmp_path).as_uri()).version

    v1, v2, v3, v4, v5 = (new_version() for _ in range(5))
    assert registry.apply_gate(client, "m", v1, 0.50, 0.6, None)[0] is False  # below minimum
    assert registry.champion_accuracy(client, "m") is None and aliases(client, v1) == ["challenger"]

    promoted, reason = registry.apply_gate(client, "m", v2, 0.90, 0.6, None)  # no champion yet
    assert promoted and "no champion" in reason
    assert registry.champion_accuracy(client, "m") == 0.90

    # Higher by 2 images in 1,000, not significant: challenger, with the evidence on the version.
    promoted, reason = registry.apply_gate(client, "m", v3, 0.902, 0.6, gate(only_new=3, only_old=1))
    assert not promoted and aliases(client, v3) == ["challenger"] and aliases(client, v1) == []
    assert client.get_model_version_by_alias("m", "champion").version == v2
    tags = client.get_model_version("m", v3).tags
    assert tags["gate_decision"] == "challenger" and tags["gate_b"] == "3" and tags["gate_c"] == "1"
    assert float(tags["gate_p_value"]) == 0.625 and "not significantly better" in tags["gate_reason"]
    assert "McNemar" in client.get_model_version("m", v3).description

    # A tie (no disagreement) keeps the champion.
    assert not registry.apply_gate(client, "m", v4, 0.90, 0.6, gate(only_new=0, only_old=0))[0]

    promoted, reason = registry.apply_gate(client, "m", v5, 0.93, 0.6, gate(only_new=35, only_old=5))
    assert promoted and "significantly better" in reason
    assert client.get_model_version_by_alias("m", "champion").version == v5
    assert client.get_model_version("m", v5).tags["gate_decision"] == "champion"
    assert client.get_model_version("m", v3).tags["test_acc"] == "0.902"

    # Evaluated again: the champion stays the champion, with no test against itself.
    assert registry.apply_gate(client, "m", v5, 0.93, 0.6, None) == (True, "already the champion (test accuracy "
                                                                           "0.9300)")


def test_a_challenger_that_is_later_promoted_loses_the_challenger_alias(tmp_path):
    client = mlflow_client(f"sqlite:///{tmp_path}/registry.db")
    client.create_registered_model("m")
    v1, v2 = (client.create_model_version("m", source=Path(tmp_path).as_uri()).version for _ in range(2))
    registry.apply_gate(client, "m", v1, 0.90, 0.0, None)
    registry.apply_gate(client, "m", v2, 0.91, 0.0, gate(only_new=2, only_old=1))
    assert aliases(client, v2) == ["challenger"]
    registry.apply_gate(client, "m", v2, 0.91, 0.0, gate(only_new=40, only_old=1))  # re-gated on new evidence
    assert aliases(client, v2) == ["champion"] and aliases(client, v1) == []
