import mlflow
import pytest

from conftest import ROOT, mlflow_client
from mnist_pipeline.reports.reproduction_table import page, recipes, reported_figures, verdict
from mnist_pipeline.tracking.queries import runs_per_seed


@pytest.mark.parametrize(("figure", "dataset", "n", "mean", "std", "expected"), [
    (0.992, "mnist", 3, 0.9900, 0.0015, "matches"),  # 0.2 pp off, within 2 std (0.3 pp)
    (0.992, "mnist", 3, 0.9860, 0.0015, "**does not match** (-0.6 pp)"),  # beyond 2 std and 0.5 pp
    (0.905, "mnist", 3, 0.9000, 0.0001, "matches"),  # a tiny spread still allows 0.5 pp
    (0.973, "mnist", 1, 0.9790, float("nan"), "**does not match** (+0.6 pp)"),  # n=1: 0.5 pp
    (0.114, "mnist", 3, 0.1135, 0.0, "matches"),
    (0.97, "mnist", 3, 0.90, 0.06, "matches"),  # a wide spread is honest about a weak match
    (None, "mnist", 3, 0.99, 0.001, "no figure to match"),
    (0.992, "fashion_mnist", 3, 0.90, 0.01, "n/a (not full MNIST)"),
])
def test_verdict_rule(figure, dataset, n, mean, std, expected):
    assert verdict(figure, dataset, n, mean, std) == expected


def log_run(recipe: str, dataset: str, test_acc: float, seed: int, normalize: str = "True",
            status: str = "FINISHED", hardware: str = "CPU (2 cores)"):
    with mlflow.start_run() as run:
        mlflow.set_tags({"recipe": recipe, "dataset": dataset, "hardware": hardware})
        mlflow.log_params({"data.normalize": normalize, "trainer.max_steps": 3000, "trainer.max_epochs": -1,
                           "num_params": 3274634, "seed": seed})
        mlflow.log_metrics({"test_acc": test_acc, "fit_seconds": 250.4})
    if status != "FINISHED":
        mlflow.MlflowClient().set_terminated(run.info.run_id, status)


def rows_of(text: str) -> dict[str, list[str]]:
    """'recipe dataset inputs hardware' -> the row's cells."""
    rows = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.split("|")[1:-1]]
        if len(cells) == 12 and cells[1].startswith("`"):
            rows[f"{cells[1]} {cells[6]} {cells[7]} {cells[10]}".strip()] = cells
    return rows


def test_page_gathers_seeds_and_applies_the_rule(tmp_path):
    mlflow_client(f"sqlite:///{tmp_path}/mlflow.db")
    mlflow.set_experiment("mnist")
    log_run("mechanics101", "mnist", 0.80, seed=1)  # older run of seed 1: replaced by the next one
    for seed, acc in [(1, 0.90), (2, 0.91), (3, 0.905)]:
        log_run("mechanics101", "mnist", acc, seed=seed)
    log_run("mechanics101", "mnist", 0.99, seed=4, status="FAILED")  # never counted
    log_run("two_layer_net", "mnist", 0.1135, seed=1, normalize="False")
    log_run("two_layer_net", "mnist", 0.95, seed=1)
    log_run("deep_mnist_20k", "mnist", 0.9917, seed=1, hardware="NVIDIA H200")
    log_run("deep_mnist", "fashion_mnist", 0.91, seed=1)

    text = page(reported_figures(ROOT / "conf"), runs_per_seed("mnist"), "mnist")
    rows = rows_of(text)
    mechanics = rows["`mechanics101` mnist scaled to [0, 1] CPU (2 cores)"]
    assert mechanics[3] == "**0.9050 ± 0.0050** [0.8991, 0.9106]" and mechanics[4] == "3" and mechanics[5] == "matches"
    assert mechanics[2].startswith("0.905 ")  # the seed's figure
    raw = rows["`two_layer_net` mnist raw 0-255 CPU (2 cores)"]
    assert raw[2].startswith("0.114 ") and raw[3].startswith("**0.1135** [") and raw[5] == "matches"
    scaled = rows["`two_layer_net` mnist scaled to [0, 1] CPU (2 cores)"]
    assert scaled[2].startswith("0.970 ") and scaled[5] == "**does not match** (-2.0 pp)"
    assert rows["`deep_mnist_20k` mnist scaled to [0, 1] NVIDIA H200"][5] == "matches"
    assert rows["`tf_layers` mnist"][3] == "not yet run"  # every recipe has a full-MNIST row
    assert rows["`deep_mnist` fashion_mnist scaled to [0, 1] CPU (2 cores)"][5] == "n/a (not full MNIST)"
    full, other = text.split("## Other datasets")
    assert "fashion_mnist" not in full.split("## Full MNIST")[1] and "`deep_mnist` | none" in full
    assert len(rows_of(full)) == len(recipes(ROOT / "conf")) + 1  # two_layer_net has two rows
    assert "within 2 standard deviations" in text


def test_a_store_with_full_mnist_runs_only_says_so_under_other_datasets(tmp_path):
    mlflow_client(f"sqlite:///{tmp_path}/mlflow.db")
    mlflow.set_experiment("mnist")
    log_run("mechanics101", "mnist", 0.90, seed=1)
    text = page(reported_figures(ROOT / "conf"), runs_per_seed("mnist"), "mnist")
    assert text.split("## Other datasets")[1].rstrip().endswith("No such runs in this store.")
