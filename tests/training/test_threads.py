"""Parallel trainings share the cores: each takes cores // (trainings running on this host)."""

import os
import subprocess
import sys

import pytest
import torch

from mnist_pipeline.training.threads import TRAIN_MODULE, concurrent_trainings, share_cores


@pytest.fixture
def torch_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.fixture
def another_training():
    """A real process whose command line is a training's (`python ... -m mnist_pipeline.train`)."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "-m", TRAIN_MODULE])
    yield process
    process.kill()
    process.wait()


def test_another_training_is_counted(another_training):
    # Others' trainings may come and go on a shared machine, so count twice around a known change.
    with_it = concurrent_trainings()
    another_training.kill()
    another_training.wait()
    assert concurrent_trainings() == max(with_it - 1, 1)


def test_share_is_cores_over_trainings(another_training):
    """A training process (this command line's) next to another one takes at most half the cores."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    probe = "from mnist_pipeline.training.threads import share_cores; print(share_cores())"
    done = subprocess.run([sys.executable, "-c", probe, "-m", TRAIN_MODULE], env=env, capture_output=True,
                          text=True, timeout=120, check=True)
    cores = len(os.sched_getaffinity(0))
    assert 1 <= int(done.stdout) <= max(1, cores // 2)


def test_a_library_caller_keeps_its_threads(monkeypatch, torch_threads, another_training):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    torch.set_num_threads(2)
    assert share_cores() == 2  # this test's process is no training started from the command line


def test_omp_num_threads_is_respected(monkeypatch, torch_threads, another_training):
    torch.set_num_threads(2)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert share_cores() == 2
