"""What one prediction costs beside importing torch: wall time and peak memory, as ratios to a bare
`python -c "import torch"` measured in the same run.

    python benchmarks/predict_startup.py [--checkpoint models/best.ckpt] [--prepared data/prepared/mnist] [--repeats 3]

Each repeat runs the bare import and `python -m mnist_pipeline.predict --image one.png` one after the
other (alternating which goes first), each a fresh interpreter; the figures are medians. Without a
checkpoint at --checkpoint, one is trained for a few steps of `experiment=speedrun` on --prepared in
a temporary folder (as benchmarks/evaluate_split.py does). Goals: wall <= 1.5x, memory <= 1.2x.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
GOALS = {"wall": 1.5, "peak memory": 1.2}


def measure(command: list[str], env: dict) -> tuple[float, float]:
    """Wall seconds and peak resident memory (MB) of one child process."""
    begun = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - begun
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{child.stderr.read().decode()}")
    return wall, usage.ru_maxrss / 1024  # KB on Linux


def trained_checkpoint(folder: Path, prepared: Path) -> Path:
    sys.path.insert(0, str(Path(__file__).parent))
    from evaluate_split import project  # a few speedrun steps in `folder`

    return project(folder, prepared) / "models" / "best.ckpt"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=Path("models/best.ckpt"))
    parser.add_argument("--prepared", type=Path, default=Path("data/prepared/mnist"),
                        help="used to train a checkpoint when --checkpoint does not exist")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        checkpoint = args.checkpoint if args.checkpoint.is_file() else trained_checkpoint(folder, args.prepared)
        image = folder / "one.png"
        pixels = np.zeros((28, 28), np.uint8)
        pixels[6:22, 12:16] = 255  # a one
        Image.fromarray(pixels).save(image)
        commands = {
            "import torch": [sys.executable, "-c", "import torch"],
            "predict one image": [sys.executable, "-m", "mnist_pipeline.predict", "--checkpoint", str(checkpoint),
                                  "--image", str(image)],
        }
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
        for repeat in range(args.repeats):
            order = list(commands) if repeat % 2 == 0 else list(reversed(commands))
            for name in order:
                results[name].append(measure(commands[name], env))
    medians = {name: (statistics.median(w for w, _ in runs), statistics.median(m for _, m in runs))
               for name, runs in results.items()}
    print(f"predict start-up (median of {args.repeats}, interleaved; {os.cpu_count()} CPU cores; "
          f"load average {os.getloadavg()[0]:.1f} at the end)")
    print(f"{'':<20}{'wall s':>10}{'peak MB':>10}")
    for name, (wall, memory) in medians.items():
        print(f"{name:<20}{wall:>10.2f}{memory:>10.0f}")
    (bare_wall, bare_mem), (wall, mem) = medians["import torch"], medians["predict one image"]
    for figure, ratio in (("wall", wall / bare_wall), ("peak memory", mem / bare_mem)):
        goal = GOALS[figure]
        print(f"{figure + ' ratio':<20}{ratio:>10.2f}   goal <= {goal}  {'met' if ratio <= goal else 'NOT met'}")


if __name__ == "__main__":
    main()
