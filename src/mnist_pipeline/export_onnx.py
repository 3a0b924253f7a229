"""Export a registered model version to ONNX, check it against PyTorch on the test set, and log it
to the version's MLflow run.

    python -m mnist_pipeline.export_onnx                 the champion of params.yaml's dataset
    python -m mnist_pipeline.export_onnx --version 3     a version by number (or another alias)

The ONNX model takes what the registered model takes, uint8 pixels `pixels` [N, 28, 28] (0-255,
light digit on dark), and gives `probabilities` [N, classes]. It is written to
<paths.models>/<registered model>-v<version>.onnx only when, on every test image, its predicted
class is PyTorch's and its probabilities are within --tolerance of PyTorch's.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
from pathlib import Path

from .core.atomic import atomic_path
from .core.cli import run_stage
from .core.config import load_params
from .core.errors import PipelineError
from .tracking import CHAMPION

log = logging.getLogger(__name__)


def export(cfg, version_or_alias: str = CHAMPION, tolerance: float = 1e-4) -> tuple[Path, dict]:
    """Export, check and log one registered version; returns the ONNX file and the parity figures."""
    import mlflow  # torch, MLflow and onnx: imported here, so that --help answers at once
    from mlflow import MlflowClient

    from .data.prepared import load_prepared
    from .inference.onnx_export import export_onnx, onnx_probabilities, parity, torch_probabilities
    from .tracking import registry, runs, store

    store.connect(cfg)
    name = cfg.tracking.registered_model_name
    version = registry.find_version(MlflowClient(), name, version_or_alias)
    target = Path(cfg.paths.models) / f"{name}-v{version.version}.onnx"
    with tempfile.TemporaryDirectory() as folder:
        network, spec = registry.load_network(name, version.version, Path(folder))
        images, _ = load_prepared(Path(cfg.paths.prepared), "test", len(spec["classes"]))
        onnx_file = Path(folder) / target.name
        export_onnx(network, spec["normalize"], onnx_file)
        figures = parity(torch_probabilities(network, images, spec["normalize"]), onnx_probabilities(onnx_file, images))
        figures["onnx_test_images"] = len(images)
        if figures["onnx_argmax_mismatches"] or figures["onnx_max_abs_diff"] > tolerance:
            raise PipelineError(f"{name} v{version.version}: the ONNX export disagrees with PyTorch on the test set "
                                f"({figures['onnx_argmax_mismatches']} predicted classes differ, probabilities up "
                                f"to {figures['onnx_max_abs_diff']:.2e} apart, tolerance {tolerance:g}); not written")
        with runs.reopened(version.run_id):
            mlflow.log_artifact(str(onnx_file), "onnx")
            mlflow.log_metrics({key: float(value) for key, value in figures.items()})
        with atomic_path(target) as tmp:
            shutil.copyfile(onnx_file, tmp)
    log.info("%s v%s -> %s: same predicted class on all %d test images, probabilities within %.1e; "
             "logged to run %s under onnx/", name, version.version, target, len(images),
             figures["onnx_max_abs_diff"], version.run_id)
    return target, figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", default=CHAMPION, help="version number or alias (default: %(default)s)")
    parser.add_argument("--tolerance", type=float, default=1e-4,
                        help="largest allowed difference between ONNX and PyTorch probabilities (default: %(default)g)")
    args = parser.parse_args()
    export(load_params(), args.version, args.tolerance)


if __name__ == "__main__":
    run_stage(main)
