"""The download stage with a local mirror named in the environment (MNIST_PIPELINE_MIRROR), through
the real download code from a file:// mirror."""

import logging
import shutil
from pathlib import Path

from conftest import FILES
from mnist_pipeline.data.archives import MIRROR_ENV, fetched_from, mirrors_to_try, mirrors_used
from mnist_pipeline.download import download
from mnist_pipeline.tracking import runs


def test_the_mirror_in_the_environment_comes_before_the_configured_ones(monkeypatch):
    assert mirrors_to_try(["https://a/", "https://b/"]) == ["https://a/", "https://b/"]
    monkeypatch.setenv(MIRROR_ENV, " /data/mnist ")
    assert mirrors_to_try(["https://a/"]) == ["/data/mnist", "https://a/"]
    monkeypatch.setenv(MIRROR_ENV, "")
    assert mirrors_to_try(["https://a/"]) == ["https://a/"]


def test_the_stage_fetches_from_the_mirror_in_the_environment_and_records_it(tiny_cfg, tiny_mirror, tmp_path,
                                                                              monkeypatch, caplog):
    local = tmp_path / "my-mirror"
    shutil.copytree(tiny_mirror[0], local)
    monkeypatch.setenv(MIRROR_ENV, local.as_uri() + "/")
    cfg = tiny_cfg(f"data.mirrors=[{(tmp_path / 'unreachable').as_uri()}/]")
    with caplog.at_level(logging.WARNING):
        download(cfg)
    assert not caplog.records  # the configured mirror was never tried
    raw = Path(cfg.paths.raw)
    assert fetched_from(raw) == {name: f"{local.as_uri()}/{name}" for name in FILES.values()}
    assert mirrors_used(raw) == [local.as_uri() + "/"]
    assert runs.run_tags(cfg)[runs.MIRROR_TAG] == local.as_uri() + "/"  # what the training run is tagged with


def test_a_folder_in_the_environment_serves_when_the_configured_mirror_is_down(tiny_cfg, tiny_mirror, tmp_path,
                                                                               monkeypatch):
    monkeypatch.setenv(MIRROR_ENV, str(tiny_mirror[0]))  # a plain folder, not a URL
    cfg = tiny_cfg(f"data.mirrors=[{(tmp_path / 'unreachable').as_uri()}/]")
    assert sorted(p.name for p in download(cfg)) == sorted(FILES.values())
    assert mirrors_used(Path(cfg.paths.raw)) == [tiny_mirror[0].resolve().as_uri() + "/"]


def test_archives_with_no_record_of_their_mirror_give_the_run_no_mirror_tag(tiny_cfg):
    cfg = tiny_cfg()
    download(cfg)
    (Path(cfg.paths.raw) / ".fetched_from.json").unlink()  # as when DVC restores the archives from its cache
    assert runs.MIRROR_TAG not in runs.run_tags(cfg)
    assert download(cfg) and fetched_from(Path(cfg.paths.raw)) == {}  # present and verified: nothing fetched
