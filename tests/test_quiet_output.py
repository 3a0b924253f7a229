"""What a user sees: a tiny train and evaluate, run as commands, print none of the library warnings
and notices that core/noise.py silences or that were fixed at their source."""

import os
import re
import subprocess
import sys

import pytest

from conftest import write_tiny_conf
from mnist_pipeline.core.noise import UNACTIONABLE_NOTICES, UNACTIONABLE_WARNINGS

pytestmark = pytest.mark.slow  # a real training and evaluation, each its own process

FIXED_AT_SOURCE = [
    r"Add type hints to the `predict` method",  # served_model.py's predict has them
    r"`weights_only` was not set",  # train.py says what its final checkpoint holds
]


def command(folder, *args) -> str:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    result = subprocess.run([sys.executable, "-m", *args], cwd=folder, env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout + result.stderr


def test_a_tiny_train_and_evaluate_print_no_warning_a_user_cannot_act_on(tmp_path, tiny_mirror):
    write_tiny_conf(tmp_path, *tiny_mirror)
    command(tmp_path, "mnist_pipeline.params", "data=tiny", "trainer.max_epochs=1")
    command(tmp_path, "mnist_pipeline.download")
    command(tmp_path, "mnist_pipeline.prepare")
    output = (command(tmp_path, "mnist_pipeline.train", "--config-dir", ".", "--config-name", "params",
                      "hydra.run.dir=models")
              + command(tmp_path, "mnist_pipeline.evaluate"))
    assert "val_acc" in output and "test_acc" in output  # it did train and evaluate, and said so
    silenced = [message for message, *_ in UNACTIONABLE_WARNINGS] + [re.escape(prefix) for _, prefix, _ in
                                                                     UNACTIONABLE_NOTICES]
    for pattern in silenced + FIXED_AT_SOURCE:
        assert not re.search(pattern, output), f"printed: {pattern}"
