"""Checkpoints written during training: whole or not at all, and published to models/ only by a
finished training."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO
from pytorch_lightning.callbacks import ModelCheckpoint

from ..core.atomic import atomic_path


class BestCheckpoint(ModelCheckpoint):
    """ModelCheckpoint that forgets a restored best whose file is gone (a finished training's
    in-progress folder goes once published), so a resumed training writes a best.ckpt again
    instead of none."""

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if Path(state_dict.get("best_model_path") or "").is_file():
            super().load_state_dict(state_dict)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Saves to a temporary file beside the target, then renames it into place, so an interrupted
    save never replaces a good checkpoint with a truncated one."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options=None) -> None:
        with atomic_path(path) as tmp:
            super().save_checkpoint(checkpoint, tmp, storage_options)


def publish_checkpoints(running_dir: Path, models_dir: Path) -> None:
    """A finished training's best.ckpt and last.ckpt, copied whole into models_dir; then its
    in-progress folder goes."""
    for name in ("best.ckpt", "last.ckpt"):
        with atomic_path(models_dir / name) as tmp:
            shutil.copyfile(running_dir / name, tmp)
    shutil.rmtree(running_dir)
