import mlflow

from conftest import ROOT, mlflow_client
from mnist_pipeline.reports.reproduction_table import recipes, reported_figures, table
from mnist_pipeline.tracking.queries import latest_runs


def log_run(recipe: str, dataset: str, test_acc: float, normalize: str = "True", status: str = "FINISHED"):
    with mlflow.start_run() as run:
        mlflow.set_tags({"recipe": recipe, "dataset": dataset, "hardware": "CPU (2 cores)"})
        mlflow.log_params({"data.normalize": normalize, "trainer.max_steps": 3000, "trainer.max_epochs": -1,
                           "num_params": 3274634})
        mlflow.log_metrics({"test_acc": test_acc, "fit_seconds": 250.4})
    if status != "FINISHED":
        mlflow.MlflowClient().set_terminated(run.info.run_id, status)


def test_table_shows_newest_run_per_recipe_dataset_and_scaling(tmp_path):
    mlflow_client(f"sqlite:///{tmp_path}/mlflow.db")
    mlflow.set_experiment("mnist")
    log_run("deep_mnist", "fashion_mnist", 0.80)
    log_run("deep_mnist", "fashion_mnist", 0.91)  # newer: this one is shown
    log_run("deep_mnist", "mnist_5k", 0.95)
    log_run("deep_mnist", "mnist_5k", 0.99, status="FAILED")  # never shown
    log_run("two_layer_net", "mnist_5k", 0.9512)
    log_run("two_layer_net", "mnist_5k", 0.1010, normalize="False")

    text = table(reported_figures(ROOT / "conf"), latest_runs("mnist"))
    rows = {line.split("|")[2].strip() + " " + line.split("|")[5].strip() + " " + line.split("|")[6].strip(): line
            for line in text.splitlines()[2:]}
    assert "**0.9100**" in rows["`deep_mnist` fashion_mnist scaled to [0, 1]"]
    assert "0.992" in rows["`deep_mnist` fashion_mnist scaled to [0, 1]"]  # the seed's reported figure
    assert "**0.9500**" in rows["`deep_mnist` mnist_5k scaled to [0, 1]"]
    assert "**0.1010**" in rows["`two_layer_net` mnist_5k raw 0-255"]
    assert "3,000 steps" in rows["`deep_mnist` mnist_5k scaled to [0, 1]"]
    assert "not yet run" in rows["`tf_layers`  "]
    assert len(text.splitlines()) == 2 + 4 + len(recipes(ROOT / "conf")) - 2  # 2 recipes have runs
