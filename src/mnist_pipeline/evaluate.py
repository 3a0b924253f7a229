"""Stage 4: evaluate the trained checkpoint on the test set, log it all to the training run, and
register the model in the MLflow Model Registry (once per checkpoint file: a re-run reuses its version).

    python -m mnist_pipeline.evaluate [--checkpoint PATH]        (reads params.yaml)

Writes reports/metrics.json (DVC metrics: the headline figures only, so `dvc exp show` fits a
terminal), reports/per_class.json (precision, recall and F1 per class), reports/plots/confusion.csv (DVC's `confusion`
template), reports/plots/learning_curves.csv and PNGs of the confusion matrix, learning curves and
misclassified images. The checkpoint is scored with the classes and input scaling it was trained
with, and refused when params.yaml's dataset is another. Once the registered version loads back and
scores the same, moves the `champion` alias to it only if McNemar's exact test on the same test images
finds it significantly better than the current champion (tracking.champion_significance) and it passes
tracking.champion_min_accuracy; otherwise it gets the `challenger` alias (reports/gate.json says why).
Every accuracy carries a Wilson 95% interval; reliability.png (calibration, ECE) and robustness.png
(accuracy under corrupted test digits) go with the plots (docs/champion.md).
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
    from mlflow.exceptions import MlflowException

    from .data.prepared import load_prepared
    from .inference.checkpoints import checkpoint_sha256, load_checkpoint
    from .inference.logits import batched_logits
    from .reports import plots
    from .reports.calibration import expected_calibration_error, reliability_bins
    from .reports.metrics import classification_metrics, per_class_table, write_confusion_csv, write_history_csv
    from .reports.model_card import MODEL_DESCRIPTION, model_card
    from .reports.robustness import robustness_table
    from .reports.significance import mcnemar_exact, wilson_interval
    from .tracking import registry, runs, store
    from .tracking.queries import metric_curves

    model, checkpoint = load_checkpoint(checkpoint_path)  # eval mode: what torch.export captures
    run_id, trained = checkpoint.get("mlflow_run_id"), checkpoint.get("config")
    if not run_id or not trained:
        raise PipelineError(f"{checkpoint_path} records no MLflow run id or config; was it written by the train stage?")
    # Score with the classes and input scaling the model was trained with, on the same dataset.
    trained_cfg = OmegaConf.create(trained)
    runs.check_same_dataset(trained_cfg, cfg, str(checkpoint_path))
    classes, normalize = list(trained["data"]["classes"]), trained["data"]["normalize"]
    images, labels = load_prepared(Path(cfg.paths.prepared), "test", len(classes))
    logits = batched_logits(model, images, normalize)
    result = classification_metrics(logits, labels, classes)
    preds = logits.argmax(dim=1)
    n_test = len(labels)
    acc_low, acc_high = wilson_interval(int((preds == labels).sum()), n_test)
    bins = reliability_bins(logits.numpy(), labels.numpy())
    ece = expected_calibration_error(logits.numpy(), labels.numpy())
    robustness = robustness_table(model, images, labels, normalize, result["test_acc"])

    reports, plot_dir = Path(cfg.paths.reports), Path(cfg.paths.reports) / "plots"
    plot_dir.mkdir(parents=True, exist_ok=True)
    store.setup(cfg)
    client = MlflowClient()
    try:
        client.get_run(run_id)
    except MlflowException:
        raise PipelineError(f"{checkpoint_path}: its MLflow run {run_id} is not in the store "
                            f"{store.tracking_uri(cfg)}: evaluate it against the store it was trained with "
                            "(MLFLOW_TRACKING_URI)") from None
    unit, curves = metric_curves(client, [run_id])
    write_confusion_csv(labels, preds, classes, plot_dir / "confusion.csv")
    write_history_csv(curves, unit, plot_dir / "learning_curves.csv")
    bins.to_csv(plot_dir / "reliability.csv", index=False)
    robustness.to_csv(plot_dir / "robustness.csv", index=False)
    plots.confusion_matrix_png(result["confusion_matrix"], classes, plot_dir / "confusion_matrix.png")
    plots.learning_curves_png(curves, unit, plot_dir / "learning_curves.png")
    plots.misclassified_png(images, labels, preds, classes, plot_dir / "misclassified.png")
    plots.reliability_png(bins, ece, plot_dir / "reliability.png")
    plots.robustness_png(robustness, plot_dir / "robustness.png")

    name, digest = cfg.tracking.registered_model_name, checkpoint_sha256(checkpoint_path)
    with runs.reopened(run_id):
        runs.log_dataset_input(trained_cfg)
        # Per-class figures as one table, not 30 scalar metrics ahead of the learning curves.
        mlflow.log_table(per_class_table(result["per_class"]), "per_class_table.json")
        mlflow.log_metrics({"test_loss": result["test_loss"], "test_acc": result["test_acc"],
                            "test_acc_ci_low": acc_low, "test_acc_ci_high": acc_high, "test_ece": ece,
                            # Two robustness figures for compare's table; robustness.csv has them all.
                            "corrupted_acc_mean": float(robustness.accuracy[1:].mean()),
                            "corrupted_acc_min": float(robustness.accuracy[1:].min())})
        mlflow.log_artifacts(str(plot_dir), "plots")
        version = registry.checkpoint_version(client, name, digest)  # a re-run reuses its version
        if version is None:
            info = registry.log_model(model, classes, normalize, example=images[:4])
            version = registry.register(info.model_uri, name, digest)
    registry.tag_lineage(client, name, version, client.get_run(run_id))
    # Check the registered model before the alias can move to it.
    correct = registry.registry_correct(f"models:/{name}/{version}", images, labels, classes)
    registry_acc = float(correct.mean())
    if abs(registry_acc - result["test_acc"]) > 1e-6:
        raise PipelineError(f"model {name} v{version} from the registry scores {registry_acc:.6f} on the test set, "
                            f"but the checkpoint scored {result['test_acc']:.6f}; the champion alias was left "
                            "where it was")
    # The champion gate: the champion re-scored, as users load it, on the same test images.
    holder, gate = registry.champion_version(client, name), None
    if holder is not None and str(holder.version) != str(version):
        champion_correct = registry.registry_correct(f"models:/{name}/{holder.version}", images, labels, classes)
        gate = mcnemar_exact(correct, champion_correct, cfg.tracking.get("champion_significance", 0.05))
    champion, reason = registry.apply_gate(client, name, version, result["test_acc"],
                                           cfg.tracking.champion_min_accuracy, gate)

    metrics = {"test_loss": result["test_loss"], "test_acc": result["test_acc"],
               "test_acc_ci_low": acc_low, "test_acc_ci_high": acc_high, "test_n": n_test, "test_ece": ece,
               "registry_test_acc": registry_acc, "model_version": int(version), "champion": champion}
    gate_record = {"model_version": int(version), "decision": "champion" if champion else "challenger",
                   "reason": reason, **(gate.as_dict() if gate else {}),
                   "champion_version": int(holder.version) if holder is not None else None}
    lineage = client.get_model_version(name, version).tags
    card = model_card(name=name, version=str(version), lineage=lineage, trained=trained, metrics=metrics,
                      per_class=result["per_class"], robustness=robustness, decision=gate_record["decision"],
                      reason=reason)
    client.update_model_version(name, version, description=card)
    client.update_registered_model(name, description=MODEL_DESCRIPTION)
    write_text(reports / "model_card.md", card)
    write_text(reports / "per_class.json", json.dumps(result["per_class"], indent=2) + "\n")
    write_text(reports / "gate.json", json.dumps(gate_record, indent=2) + "\n")
    write_text(reports / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    with runs.reopened(run_id):
        mlflow.log_metric("registry_test_acc", registry_acc)
        if gate is not None:
            mlflow.log_metrics({"gate_p_value": gate.p_value, "gate_b": gate.b, "gate_c": gate.c,
                                "gate_champion_acc": gate.champion_acc})
        mlflow.set_tag("champion_gate", reason[:5000])
        for file in ("metrics.json", "per_class.json", "gate.json", "model_card.md"):
            mlflow.log_artifact(str(reports / file))
    log.info("test_acc %.4f [%.4f, %.4f], ECE %.4f, test_loss %.4f; %s version %s: %s", result["test_acc"], acc_low,
             acc_high, ece, result["test_loss"], name, version, reason)
    return {**metrics, "per_class": result["per_class"], "gate": gate_record, "robustness": robustness}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, help="default: <paths.models>/<eval_checkpoint>.ckpt")
    args = parser.parse_args()
    cfg = load_params()
    evaluate(cfg, args.checkpoint or Path(cfg.paths.models) / f"{cfg.eval_checkpoint}.ckpt")


if __name__ == "__main__":
    run_stage(main)
