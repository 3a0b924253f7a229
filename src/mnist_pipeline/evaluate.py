"""Stage 4: evaluate the trained checkpoint on the test set, log it all to the training run, and
register the model in the MLflow Model Registry (once per checkpoint file: a re-run reuses its version).

    python -m mnist_pipeline.evaluate [--checkpoint PATH]        (reads params.yaml)

Writes reports/metrics.json (DVC metrics: the headline figures only, so `dvc exp show` fits a
terminal), reports/per_class.json (precision, recall and F1 per class), reports/plots/confusion.csv (DVC's `confusion`
template), reports/plots/learning_curves.csv and PNGs of the confusion matrix, learning curves and
misclassified images. The checkpoint is scored with the classes and input scaling it was trained
with, and refused when params.yaml's dataset is another. Once the registered version loads back and
scores the same, moves the `champion` alias to it only if it beats the current champion and passes
tracking.champion_min_accuracy.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from omegaconf import OmegaConf

from .core.atomic import write_text
from .core.cli import run_stage
from .core.config import load_params
from .core.errors import PipelineError

log = logging.getLogger(__name__)


def evaluate(cfg, checkpoint_path: Path) -> dict:
    # torch, MLflow and matplotlib: imported here, so that --help answers at once (and Lightning not at all).
    import mlflow
    from mlflow import MlflowClient

    from .data.prepared import load_prepared
    from .inference.checkpoints import checkpoint_sha256, load_checkpoint
    from .inference.logits import batched_logits
    from .reports import plots
    from .reports.metrics import classification_metrics, write_confusion_csv, write_history_csv
    from .tracking import registry, runs, store
    from .tracking.queries import metric_curves

    model, checkpoint = load_checkpoint(checkpoint_path)  # eval mode: what torch.export captures
    run_id, trained = checkpoint.get("mlflow_run_id"), checkpoint.get("config")
    if not run_id or not trained:
        raise PipelineError(f"{checkpoint_path} records no MLflow run id or config; was it written by the train stage?")
    # Score with the classes and input scaling the model was trained with, on the same dataset.
    runs.check_same_dataset(OmegaConf.create(trained), cfg, str(checkpoint_path))
    classes, normalize = list(trained["data"]["classes"]), trained["data"]["normalize"]
    images, labels = load_prepared(Path(cfg.paths.prepared), "test", len(classes))
    logits = batched_logits(model, images, normalize)
    result = classification_metrics(logits, labels, classes)
    preds = logits.argmax(dim=1)

    reports, plot_dir = Path(cfg.paths.reports), Path(cfg.paths.reports) / "plots"
    plot_dir.mkdir(parents=True, exist_ok=True)
    store.setup(cfg)
    client = MlflowClient()
    unit, curves = metric_curves(client, [run_id])
    write_confusion_csv(labels, preds, classes, plot_dir / "confusion.csv")
    write_history_csv(curves, unit, plot_dir / "learning_curves.csv")
    plots.confusion_matrix_png(result["confusion_matrix"], classes, plot_dir / "confusion_matrix.png")
    plots.learning_curves_png(curves, unit, plot_dir / "learning_curves.png")
    plots.misclassified_png(images, labels, preds, classes, plot_dir / "misclassified.png")

    name, digest = cfg.tracking.registered_model_name, checkpoint_sha256(checkpoint_path)
    with runs.reopened(run_id):
        mlflow.log_metrics({"test_loss": result["test_loss"], "test_acc": result["test_acc"]})
        mlflow.log_metrics({f"test_{metric}_{cls}": value for cls, values in result["per_class"].items()
                            for metric, value in values.items()})
        mlflow.log_artifacts(str(plot_dir), "plots")
        version = registry.checkpoint_version(client, name, digest)  # a re-run reuses its version
        if version is None:
            info = registry.log_model(model, classes, normalize, example=images[:4])
            version = registry.register(info.model_uri, name, digest)
    # Check the registered model before the alias can move to it.
    registry_acc = registry.registry_accuracy(f"models:/{name}/{version}", images, labels, classes)
    if abs(registry_acc - result["test_acc"]) > 1e-6:
        raise PipelineError(f"model {name} v{version} from the registry scores {registry_acc:.6f} on the test set, "
                            f"but the checkpoint scored {result['test_acc']:.6f}; the champion alias was left "
                            "where it was")
    champion = registry.promote_if_better(client, name, version, result["test_acc"],
                                          cfg.tracking.champion_min_accuracy)

    metrics = {"test_loss": result["test_loss"], "test_acc": result["test_acc"],
               "registry_test_acc": registry_acc, "model_version": int(version), "champion": champion}
    write_text(reports / "per_class.json", json.dumps(result["per_class"], indent=2) + "\n")
    write_text(reports / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    with runs.reopened(run_id):
        mlflow.log_metric("registry_test_acc", registry_acc)
        mlflow.log_artifact(str(reports / "metrics.json"))
        mlflow.log_artifact(str(reports / "per_class.json"))
    log.info("test_acc %.4f, test_loss %.4f; %s version %s%s", result["test_acc"], result["test_loss"], name,
             version, " (champion)" if champion else "")
    return {**metrics, "per_class": result["per_class"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, help="default: <paths.models>/<eval_checkpoint>.ckpt")
    args = parser.parse_args()
    cfg = load_params()
    evaluate(cfg, args.checkpoint or Path(cfg.paths.models) / f"{cfg.eval_checkpoint}.ckpt")


if __name__ == "__main__":
    run_stage(main)
