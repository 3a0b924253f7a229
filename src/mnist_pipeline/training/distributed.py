"""Several processes training one model (DDP): which process is the one that logs, and the
combination that cannot work, refused before anything starts."""

from __future__ import annotations

import os
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.utilities import rank_zero_only

from ..core.errors import ConfigError


def launched_as_rank_zero() -> bool:
    """Whether this process will be global rank 0, known before Lightning sets up the process group:
    Lightning reads the rank its launcher, torchrun or SLURM set (LOCAL_RANK, RANK, SLURM_PROCID);
    a node other than the first, started by hand, says so in NODE_RANK."""
    return rank_zero_only.rank == 0 and int(os.environ.get("NODE_RANK") or 0) == 0


def check_no_relaunch_in_sweep(trainer_config: dict[str, Any], source: str) -> None:
    """Refuse, inside a Hydra multirun, processes that Lightning would start itself: with ddp it runs
    the command again, which there is the whole sweep (Lightning#11300); ddp_spawn and ddp_fork hand
    the training to new processes that this stage's bookkeeping does not follow. Processes that a
    cluster starts itself (SLURM tasks, torchrun) are fine: Lightning only joins them."""
    trainer = pl.Trainer(**trainer_config, logger=False, enable_checkpointing=False)
    if trainer.strategy.launcher is not None:
        raise ConfigError(
            f"{source}: trainer.strategy={trainer_config.get('strategy')} with {trainer.world_size} processes cannot "
            "run inside a sweep (-m): Lightning would start the other processes by running the command again, which "
            "would start the whole sweep again. Run DDP trainings one at a time, without -m, or sweep them on "
            "SLURM with hydra/launcher=slurm, which starts one task per device (tasks_per_node=trainer.devices)")
