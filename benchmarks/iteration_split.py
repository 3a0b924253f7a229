"""Where a whole iteration's time goes: `dvc exp run -S experiment=speedrun`, split into DVC, the
training stage's start-up, the fit, the evaluate stage and its registration, as figures.

    python benchmarks/iteration_split.py --mirror /path/to/mnist/archives [--repeats 1]

Builds a project in a temporary folder from this checkout's committed files (git clone), with
`data.mirrors` pointed at --mirror (a folder or file:// URL holding the four MNIST archives), runs
`dvc repro download prepare` once, then times `dvc exp run -S experiment=speedrun` (each repeat a new
experiment with seed 42, 43, ...: DVC would restore a repeated one from its run cache, and a new
checkpoint registers a new version, as after any training). In that
copy only, each stage's command runs under a timer (this script's --stage mode); the evaluate stage
runs through benchmarks/evaluate_split.py's timers. The fit is the train stage's own fit_seconds.

Goal: the iteration's wall time minus the fit <= 15 s on 2 idle cores.
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

import yaml

ROOT = Path(__file__).resolve().parents[1]
GOAL_SECONDS = 15.0
TIMES = "ITERATION_SPLIT_TIMES"  # env: the file each timed stage appends its figures to
REGISTRATION = ("model export and logging", "registration", "registry check")


def timed_stage(name: str, command: list[str]) -> None:
    """Run a stage's command, then append its wall time (and the evaluate phases it prints) to $TIMES."""
    begun = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True)
    wall = time.perf_counter() - begun
    sys.stdout.write(done.stdout)
    record = {"stage": name, "wall": wall}
    if name == "evaluate" and done.returncode == 0:
        record["phases"] = json.loads(done.stdout.strip().splitlines()[-1])
    with open(os.environ[TIMES], "a") as out:
        out.write(json.dumps(record) + "\n")
    sys.exit(done.returncode)


def sh(folder: Path, *command: str, env: dict | None = None) -> None:
    done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


def project(folder: Path, mirror: str, env: dict) -> None:
    sh(folder.parent, "git", "clone", "-q", str(ROOT), folder.name)
    stages = yaml.safe_load((folder / "dvc.yaml").read_text())
    me = str(Path(__file__).resolve())
    for name in ("train", "evaluate"):
        stage = stages["stages"][name]
        inner = (f"{sys.executable} {ROOT / 'benchmarks' / 'evaluate_split.py'} --child" if name == "evaluate"
                 else stage["cmd"].replace("python ", f"{sys.executable} ", 1))
        stage["cmd"] = f"{sys.executable} {me} --stage {name} -- {inner}"
    (folder / "dvc.yaml").write_text(yaml.safe_dump(stages, sort_keys=False))
    sh(folder, sys.executable, "-m", "mnist_pipeline.params", f"data.mirrors=[{mirror}]", env=env)
    sh(folder, "dvc", "repro", "download", "prepare", env=env)


def iteration(folder: Path, mirror: str, env: dict, times: Path, seed: int) -> dict[str, float]:
    times.write_text("")
    begun = time.perf_counter()
    sh(folder, "dvc", "exp", "run", "-S", "experiment=speedrun", "-S", f"data.mirrors=[{mirror}]", "-S", f"seed={seed}",
       env=env)
    total = time.perf_counter() - begun
    stages = {r["stage"]: r for r in map(json.loads, times.read_text().splitlines())}
    fit = json.loads((folder / "reports" / "train_metrics.json").read_text())["fit_seconds"]
    phases = stages["evaluate"]["phases"]
    registration = sum(phases.get(p, 0.0) for p in REGISTRATION)
    return {
        "DVC (all but the two stages' commands)": total - stages["train"]["wall"] - stages["evaluate"]["wall"],
        "train: start-up and saving": stages["train"]["wall"] - fit,
        "train: fit": fit,
        "evaluate: inference": phases.get("inference", 0.0),
        "evaluate: the rest": stages["evaluate"]["wall"] - registration - phases.get("inference", 0.0),
        "evaluate: export, registration, check": registration,
        "total": total,
        "total minus fit": total - fit,
    }


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--stage":  # inside the copy, as a stage's command
        return timed_stage(sys.argv[2], sys.argv[sys.argv.index("--") + 1:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", required=True, help="folder or file:// URL with the four MNIST archives")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    mirror = args.mirror if "://" in args.mirror else Path(args.mirror).resolve().as_uri() + "/"
    with tempfile.TemporaryDirectory() as tmp:
        folder, times = Path(tmp) / "project", Path(tmp) / "times.jsonl"
        env = {**os.environ, TIMES: str(times), "PYTHONPATH": str(Path(tmp) / "project" / "src")}
        project(folder, mirror, env)
        # A seed of its own each repeat: DVC would restore a repeated experiment from its run cache.
        runs = [iteration(folder, mirror, env, times, seed) for seed in range(42, 42 + args.repeats)]
    print(f"dvc exp run -S experiment=speedrun, seconds (median of {args.repeats}; {os.cpu_count()} CPU cores; "
          f"load average {os.getloadavg()[0]:.1f} at the end)")
    for part in runs[0]:
        print(f"{part:<42}{statistics.median(r[part] for r in runs):>8.2f}")
    rest = statistics.median(r["total minus fit"] for r in runs)
    print(f"{'goal: total minus fit':<42}{GOAL_SECONDS:>8.2f}   {'met' if rest <= GOAL_SECONDS else 'NOT met'}")


if __name__ == "__main__":
    main()
