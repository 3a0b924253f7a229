"""The project root."""

from mnist_pipeline.core.project import project_root


def test_project_root_escapes_dvc_experiment_copies(tmp_path):
    copy = tmp_path / ".dvc" / "tmp" / "exps" / "tmpabc123"
    copy.mkdir(parents=True)
    (copy / "dvc.yaml").touch()
    assert project_root(copy) == tmp_path
    assert project_root(copy / "conf") == tmp_path
