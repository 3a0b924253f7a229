"""Checkpoints that are written whole or not at all."""

from __future__ import annotations

from typing import Any

from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO

from .atomic import atomic_path


class AtomicCheckpointIO(TorchCheckpointIO):
    """Saves to a temporary file beside the target, then renames it into place, so an interrupted
    save never replaces a good checkpoint with a truncated one."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options=None) -> None:
        with atomic_path(path) as tmp:
            super().save_checkpoint(checkpoint, tmp, storage_options)
