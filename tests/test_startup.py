"""Every command answers --help without importing torch, Lightning, MLflow or pandas (they are
imported where they are used), and without doing its work."""

import subprocess
import sys

import pytest

COMMANDS = ["download", "prepare", "train", "evaluate", "predict", "compare", "reproduction", "params",
            "mirror_mnist_5k", "export_onnx"]
HEAVY = {"torch", "pytorch_lightning", "lightning", "mlflow", "pandas", "matplotlib", "torchvision"}

pytestmark = pytest.mark.slow  # each case starts a Python process


@pytest.mark.parametrize("command", COMMANDS)
def test_help_imports_no_heavy_library(tmp_path, command):
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", f"mnist_pipeline.{command}", "--help"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "usage" in result.stdout.lower() or "== Config ==" in result.stdout
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}
    assert not imported & HEAVY
    assert list(tmp_path.iterdir()) == []  # nothing downloaded, prepared or written
