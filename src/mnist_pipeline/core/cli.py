"""The runner every stage and command's `main` goes through."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

from .errors import PipelineError
from .noise import quiet_unactionable


def run_stage(stage: Callable[[], Any]) -> None:
    """Entry point wrapper: expected failures print one clear line and exit 1."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    quiet_unactionable()
    try:
        stage()
    except PipelineError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)
