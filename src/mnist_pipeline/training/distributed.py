"""Several processes training one model (DDP): which process is the one that logs, and the
combination that cannot work, refused before anything starts."""

from __future__ import annotations

import os
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.strategies.launchers.subprocess_script import _SubprocessScriptLauncher
from pytorch_lightning.utilities import rank_zero_only

from ..core.errors import ConfigError


def launched_as_rank_zero() -> bool:
    """Whether this process will be global rank 0, known before Lightning sets up the process group:
    Lightning reads the rank its launcher, torchrun or SLURM set (LOCAL_RANK, RANK, SLURM_PROCID);
    a node other than the first, started by hand, says so in NODE_RANK."""
    return rank_zero_only.rank == 0 and int(os.environ.get("NODE_RANK") or 0) == 0


def check_no_relaunch_in_sweep(trainer_config: dict[str, Any], source: str) -> None:
    """Refuse a strategy whose processes Lightning starts by running the command again: inside a
    Hydra multirun that command is the whole sweep (Lightning#11300). A cluster that starts one
    process per device itself (SLURM tasks, torchrun) is fine."""
    trainer = pl.Trainer(**trainer_config, logger=False, enable_checkpointing=False)
    if isinstance(trainer.strategy.launcher, _SubprocessScriptLauncher):
        raise ConfigError(
            f"{source}: trainer.strategy={trainer_config.get('strategy')} with {trainer.world_size} processes cannot "
            "run inside a sweep (-m): Lightning starts the other processes by running the command again, which "
            "would start the whole sweep again. Run DDP trainings one at a time, without -m, or sweep them on "
            "SLURM with hydra/launcher=slurm (one task per device: hydra.launcher.tasks_per_node=trainer.devices)")
