"""Each training process takes its share of the CPU cores, not all of them.

Two trainings at once, each with a thread per core, fight over the cores and slow small models
down several times. joblib's workers (Hydra's joblib launcher) are already given their share
through OMP_NUM_THREADS, which torch follows; other parallel trainings (DVC queue workers, two
shells) are counted here: the live processes of this host running the train entry point.
"""

from __future__ import annotations

import os

import psutil
import torch

TRAIN_MODULE = "mnist_pipeline.train"


def _is_training(cmdline: list[str] | None) -> bool:
    return bool(cmdline) and "-m" in cmdline and TRAIN_MODULE in cmdline


def concurrent_trainings() -> int:
    """Processes of this host running the train entry point, this one included."""
    count = sum(_is_training(process.info["cmdline"]) for process in psutil.process_iter(["cmdline"]))
    return max(count, 1)


def share_cores() -> int:
    """Set torch's threads to this process's share of the cores, when this process is a training
    started from the command line and OMP_NUM_THREADS does not say how many (a library caller, a
    test say, keeps its own); returns the number of threads."""
    if _is_training(psutil.Process().cmdline()) and not os.environ.get("OMP_NUM_THREADS"):
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        torch.set_num_threads(max(1, cores // concurrent_trainings()))
    return torch.get_num_threads()
