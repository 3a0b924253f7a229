"""Where the project lives on disk, even when DVC runs a stage in a temporary copy."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

# DVC runs queued and temp experiments in copies under <root>/.dvc/tmp/exps/...;
# shared state (the MLflow store) must stay in the real root.
_DVC_EXP_COPY = os.path.join(".dvc", "tmp", "exps")


def project_root(start: Path | None = None) -> Path:
    """The repository root: the nearest folder above `start` holding conf/ or dvc.yaml,
    or the real root when `start` lies inside a DVC experiment copy."""
    here = (start or Path.cwd()).resolve()
    text = str(here)
    marker = os.sep + _DVC_EXP_COPY + os.sep
    if marker in text + os.sep:
        return Path(text.split(marker)[0])
    for folder in (here, *here.parents):
        if (folder / "dvc.yaml").exists() or (folder / "conf").is_dir():
            return folder
    return here


def git_commit(root: Path | None = None) -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root or Path.cwd(),
            capture_output=True, text=True, check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip()
