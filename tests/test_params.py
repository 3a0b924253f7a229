"""The params command: params.yaml is the composition of conf/."""

import io
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from conftest import ROOT, compose_config
from mnist_pipeline.core.config import to_plain
from mnist_pipeline.params import check, compose
from mnist_pipeline.tracking import runs


def committed_diff(repo: Path, folder: Path) -> list[str]:
    """check() on the committed conf/ and params.yaml (HEAD), whatever the working copy holds: a
    `dvc exp run -S ...` rewrites params.yaml in the workspace, and must not fail the tests."""
    archive = subprocess.run(["git", "archive", "HEAD", "conf", "params.yaml"], cwd=repo,
                             capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return check(folder)


def test_params_yaml_matches_conf(tmp_path):
    """Fails when someone commits a conf/ change without regenerating params.yaml (dvc repro never does)."""
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: nothing committed to compare")
    diff = committed_diff(ROOT, tmp_path)
    assert diff == [], "\n".join(diff)


def test_an_experiment_applied_to_the_workspace_does_not_count(tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "conf", repo / "conf")
    compose(repo / "params.yaml", [], repo)
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "conf"], cwd=repo, check=True)
    compose(repo / "params.yaml", ["data.mirrors=[file:///somewhere/]"], repo)  # what `dvc exp run -S` leaves

    assert check(repo) != []  # the working copy differs, as after a `dvc exp run -S`
    assert committed_diff(repo, tmp_path / "head") == []


def test_check_reports_a_stale_params_file(tmp_path):
    (tmp_path / "conf").symlink_to(ROOT / "conf")
    compose(tmp_path / "params.yaml", ["optimizer.lr=0.5"], tmp_path)
    diff = "\n".join(check(tmp_path))
    assert "-  lr: 0.5" in diff and "+  lr: 0.01" in diff  # the default: conf/optimizer/adam_one_cycle.yaml


def test_the_default_trains_the_speed_recipe_and_no_seed_recipe_inherits_its_schedule():
    default = runs.flatten(to_plain(compose_config([])))
    speed = runs.flatten(to_plain(compose_config(["experiment=speedrun"])))
    differing = {key for key in default.keys() | speed.keys() if default.get(key) != speed.get(key)}
    assert differing and all(key.split(".")[0] in ("recipe", "reported") for key in differing), differing
    seeds = sorted(p.stem for p in (ROOT / "conf" / "experiment").glob("*.yaml") if p.stem != "speedrun")
    assert len(seeds) >= 6
    for preset in seeds:  # the one-cycle schedule and its batch size are the default's, not theirs
        cfg = compose_config([f"experiment={preset}"])
        assert cfg.scheduler is None and cfg.data.batch_size != 256, preset
