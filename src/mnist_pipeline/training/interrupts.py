"""How a training that did not finish ended: killed (SIGTERM, Ctrl-C) or failed."""

from __future__ import annotations

import signal

from pytorch_lightning.utilities.exceptions import SIGTERMException


def outcome(err: BaseException) -> tuple[str, int | None, str]:
    """(MLflow run status, exit code or None to re-raise, reason) for an exception out of fit."""
    if isinstance(err, SIGTERMException):  # Lightning finishes the batch, then raises this (exit code 0)
        return "KILLED", 128 + signal.SIGTERM, "stopped by SIGTERM"
    if isinstance(err, KeyboardInterrupt) or (isinstance(err, SystemExit)
                                             and isinstance(err.__context__, KeyboardInterrupt)):
        return "KILLED", 128 + signal.SIGINT, "stopped by Ctrl-C (SIGINT)"  # Lightning turns it into exit(1)
    return "FAILED", None, f"{type(err).__name__}: {err}"
