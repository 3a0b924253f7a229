"""Where the evaluate stage's time goes, printed as figures: its fixed cost, apart from the test set.

    python benchmarks/evaluate_split.py --prepared data/prepared/mnist [--repeats 3] [--baseline-src OLD/src]

Each repeat builds a project in a temporary folder (this checkout's conf/, the given prepared data,
its own SQLite store), trains `experiment=speedrun` for a few steps, then runs the evaluate stage as
DVC does (`python -m mnist_pipeline.evaluate`) with timers around its phases. A fresh checkpoint
each time, so every repeat logs and registers a new model version, as `dvc repro` does after a
training. With --baseline-src, another checkout's evaluate runs too, on a checkpoint of its own
(interleaved, first in every other repeat): before and after a change, in one run.

Phases: interpreter start and imports; reading the checkpoint into a network; inference on the test
set; metrics; the MLflow connection; the three PNGs; logging metrics and artifacts to the run; the
model's export and logging (torch.export, the MLflow pyfunc model); its registration; the registry
check (the registered version loaded back and scored on the test set); the rest.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOAL_SECONDS = 4.0  # everything but inference, on 2 idle cores
# (module, function) -> phase; the evaluate stage imports these inside its function, so patching
# the module attributes before it runs puts a timer around each call.
PHASES = {
    ("mnist_pipeline.inference.checkpoints", "load_checkpoint"): "read checkpoint",
    ("mnist_pipeline.data.prepared", "load_prepared"): "read test set",
    ("mnist_pipeline.inference.logits", "batched_logits"): "inference",
    ("mnist_pipeline.reports.metrics", "classification_metrics"): "metrics",
    ("mnist_pipeline.tracking.store", "setup"): "MLflow connection",
    ("mnist_pipeline.reports.plots", "confusion_matrix_png"): "plots",
    ("mnist_pipeline.reports.plots", "learning_curves_png"): "plots",
    ("mnist_pipeline.reports.plots", "misclassified_png"): "plots",
    ("mlflow", "log_metrics"): "logging to the run",
    ("mlflow", "log_metric"): "logging to the run",
    ("mlflow", "log_artifacts"): "logging to the run",
    ("mlflow", "log_artifact"): "logging to the run",
    ("mnist_pipeline.tracking.registry", "log_model"): "model export and logging",
    ("mnist_pipeline.tracking.registry", "register"): "registration",
    ("mnist_pipeline.tracking.registry", "registry_correct"): "registry check",
}
ORDER = ["start and imports", "read checkpoint", "read test set", "inference", "metrics", "MLflow connection",
         "plots", "logging to the run", "model export and logging", "registration", "registry check", "rest",
         "total"]


def child() -> None:
    """Run the evaluate stage in this process with timers; print the phases as JSON."""
    import importlib

    import psutil

    started = psutil.Process().create_time()
    totals: dict[str, float] = {}

    def timed(function, phase):
        def wrapper(*args, **kwargs):
            begun = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                totals[phase] = totals.get(phase, 0.0) + time.perf_counter() - begun
        return wrapper

    # The stage's own imports, first: what it would import on its way anyway.
    for module in {module for module, _ in PHASES}:
        importlib.import_module(module)
    import mnist_pipeline.evaluate as stage

    imported = time.time()
    for (module, name), phase in PHASES.items():
        target = sys.modules[module]
        if hasattr(target, name):
            setattr(target, name, timed(getattr(target, name), phase))
    sys.argv = ["evaluate"]
    stage.main()
    ended = time.time()
    totals["start and imports"] = imported - started
    totals["total"] = ended - started
    totals["rest"] = totals["total"] - sum(v for k, v in totals.items() if k != "total")
    print(json.dumps(totals))


def project(folder: Path, prepared: Path) -> Path:
    """A project in `folder`: this checkout's conf/, params.yaml for a few speedrun steps on `prepared`,
    a trained checkpoint."""
    (folder / "conf").symlink_to(ROOT / "conf")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    overrides = ["experiment=speedrun", "trainer.max_steps=20", f"paths.prepared={prepared.resolve()}"]
    subprocess.run([sys.executable, "-m", "mnist_pipeline.params", *overrides], cwd=folder, env=env, check=True,
                   capture_output=True)
    subprocess.run([sys.executable, "-m", "mnist_pipeline.train", "--config-dir", ".", "--config-name", "params",
                    "hydra.run.dir=models"], cwd=folder, env=env, check=True, capture_output=True)
    return folder


def evaluate_once(folder: Path, src: Path) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    begun = time.perf_counter()
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child"], cwd=folder, env=env,
                          check=True, capture_output=True, text=True)
    phases = json.loads(done.stdout.strip().splitlines()[-1])
    phases["wall (parent)"] = time.perf_counter() - begun
    return phases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prepared", default="data/prepared/mnist", help="folder of the prepare stage's output")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline-src", type=Path, help="also time this source folder's evaluate (PYTHONPATH)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child()
    sides = {"now": ROOT / "src"}
    if args.baseline_src:
        sides["baseline"] = args.baseline_src.resolve()
    runs: dict[str, list[dict]] = {side: [] for side in sides}
    for repeat in range(args.repeats):
        order = list(sides) if repeat % 2 == 0 else list(reversed(sides))
        for side in order:  # each its own project: a second evaluate of a checkpoint would reuse its version
            with tempfile.TemporaryDirectory() as folder:
                runs[side].append(evaluate_once(project(Path(folder), Path(args.prepared)), sides[side]))
    print(f"evaluate stage, seconds (median of {args.repeats}; {os.cpu_count()} CPU cores; "
          f"load average {os.getloadavg()[0]:.1f} at the end)")
    print(f"{'phase':<26}" + "".join(f"{side:>10}" for side in sides))
    for phase in [*ORDER, "wall (parent)"]:
        values = [statistics.median(r.get(phase, 0.0) for r in runs[side]) for side in sides]
        print(f"{phase:<26}" + "".join(f"{v:>10.2f}" for v in values))
    # The goal: everything but the checkpoint's inference on the test set (the served model's own
    # check, which scores the test set again, counts against it).
    rest = [statistics.median(r["total"] - r.get("inference", 0.0) for r in runs[side]) for side in sides]
    print(f"{'all but inference':<26}" + "".join(f"{v:>10.2f}" for v in rest)
          + f"   goal <= {GOAL_SECONDS:.0f} s on 2 idle cores")


if __name__ == "__main__":
    main()
