"""The prepare stage."""

from pathlib import Path

import pytest
import torch

from conftest import TINY
from mnist_pipeline.data.archives import ChecksumError
from mnist_pipeline.data.prepared import load_prepared
from mnist_pipeline.download import download
from mnist_pipeline.prepare import prepare


def test_prepare_writes_compact_tensors(tiny_cfg):
    cfg = tiny_cfg()
    download(cfg)
    counts = prepare(cfg)
    assert counts == {"train": TINY["train"] - TINY["val"], "val": TINY["val"], "test": TINY["test"]}
    images, labels = load_prepared(cfg.paths.prepared, "train")
    assert images.dtype == torch.uint8 and images.shape == (counts["train"], 28, 28)
    assert labels.dtype == torch.int64


def test_prepare_refuses_a_file_changed_after_download(tiny_cfg):
    cfg = tiny_cfg()
    download(cfg)
    target = Path(cfg.paths.raw) / cfg.data.files.test_labels.name
    target.write_bytes(target.read_bytes()[:-10])
    with pytest.raises(ChecksumError, match=cfg.data.files.test_labels.name):
        prepare(cfg)
    assert not Path(cfg.paths.prepared).exists()
