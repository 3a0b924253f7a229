import math

import mlflow
import pandas as pd
import pytest

from conftest import mlflow_client
from mnist_pipeline import compare
from mnist_pipeline.reports.seed_spread import mean_std, over_seeds, spread


def test_spread_is_the_sample_mean_and_std():
    assert spread([0.97, 0.98, 0.99]) == pytest.approx((3, 0.98, 0.01))
    n, mean, std = spread([0.5, float("nan")])  # a run without the metric does not count
    assert (n, mean) == (1, 0.5) and math.isnan(std)
    assert mean_std(3, 0.98, 0.01) == "0.9800 ± 0.0100" and mean_std(1, 0.5, math.nan) == "0.5000"


def log(lr: float, seed: int, test_acc: float):
    with mlflow.start_run():
        mlflow.log_params({"optimizer.lr": lr, "seed": seed, "model.name": "small_cnn"})
        mlflow.log_metrics({"test_acc": test_acc, "test_loss": 1 - test_acc, "test_f1_3": 0.5})


@pytest.fixture
def seeded_store(tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    mlflow_client(uri)
    mlflow.set_experiment("seeds")
    for seed, acc in [(1, 0.97), (2, 0.98), (3, 0.99)]:
        log(0.1, seed, acc)
    for seed, acc in [(1, 0.90), (2, 0.92)]:
        log(0.01, seed, acc)
    return uri


def test_runs_that_differ_only_in_seed_become_one_row(seeded_store):
    runs = mlflow.search_runs(experiment_names=["seeds"])
    groups = over_seeds(runs, "test_acc")
    assert list(groups["optimizer.lr"]) == ["0.1", "0.01"]  # best mean first
    assert list(groups.n) == [3, 2] and list(groups.seeds) == ["1,2,3", "1,2"]
    assert groups.test_acc.tolist() == pytest.approx([0.98, 0.91])
    assert groups.test_acc_std.tolist() == pytest.approx([0.01, 0.02 / math.sqrt(2)])
    assert groups.test_loss.tolist() == pytest.approx([0.02, 0.09])
    assert "seed" not in groups.columns and "test_f1_3" not in groups.columns  # per-class figures stay out


def test_compare_writes_the_seed_groups(seeded_store, tmp_path, capsys):
    out = tmp_path / "compare"
    compare.main(["--over-seeds", "--metric", "test_acc", "--tracking-uri", seeded_store, "--experiment", "seeds",
                  "--out", str(out)])
    groups = pd.read_csv(out / "over_seeds.csv")
    assert len(pd.read_csv(out / "comparison.csv")) == 5 and len(groups) == 2
    assert groups.test_acc.tolist() == pytest.approx([0.98, 0.91])
    assert "0.9800" in (out / "over_seeds.md").read_text() and "1,2,3" in capsys.readouterr().out
