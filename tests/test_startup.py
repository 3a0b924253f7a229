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


def test_scoring_a_checkpoint_imports_neither_lightning_nor_torchmetrics():
    """evaluate, predict and export_onnx load checkpoints as plain data into the bare network, and
    evaluate's metrics come from the confusion matrix: importing Lightning and torchmetrics (which
    imports torchvision) costs seconds, for training only."""
    code = ("import sys\n"
            "import mnist_pipeline.evaluate, mnist_pipeline.predict, mnist_pipeline.export_onnx\n"
            "from mnist_pipeline.reports import metrics, plots\n"
            "from mnist_pipeline.tracking import registry, queries, runs, store\n"
            "from mnist_pipeline.inference import checkpoints, logits, onnx_export, served_model\n"
            "from mnist_pipeline.data import images, prepared\n"
            "heavy = {'pytorch_lightning', 'lightning', 'torchmetrics', 'torchvision'}\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & heavy))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"
