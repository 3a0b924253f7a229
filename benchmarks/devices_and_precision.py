"""Training speed and accuracy by trainer preset and precision, side by side: the real train entry
point run once per setting (repeated and interleaved with --repeats; medians printed), on the
project's prepared data (`dvc repro prepare` first). Runs log to a temporary store.

    python benchmarks/devices_and_precision.py                          # CPU: fp32, bf16-mixed, DDP x2
    python benchmarks/devices_and_precision.py --settings gpu gpu-bf16  # on a GPU machine
    python benchmarks/devices_and_precision.py --epochs 1 --limit 200 -- model=deep_cnn
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

SETTINGS = {
    "cpu": ["trainer=cpu"],
    "cpu-bf16": ["trainer=cpu", "trainer.precision=bf16-mixed"],
    "ddp2-cpu": ["trainer=ddp", "trainer.devices=2", "trainer.accelerator=cpu"],
    "gpu": ["trainer=gpu"],
    "gpu-bf16": ["trainer=gpu", "trainer.precision=bf16-mixed"],
    "ddp2-gpu": ["trainer=ddp", "trainer.devices=2", "trainer.accelerator=gpu"],
}


def train_once(setting: str, epochs: int, limit: int, extra: list[str], folder: Path) -> dict:
    out = folder / setting
    overrides = [*SETTINGS[setting], f"trainer.max_epochs={epochs}", f"trainer.limit_train_batches={limit}",
                 f"paths.models={out}/models", f"paths.reports={out}/reports", f"paths.checkpoints={out}/checkpoints",
                 f"tracking.tracking_uri=sqlite:///{folder}/mlflow.db", "tracking.experiment_name=benchmark",
                 f"hydra.run.dir={out}/hydra", *extra]
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    result = subprocess.run([sys.executable, "-m", "mnist_pipeline.train", *overrides], env=env,
                            capture_output=True, text=True)
    if result.returncode:
        sys.exit(f"{setting} failed:\n{result.stderr[-3000:]}")
    return json.loads((out / "reports" / "train_metrics.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", nargs="+", default=["cpu", "cpu-bf16", "ddp2-cpu"], choices=sorted(SETTINGS))
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--limit", type=int, default=200, help="training batches per epoch")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("overrides", nargs="*", help="more Hydra overrides, after --")
    args = parser.parse_args()
    figures: dict[str, list[dict]] = {s: [] for s in args.settings}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):
            for setting in args.settings:  # interleaved, so a slow spell hits every setting alike
                figures[setting].append(train_once(setting, args.epochs, args.limit, args.overrides, Path(tmp)))
    print(f"{'setting':<10} {'images/s':>10} {'fit s':>8} {'best val acc':>13}   (medians of {args.repeats})")
    base = None
    for setting, runs in figures.items():
        speed = statistics.median(r["train_images_per_sec"] for r in runs)
        base = base or speed
        print(f"{setting:<10} {speed:>10.0f} {statistics.median(r['fit_seconds'] for r in runs):>8.1f} "
              f"{statistics.median(r['best_val_acc'] for r in runs):>13.4f}   x{speed / base:.2f}")


if __name__ == "__main__":
    main()
