"""The train stage beside a plain PyTorch loop, and the commands' start-up times, printed as figures.

    python benchmarks/side_by_side.py --prepared data/prepared/mnist [--repeats 3] [--epochs 1]
    python benchmarks/side_by_side.py --startup-only

For each model (small_cnn b32, deep_cnn b50, mlp b100), interleaved so that drift on a busy machine
hits both alike, medians of --repeats:
- plain: a hand-written loop over the same in-memory uint8 tensors, the same model (built from the
  same config) and optimizer: shuffle, slice, /255, forward, cross-entropy, backward, step; then
  the validation split with dropout off.
- pipeline: `python -m mnist_pipeline.train` in a child process, as a user runs it (MLflow run,
  checkpoints, callbacks); its train_metrics.json gives train_images_per_sec (training epochs'
  wall time, validation excluded) and fit_seconds (the whole Trainer.fit, validation included).

With --baseline-src, the train stage of another checkout runs too (interleaved), as a row of its own:
before and after a change, measured in one run. With --bare-lightning, a row for Lightning alone: a
LightningModule with nothing but the loss (no metrics, logger or checkpoints; no callback but the
stage's own Throughput clock) on the pipeline's own batch loader, in this process; the floor that
Lightning's loop sets for the stage.

Ratios: training = pipeline / plain training images/s; with validation = the same with each
side's validation time counted. Start-up: wall time of `python -m mnist_pipeline.<command> --help`.
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

MODELS = {"small_cnn": 32, "deep_cnn": 50, "mlp": 100}
COMMANDS = ["download", "prepare", "train", "evaluate", "predict", "compare", "reproduction", "params",
            "mirror_mnist_5k"]


def plain_loop(model_name: str, batch_size: int, prepared: Path, epochs: int, seed: int,
               batches: int | None) -> tuple[float, float]:
    """(training seconds, validation seconds) of a plain loop: the reference the pipeline is held to.
    On a GPU, as the pipeline does: the data on the device, no host sync per step."""
    import torch
    import torch.nn.functional as F

    from mnist_pipeline.data.prepared import load_prepared

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model, make_optimizer = _model_and_optimizer(model_name, seed)
    model = model.to(device)
    optimizer = make_optimizer(model.parameters())
    images, labels = (t.to(device) for t in load_prepared(prepared, "train"))
    val_images, val_labels = (t.to(device) for t in load_prepared(prepared, "val"))
    generator = torch.Generator().manual_seed(seed)
    sync = torch.cuda.synchronize if device.type == "cuda" else lambda: None
    train_seconds = val_seconds = 0.0
    for _ in range(epochs):
        started = time.perf_counter()
        model.train()
        for batch in torch.randperm(len(labels), generator=generator).to(device).split(batch_size)[:batches]:
            x = images[batch].unsqueeze(1).float() / 255.0
            loss = F.cross_entropy(model(x), labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        sync()
        train_seconds += time.perf_counter() - started
        started = time.perf_counter()
        model.eval()
        correct = torch.zeros((), dtype=torch.long, device=device)
        with torch.no_grad():
            for x, y in zip(val_images.split(batch_size), val_labels.split(batch_size)):
                correct += (model(x.unsqueeze(1).float() / 255.0).argmax(1) == y).sum()
        int(correct)  # waits for the device
        val_seconds += time.perf_counter() - started
    return train_seconds, val_seconds


def bare_lightning(model_name: str, batch_size: int, prepared: Path, epochs: int, seed: int,
                   batches: int | None) -> tuple[float, float]:
    """(training seconds, validation seconds) of Lightning alone on the pipeline's batch loader."""
    import pytorch_lightning as pl
    import torch
    import torch.nn.functional as F

    from mnist_pipeline.data.inputs import to_model_input
    from mnist_pipeline.data.prepared import load_prepared
    from mnist_pipeline.training.callbacks import Throughput
    from mnist_pipeline.training.datamodule import batch_loader

    model, optimizer_factory = _model_and_optimizer(model_name, seed)

    class Bare(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.model = model

        def training_step(self, batch, batch_idx):
            images, labels = batch
            return F.cross_entropy(self.model(to_model_input(images, True)), labels)

        def validation_step(self, batch, batch_idx):
            images, labels = batch
            self.model(to_model_input(images, True)).argmax(1)

        def configure_optimizers(self):
            return optimizer_factory(self.parameters())

    clock = Throughput()  # the train stage's own clock: training epochs, validation apart
    trainer = pl.Trainer(max_epochs=epochs, limit_train_batches=batches or 1.0, logger=False, callbacks=[clock],
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         num_sanity_val_steps=0)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    train = [t.to(device) for t in load_prepared(prepared, "train")]
    val = [t.to(device) for t in load_prepared(prepared, "val")]
    trainer.fit(Bare(), batch_loader(*train, batch_size, shuffle=True, seed=seed),
                batch_loader(*val, batch_size, shuffle=False))
    return clock.seconds, clock.validation_seconds


def _model_and_optimizer(model_name: str, seed: int):
    """The model built from conf/ (model=<name>) with torch seeded, and its optimizer's factory."""
    import torch
    from hydra import compose, initialize_config_dir

    from mnist_pipeline.core.config import to_plain
    from mnist_pipeline.models.build import build_model
    from mnist_pipeline.training.builders import optimizer_factory

    conf = Path(__file__).resolve().parents[1] / "conf"
    with initialize_config_dir(str(conf), version_base=None):
        cfg = to_plain(compose("config", [f"model={model_name}"]))
    torch.manual_seed(seed)
    return build_model(cfg["model"], 10), optimizer_factory(cfg["optimizer"])


def pipeline(model_name: str, batch_size: int, prepared: Path, epochs: int, seed: int, workdir: Path,
             batches: int | None, extra: list[str], src: str | None = None) -> dict:
    """train_metrics.json of one `python -m mnist_pipeline.train` run in its own folder."""
    run_dir = Path(tempfile.mkdtemp(dir=workdir))
    command = [sys.executable, "-m", "mnist_pipeline.train", f"model={model_name}",
               f"data.batch_size={batch_size}", f"trainer.max_epochs={epochs}", f"seed={seed}",
               f"paths.prepared={prepared.resolve()}", f"paths.models={run_dir}/models",
               f"paths.reports={run_dir}/reports", f"paths.checkpoints={run_dir}/checkpoints",
               f"tracking.tracking_uri=sqlite:///{workdir}/mlflow.db", f"hydra.run.dir={run_dir}/hydra", *extra]
    if batches:
        command.append(f"trainer.limit_train_batches={batches}")
    # The plain loop's thread count, whatever else runs on the machine (the stage would take its share).
    env = {**os.environ, "OMP_NUM_THREADS": str(_threads())}
    if src:
        env["PYTHONPATH"] = src
    subprocess.run(command, cwd=run_dir, check=True, capture_output=True, env=env)
    return json.loads((run_dir / "reports" / "train_metrics.json").read_text())


def startup_seconds(command: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", f"mnist_pipeline.{command}", "--help"], check=True, capture_output=True)
    return time.perf_counter() - started


def side_by_side(args) -> None:
    prepared = Path(args.prepared)
    train_size = len(_labels(prepared, "train"))
    val_size = len(_labels(prepared, "val"))
    print(f"{train_size} training images (--train-batches {args.train_batches}), {val_size} validation images, "
          f"{args.epochs} epoch(s), medians of {args.repeats}, {os.cpu_count()} CPU cores, "
          f"torch threads {_threads()}")
    print(f"{'model':<10} {'batch':>5} {'plain img/s':>12} {'pipeline img/s':>15} {'ratio':>6}   "
          f"{'with validation: plain':>23} {'pipeline':>9} {'ratio':>6}")
    with tempfile.TemporaryDirectory() as workdir:
        for model_name in args.models:
            batch_size = MODELS[model_name]
            plain, piped, base, bare = [], [], [], []
            sides = ["plain", "pipeline"] + ["baseline"] * bool(args.baseline_src) + ["bare"] * args.bare_lightning
            for repeat in range(args.repeats):
                for i in range(len(sides)):  # each repeat starts with the next side: a drifting load favours none
                    side = sides[(repeat + i) % len(sides)]
                    if side == "plain":
                        plain.append(plain_loop(model_name, batch_size, prepared, args.epochs, repeat,
                                                args.train_batches))
                    elif side == "bare":
                        bare.append(bare_lightning(model_name, batch_size, prepared, args.epochs, repeat,
                                                   args.train_batches))
                    else:
                        (piped if side == "pipeline" else base).append(pipeline(
                            model_name, batch_size, prepared, args.epochs, repeat, Path(workdir), args.train_batches,
                            args.override, args.baseline_src if side == "baseline" else None))
            images = min(train_size, (args.train_batches or train_size) * batch_size) * args.epochs
            plain_train = statistics.median(images / t for t, _ in plain)
            plain_all = statistics.median((images + val_size * args.epochs) / (t + v) for t, v in plain)
            piped_train = statistics.median(m["train_images_per_sec"] for m in piped)
            piped_all = statistics.median((images + val_size * args.epochs) / m["fit_seconds"] for m in piped)
            print(f"{model_name:<10} {batch_size:>5} {plain_train:>12.0f} {piped_train:>15.0f} "
                  f"{piped_train / plain_train:>6.2f}   {plain_all:>23.0f} {piped_all:>9.0f} "
                  f"{piped_all / plain_all:>6.2f}", flush=True)
            if base:
                base_train = statistics.median(m["train_images_per_sec"] for m in base)
                base_all = statistics.median((images + val_size * args.epochs) / m["fit_seconds"] for m in base)
                print(f"{'  baseline':<10} {'':>5} {'':>12} {base_train:>15.0f} {base_train / plain_train:>6.2f}   "
                      f"{'':>23} {base_all:>9.0f} {base_all / plain_all:>6.2f}", flush=True)
            if bare:
                bare_train = statistics.median(images / t for t, _ in bare)
                bare_all = statistics.median((images + val_size * args.epochs) / (t + v) for t, v in bare)
                print(f"{'  bare Lightning':<16} {'':>12} {bare_train:>15.0f} {bare_train / plain_train:>6.2f}   "
                      f"{'':>23} {bare_all:>9.0f} {bare_all / plain_all:>6.2f}", flush=True)


def _labels(prepared: Path, split: str):
    from mnist_pipeline.data.prepared import load_prepared

    return load_prepared(prepared, split)[1]


def _threads() -> int:
    import torch

    return torch.get_num_threads()


def import_seconds(command: str) -> float:
    """`python -X importtime`'s cumulative time of importing the command's module."""
    module = f"mnist_pipeline.{command}"
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"], check=True,
                          capture_output=True, text=True)
    for line in done.stderr.splitlines():
        fields = [field.strip() for field in line.split("|")]
        if len(fields) == 3 and fields[2] == module:
            return int(fields[1]) / 1e6
    raise RuntimeError(f"no importtime line for {module}")


def startup(repeats: int) -> None:
    print(f"start-up, seconds (median of {repeats}): wall time of `python -m mnist_pipeline.<command> --help`, "
          "and `python -X importtime` total of importing the command's module")
    times = {command: ([], []) for command in COMMANDS}
    for _ in range(repeats):  # interleaved
        for command in COMMANDS:
            times[command][0].append(startup_seconds(command))
            times[command][1].append(import_seconds(command))
    for command in COMMANDS:
        wall, imports = (statistics.median(values) for values in times[command])
        print(f"  {command:<16} --help {wall:5.2f}   imports {imports:5.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prepared", default="data/prepared/mnist", help="folder of the prepare stage's output")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--threads", type=int, help="torch threads on both sides (default: torch's own choice)")
    parser.add_argument("--train-batches", type=int, help="train on this many batches per epoch (default: all)")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--override", nargs="*", default=[], help="extra Hydra overrides for the train stage")
    parser.add_argument("--baseline-src", help="also run the train stage of this source folder (PYTHONPATH), "
                        "interleaved, as a baseline row")
    parser.add_argument("--bare-lightning", action="store_true", help="add a row for Lightning alone (see above)")
    parser.add_argument("--startup-only", action="store_true", help="only the commands' start-up times")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if not args.startup_only:
        side_by_side(args)
    startup(args.repeats)


if __name__ == "__main__":
    main()
