"""Warnings and notices from libraries that a user of this project cannot act on, silenced in one
place: each narrowly (its own message and category), each with why. Warnings a user can act on
(a batch count below log_every_n_steps, say) are left alone, and so is everything else."""

from __future__ import annotations

import logging
import warnings

# (message regex, category, why it cannot be acted on)
UNACTIONABLE_WARNINGS = (
    (r"The `srun` command is available on your system but is not used", UserWarning,
     "Lightning's SLURM hint: this project runs SLURM jobs itself (make slurm); a plain run means no SLURM"),
    (r"'set_vital' is deprecated", UserWarning,
     "torchdata's StatefulDataLoader calls a torch function torch now deprecates; fixed upstream, not here"),
    (r"`isinstance\(treespec, LeafSpec\)` is deprecated", FutureWarning,
     "Lightning's own use of a torch API that torch deprecates; nothing in this project calls it"),
)
# (logger, start of the message, why): notices that are not warnings, logged at INFO.
UNACTIONABLE_NOTICES = (
    ("pytorch_lightning.utilities.rank_zero", "💡 Tip:",
     "an advertisement for a hosted service, printed by every training"),
)


class _DropNotices(logging.Filter):
    def __init__(self, prefix: str):
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefix)


def quiet_unactionable() -> None:
    """Install the filters in this process (again: a no-op)."""
    for message, category, _ in UNACTIONABLE_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category)
    for name, prefix, _ in UNACTIONABLE_NOTICES:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropNotices) and f.prefix == prefix for f in logger.filters):
            logger.addFilter(_DropNotices(prefix))
