"""The params command: params.yaml is the composition of conf/."""

from conftest import ROOT
from mnist_pipeline.params import check, compose


def test_params_yaml_matches_conf():
    """Fails when someone edits conf/ without regenerating params.yaml (dvc repro never does)."""
    diff = check(ROOT)
    assert diff == [], "\n".join(diff)


def test_check_reports_a_stale_params_file(tmp_path):
    (tmp_path / "conf").symlink_to(ROOT / "conf")
    compose(tmp_path / "params.yaml", ["optimizer.lr=0.5"], tmp_path)
    diff = "\n".join(check(tmp_path))
    assert "-  lr: 0.5" in diff and "+  lr: 0.002" in diff
