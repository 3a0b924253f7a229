"""Checkpoint I/O: written whole or not at all, and loaded back as a Classifier."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO

from ..core.atomic import atomic_path
from ..core.errors import PipelineError
from .classifier import Classifier


class AtomicCheckpointIO(TorchCheckpointIO):
    """Saves to a temporary file beside the target, then renames it into place, so an interrupted
    save never replaces a good checkpoint with a truncated one."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options=None) -> None:
        with atomic_path(path) as tmp:
            super().save_checkpoint(checkpoint, tmp, storage_options)


def load_checkpoint(path: Path) -> tuple[Classifier, dict]:
    """The trained module and the raw checkpoint (its config, MLflow run id, ...), on the CPU."""
    if not path.exists():
        raise PipelineError(f"checkpoint {path} not found: run the train stage first")
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    module = Classifier.load_from_checkpoint(path, map_location="cpu", weights_only=True)
    return module, checkpoint
