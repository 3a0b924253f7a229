"""A DVC remote (a local folder standing in for S3, GCS or SSH): push, clone, pull, and the
teammate's `dvc repro` finds every stage up to date."""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, tiny_data_yaml

pytestmark = pytest.mark.slow  # end to end: deselect with -m 'not slow'

PROJECT_FILES = ["conf", "src", "dvc.yaml", ".dvc/config", ".dvc/.gitignore", ".dvcignore", ".gitignore"]
UP_TO_DATE = "Data and pipelines are up to date."


def sh(repo: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"  # `python` of this venv
    result = subprocess.run(args, cwd=repo, env=env, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        pytest.fail(f"{' '.join(args)} exited {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result.stdout


def outputs(repo: Path) -> list[str]:
    """Every file the pipeline wrote, relative to the repository."""
    folders = [repo / "data" / "raw", repo / "data" / "prepared", repo / "models", repo / "reports"]
    return sorted(str(path.relative_to(repo)) for folder in folders for path in folder.rglob("*")
                  # .fetched_from.json: this machine's record of its mirror, DVC-ignored, never shared
                  if path.is_file() and path.name not in (".gitignore", ".fetched_from.json"))


def test_push_clone_pull_and_nothing_reruns(tmp_path, tiny_mirror):
    mine = tmp_path / "mine"
    for name in PROJECT_FILES:
        source, target = ROOT / name, mine / name
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, target)
    (mine / "conf" / "data" / "tiny.yaml").write_text(tiny_data_yaml(*tiny_mirror))
    sh(mine, "git", "init", "-q")
    sh(mine, sys.executable, "-m", "mnist_pipeline.params", "data=tiny", "trainer.max_epochs=1")
    sh(mine, "dvc", "remote", "add", "-d", "shared", str(tmp_path / "remote"))  # as the README shows
    sh(mine, "dvc", "repro")
    sh(mine, "git", "add", "-A")
    sh(mine, "git", "commit", "-qm", "a trained, evaluated model")
    sh(mine, "dvc", "push")

    theirs = tmp_path / "theirs"
    sh(tmp_path, "git", "clone", "-q", str(mine), str(theirs))
    # Git carries no outputs but the two metrics files.
    assert not (theirs / "models").exists() and not (theirs / "reports" / "plots").exists()
    assert (theirs / "reports" / "metrics.json").is_file()
    sh(theirs, "dvc", "pull")
    assert outputs(theirs) == outputs(mine) and "reports/plots/confusion_matrix.png" in outputs(theirs)
    assert all(filecmp.cmp(mine / name, theirs / name, shallow=False) for name in outputs(mine))

    assert UP_TO_DATE in sh(theirs, "dvc", "repro")
    assert UP_TO_DATE in sh(theirs, "dvc", "status")
    assert not (theirs / "mlflow.db").exists()  # no stage ran, so nothing was logged
