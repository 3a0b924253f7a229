"""The speed figures on a GPU machine, end to end in one call (a few minutes):

    python benchmarks/gpu_check.py --mnist /path/to/folder/with/the/four/mnist/gz/archives

1. prepares full MNIST from the local archives (through the pipeline's own download and prepare code);
2. the side-by-side ratios (benchmarks/side_by_side.py: plain loop against the train stage), on the GPU;
3. training images/s of each seed recipe (its first --recipe-steps optimizer steps);
4. the speed recipe (experiment=speedrun) over 3 seeds: fit seconds and test accuracy.

Prints every figure; writes nothing outside a temporary folder. Needs torch, Lightning and the
project's requirements (hydra, mlflow, ...); no network.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

SEED_RECIPES = ["deep_mnist", "mechanics101", "pytorch_cnn", "tf_layers", "two_layer_net"]


def prepare_mnist(mnist: Path, work: Path) -> Path:
    from hydra import compose, initialize_config_dir

    from mnist_pipeline.download import download
    from mnist_pipeline.prepare import prepare

    with initialize_config_dir(str(ROOT / "conf"), version_base=None):
        cfg = compose("config", [f"data.mirrors=[{mnist.resolve().as_uri()}/]", f"paths.raw={work}/raw",
                                 f"paths.prepared={work}/prepared"])
    download(cfg)
    prepare(cfg)
    return work / "prepared"


def train(work: Path, prepared: Path, name: str, overrides: list[str]) -> dict:
    """train_metrics.json of one run of the train stage, and the folder it wrote to."""
    run_dir = work / name
    command = [sys.executable, "-m", "mnist_pipeline.train", f"paths.prepared={prepared}",
               f"paths.models={run_dir}/models", f"paths.reports={run_dir}/reports",
               f"paths.checkpoints={run_dir}/checkpoints", f"tracking.tracking_uri=sqlite:///{work}/mlflow.db",
               f"hydra.run.dir={run_dir}/hydra", *overrides]
    done = subprocess.run(command, cwd=work, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return {**json.loads((run_dir / "reports" / "train_metrics.json").read_text()), "dir": run_dir}


def test_accuracy(checkpoint: Path, prepared: Path) -> float:
    """The evaluate stage's figure: the checkpoint's accuracy on the test split."""
    from mnist_pipeline.data.prepared import load_prepared
    from mnist_pipeline.inference.checkpoints import load_checkpoint
    from mnist_pipeline.inference.logits import batched_logits

    model, saved = load_checkpoint(checkpoint)
    images, labels = load_prepared(prepared, "test")
    logits = batched_logits(model, images, saved["config"]["data"]["normalize"])
    return float((logits.argmax(dim=1) == labels).float().mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", type=Path, required=True, help="folder holding MNIST's four .gz archives")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--recipe-steps", type=int, default=500)
    args = parser.parse_args()
    import torch

    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device: this check is for a GPU machine (benchmarks/side_by_side.py runs on CPUs)")
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}", flush=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        prepared = prepare_mnist(args.mnist, work)

        print("\n== side by side (plain loop vs train stage), GPU", flush=True)
        subprocess.run([sys.executable, str(ROOT / "benchmarks" / "side_by_side.py"), "--prepared", str(prepared),
                        "--repeats", str(args.repeats)], check=True)

        print(f"\n== seed recipes, training images/s over their first {args.recipe_steps} steps", flush=True)
        for recipe in SEED_RECIPES:
            metrics = train(work, prepared, recipe, [f"experiment={recipe}", f"trainer.max_steps={args.recipe_steps}"])
            print(f"  {recipe:<14} {metrics['train_images_per_sec']:>10.0f} images/s", flush=True)

        print("\n== speed recipe (experiment=speedrun), 3 seeds", flush=True)
        fits, accuracies = [], []
        for seed in range(3):
            metrics = train(work, prepared, f"speedrun-{seed}", ["experiment=speedrun", f"seed={seed}"])
            accuracy = test_accuracy(metrics["dir"] / "models" / "best.ckpt", prepared)
            fits.append(metrics["fit_seconds"])
            accuracies.append(accuracy)
            print(f"  seed {seed}: fit {metrics['fit_seconds']:.2f} s, {metrics['train_images_per_sec']:.0f} "
                  f"images/s, test accuracy {accuracy:.4f}", flush=True)
        print(f"  median fit {statistics.median(fits):.2f} s; test accuracy min {min(accuracies):.4f}, "
              f"mean {statistics.mean(accuracies):.4f}")
    print(f"\nwhole check: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
