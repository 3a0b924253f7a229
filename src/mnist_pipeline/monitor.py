"""Drift report: the served requests of a period (the request log) against the training data.

    python -m mnist_pipeline.monitor                        the last 24 hours of logs/requests.db
    python -m mnist_pipeline.monitor --hours 168 --log /path/to/requests.db --model mnist-classifier

Compares the input statistics (ink area, mean intensity, centre of mass, ink box), the model's
confidence and its predicted-class counts with the same figures on the training data (as the
registered model answers them), prints a verdict per feature, and logs the table and a PNG report to
MLflow (experiment `monitoring`). Exits 0 either way: drift is a finding, not an error.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from .core.cli import run_stage
from .core.errors import PipelineError
from .core.project import project_root
from .tracking import CHAMPION

REFERENCE_IMAGES = 5000  # training digits the requests are compared with (a sample keeps it quick)


def reference_figures(model, images) -> dict:
    """The input statistics of training images, and what the model answers on them."""
    from .inference.request_log import input_stats

    pixels = images.numpy()
    answer = model.predict(pixels)
    figures = input_stats(pixels)
    figures["label"] = answer["label"].to_numpy()
    figures["confidence"] = answer["probabilities"].map(max).to_numpy(dtype=float)
    return figures


def monitor(tracking_uri: str, model_name: str, alias: str, log: Path, prepared: Path, since: float,
            until: float, out: Path) -> tuple[list[dict], str]:
    """The drift table of the requests logged in [since, until), logged to MLflow; returns it and the run id."""
    import mlflow
    import torch
    from mlflow import MlflowClient

    from .data.prepared import load_prepared
    from .inference import request_log
    from .reports.drift import drift_table, plot_drift
    from .tracking.registry import find_version
    from .tracking.store import point_mlflow_at

    if not log.is_file():
        raise PipelineError(f"{log}: no request log there (serve the model with make serve / make demo first)")
    current = request_log.read(log, since, until)
    if len(current["label"]) < 20:
        raise PipelineError(f"{log}: {len(current['label'])} requests logged in the period; a drift test needs "
                            "at least 20 (widen --hours)")
    os.environ.pop(request_log.ENV, None)  # scoring the training data is not serving: nothing to log
    point_mlflow_at(tracking_uri)  # not mlflow.set_tracking_uri: it would export the URI to later commands
    version = find_version(MlflowClient(tracking_uri, tracking_uri), model_name, alias).version
    model = mlflow.pyfunc.load_model(f"models:/{model_name}/{version}")
    classes = model.unwrap_python_model().classes
    # The validation split: digits from the training data that the model never fitted, so that its
    # confidence on them is what it shows on unseen digits (on the fitted ones it is higher).
    images, _ = load_prepared(prepared, "val")
    sample = images[torch.randperm(len(images), generator=torch.Generator().manual_seed(0))[:REFERENCE_IMAGES]]
    reference = reference_figures(model, sample)
    rows = drift_table(reference, current, classes)
    png = plot_drift(reference, current, rows, classes, out / "drift.png")
    (out / "drift.json").write_text(json.dumps(rows, indent=2) + "\n")
    mlflow.set_experiment("monitoring")
    with mlflow.start_run(run_name=f"drift {model_name}/{version}") as run:
        mlflow.log_params({"model": f"{model_name}/{version}", "requests": len(current["label"]),
                           "since": since, "until": until, "reference_images": len(sample)})
        mlflow.log_metrics({f"p_{row['feature']}": row["p_value"] for row in rows})
        mlflow.log_metric("drifting_features", sum(row["verdict"] == "DRIFT" for row in rows))
        mlflow.log_artifact(str(png), "drift")
        mlflow.log_artifact(str(out / "drift.json"), "drift")
    return rows, run.info.run_id


def main() -> None:
    parser = argparse.ArgumentParser(description="Drift report: served requests against the training data.")
    root = project_root()
    parser.add_argument("--log", type=Path, default=Path(os.environ.get("MNIST_REQUEST_LOG")
                                                         or root / "logs" / "requests.db"))
    parser.add_argument("--hours", type=float, default=24.0, help="the period: the last N hours")
    parser.add_argument("--model", default="mnist-classifier")
    parser.add_argument("--alias", default=CHAMPION)
    parser.add_argument("--prepared", type=Path, default=root / "data" / "prepared" / "mnist")
    parser.add_argument("--out", type=Path, default=root / "reports" / "monitor")
    args = parser.parse_args()
    uri = os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{root / 'mlflow.db'}"
    now = time.time()
    rows, run_id = monitor(uri, args.model, args.alias, args.log, args.prepared, now - args.hours * 3600, now, args.out)
    for row in rows:
        print(f"{row['feature']:16s} {row['verdict']:9s} p={row['p_value']:.3g}  ({row['test']})")
    print(f"report: {args.out / 'drift.png'}; logged to MLflow run {run_id} (experiment monitoring)")


if __name__ == "__main__":
    run_stage(main)
