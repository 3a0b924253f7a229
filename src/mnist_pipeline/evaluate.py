"""Stage 4: evaluate the trained checkpoint on the test set, log it all to the training run, and
register the model in the MLflow Model Registry.

    python -m mnist_pipeline.evaluate [--checkpoint PATH]        (reads params.yaml)

Writes reports/metrics.json (DVC metrics), reports/plots/confusion.csv (DVC's `confusion`
template), reports/plots/learning_curves.csv and PNGs of the confusion matrix, learning curves and
misclassified images. Moves the `champion` alias to the new version only if it beats the current
champion and passes tracking.champion_min_accuracy.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
from pathlib import Path

import mlflow
import numpy as np
import torch
import torch.nn.functional as F
from mlflow import MlflowClient
from mlflow.models import infer_signature
from torchmetrics.functional.classification import (
    multiclass_accuracy,
    multiclass_confusion_matrix,
    multiclass_f1_score,
    multiclass_precision,
    multiclass_recall,
)

from . import plots, tracking
from .atomic import write_text
from .classifier import Classifier, predict
from .config import load_params, run_stage
from .datamodule import to_model_input
from .errors import PipelineError
from .prepare import load_prepared

log = logging.getLogger(__name__)
CURVES = ("train_loss", "val_loss", "train_acc", "val_acc")


def classification_metrics(logits: torch.Tensor, labels: torch.Tensor, classes: list[str]) -> dict:
    """Test loss, accuracy, per-class precision/recall/F1 and the confusion matrix (rows: actual)."""
    n = len(classes)
    preds = logits.argmax(dim=1)
    precision = multiclass_precision(preds, labels, n, average=None)
    recall = multiclass_recall(preds, labels, n, average=None)
    f1 = multiclass_f1_score(preds, labels, n, average=None)
    return {
        "test_loss": F.cross_entropy(logits, labels).item(),
        "test_acc": multiclass_accuracy(preds, labels, n, average="micro").item(),
        "per_class": {name: {"precision": precision[i].item(), "recall": recall[i].item(), "f1": f1[i].item()}
                      for i, name in enumerate(classes)},
        "confusion_matrix": multiclass_confusion_matrix(preds, labels, n),
    }


def write_confusion_csv(labels: torch.Tensor, preds: torch.Tensor, classes: list[str], path: Path) -> None:
    """One row per test image (actual, predicted), the shape DVC's confusion template reads."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["actual", "predicted"])
        writer.writerows((classes[a], classes[p]) for a, p in zip(labels.tolist(), preds.tolist()))


def learning_history(client: MlflowClient, run_id: str) -> dict[str, list[tuple[int, float]]]:
    """Per-epoch curves of the training run, read back from MLflow (epoch numbering from 1)."""
    history = {}
    for name in CURVES:
        points = client.get_metric_history(run_id, name)
        history[name] = [(i + 1, p.value) for i, p in enumerate(sorted(points, key=lambda p: p.step))]
    return history


def write_history_csv(history: dict[str, list[tuple[int, float]]], path: Path) -> None:
    epochs = sorted({epoch for points in history.values() for epoch, _ in points})
    with open(path, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["epoch", *history])
        for epoch in epochs:
            writer.writerow([epoch, *(dict(points).get(epoch, "") for points in history.values())])


def load_checkpoint(path: Path) -> tuple[Classifier, dict]:
    if not path.exists():
        raise PipelineError(f"checkpoint {path} not found: run the train stage first")
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    module = Classifier.load_from_checkpoint(path, map_location="cpu", weights_only=True)
    return module, checkpoint


def evaluate(cfg, checkpoint_path: Path) -> dict:
    module, checkpoint = load_checkpoint(checkpoint_path)
    run_id = checkpoint.get("mlflow_run_id")
    if not run_id:
        raise PipelineError(f"{checkpoint_path} records no MLflow run id; was it written by the train stage?")
    classes = list(cfg.data.classes)
    normalize = cfg.data.normalize
    images, labels = load_prepared(Path(cfg.paths.prepared), "test")
    model = module.model.eval()  # eval mode is what torch.export captures in the logged model
    logits = predict(model, images, normalize)
    result = classification_metrics(logits, labels, classes)
    preds = logits.argmax(dim=1)

    reports, plot_dir = Path(cfg.paths.reports), Path(cfg.paths.reports) / "plots"
    plot_dir.mkdir(parents=True, exist_ok=True)
    tracking.setup(cfg)
    client = MlflowClient()
    history = learning_history(client, run_id)
    write_confusion_csv(labels, preds, classes, plot_dir / "confusion.csv")
    write_history_csv(history, plot_dir / "learning_curves.csv")
    plots.confusion_matrix_png(result["confusion_matrix"], classes, plot_dir / "confusion_matrix.png")
    plots.learning_curves_png(history, plot_dir / "learning_curves.png")
    plots.misclassified_png(images, labels, preds, classes, plot_dir / "misclassified.png")

    name = cfg.tracking.registered_model_name
    with mlflow.start_run(run_id=run_id):
        mlflow.log_metrics({"test_loss": result["test_loss"], "test_acc": result["test_acc"]})
        mlflow.log_metrics({f"test_{metric}_{cls}": value for cls, values in result["per_class"].items()
                            for metric, value in values.items()})
        mlflow.log_artifacts(str(plot_dir), "plots")
        example = to_model_input(images[:4], normalize).numpy()
        info = mlflow.pytorch.log_model(
            model, name="model", registered_model_name=name, input_example=example,
            signature=infer_signature(example, predict(model, images[:4], normalize).numpy()),
            pip_requirements=[f"torch=={torch.__version__.split('+')[0]}"],
        )
    version = str(info.registered_model_version)
    champion = tracking.promote_if_better(client, name, version, result["test_acc"],
                                          cfg.tracking.champion_min_accuracy)
    registry_acc = registry_accuracy(f"models:/{name}/{version}", images, labels, normalize)
    if abs(registry_acc - result["test_acc"]) > 1e-6:
        raise PipelineError(f"model {name} v{version} from the registry scores {registry_acc:.6f} on the test set, "
                            f"but the checkpoint scored {result['test_acc']:.6f}")

    metrics = {"test_loss": result["test_loss"], "test_acc": result["test_acc"],
               "registry_test_acc": registry_acc, "model_version": int(version),
               "champion": champion, "per_class": result["per_class"]}
    write_text(reports / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    with mlflow.start_run(run_id=run_id):
        mlflow.log_metric("registry_test_acc", registry_acc)
        mlflow.log_artifact(str(reports / "metrics.json"))
    log.info("test_acc %.4f, test_loss %.4f; registered %s version %s%s", result["test_acc"],
             result["test_loss"], name, version, " (new champion)" if champion else "")
    return metrics


def registry_accuracy(model_uri: str, images: torch.Tensor, labels: torch.Tensor, normalize: bool) -> float:
    """Test accuracy of the model as a user loads it back from the registry (pyfunc, numpy in and out)."""
    # The logged (torch.export) model's weights are pinned to the CPU; without this, MLflow's loader
    # picks CUDA whenever a GPU is present and refuses to load it.
    model = mlflow.pyfunc.load_model(model_uri, model_config={"device": "cpu"})
    logits = np.concatenate([model.predict(to_model_input(chunk, normalize).numpy()) for chunk in images.split(1000)])
    return float((logits.argmax(axis=1) == labels.numpy()).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, help="default: <paths.models>/<eval_checkpoint>.ckpt")
    args = parser.parse_args()
    cfg = load_params()
    evaluate(cfg, args.checkpoint or Path(cfg.paths.models) / f"{cfg.eval_checkpoint}.ckpt")


if __name__ == "__main__":
    run_stage(main)
