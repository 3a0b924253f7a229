"""The compare table and plot: which params they show, and how the legend names runs."""

import pandas as pd

from mnist_pipeline.reports import run_table


def runs() -> pd.DataFrame:
    return pd.DataFrame({
        "run_id": ["a1b2c3d4e5", "f6a7b8c9d0", "0123456789"],
        "status": ["FINISHED"] * 3,
        "tags.mlflow.runName": ["job-0", "job-1", "job-2"],
        "params.optimizer.lr": ["0.001", "0.0003", "0.001"],
        "params.model.dropout": ["0.3", "0.3", None],  # the MLP run has no dropout: varies
        "params.model.hidden1": [None, None, "None"],  # applies to none of them: left out
        "params.seed": ["42", "42", "42"],  # the same everywhere: left out
        "metrics.val_acc": [0.91, 0.95, 0.90],
    })


def test_the_table_shows_the_params_that_vary_and_apply():
    rows = run_table.table(runs(), "val_acc")
    assert rows.attrs["params"] == ["model.dropout", "optimizer.lr"]
    assert list(rows.columns) == ["run_id", "run_name", "status", "model.dropout", "optimizer.lr", "val_acc"]
    assert rows.run_name.tolist() == ["job-1", "job-0", "job-2"]  # best first


def test_the_legend_names_each_runs_varied_params():
    rows = run_table.table(runs(), "val_acc")
    labels = [run_table.legend_label(row, rows.attrs["params"]) for _, row in rows.iterrows()]
    assert labels == ["job-1: dropout=0.3, lr=0.0003", "job-0: dropout=0.3, lr=0.001", "job-2: lr=0.001"]
    same = run_table.table(runs(), "val_acc", params=["seed"])
    assert run_table.legend_label(same.iloc[0], []) == "job-1 (f6a7b8c9)"


def test_test_accuracy_shows_its_interval_beside_it():
    table = runs().assign(**{"metrics.test_acc": [0.90, 0.95, 0.92], "metrics.test_acc_ci_low": [0.88, 0.94, None],
                             "metrics.test_acc_ci_high": [0.92, 0.96, None]})
    rows = run_table.table(table, "val_acc")
    assert list(rows.columns)[-3:] == ["val_acc", "test_acc", "test_acc_95ci"]
    # job-2 was evaluated before intervals were logged: blank, not "nan".
    assert rows.test_acc_95ci.tolist() == ["[0.9400, 0.9600]", "[0.8800, 0.9200]", ""]
