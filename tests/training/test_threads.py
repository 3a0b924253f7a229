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


def fake_training() -> subprocess.Popen:
    """A real process whose command line is a training's (`python ... -m mnist_pipeline.train`)."""
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "-m", TRAIN_MODULE])


@pytest.fixture
def another_training():
    process = fake_training()
    yield process
    process.kill()
    process.wait()


def test_another_training_is_counted(another_training):
    # Others' trainings may come and go on a shared machine, so count twice around a known change.
    with_it = concurrent_trainings()
    another_training.kill()
    another_training.wait()
    assert concurrent_trainings() == max(with_it - 1, 1)


def test_share_is_cores_over_trainings(monkeypatch, torch_threads, another_training):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    cores = len(os.sched_getaffinity(0))
    second = fake_training()
    try:
        threads = share_cores()
    finally:
        second.kill()
        second.wait()
    assert threads == torch.get_num_threads()
    assert 1 <= threads <= max(1, cores // 2)  # at least two trainings run


def test_omp_num_threads_is_respected(monkeypatch, torch_threads, another_training):
    torch.set_num_threads(2)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert share_cores() == 2
