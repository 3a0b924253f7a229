"""IDX parsing and validation."""

import gzip

import numpy as np
import pytest

from mnist_pipeline.data.idx import IMAGES_MAGIC, LABELS_MAGIC, IdxError, load_split, read_idx, write_idx


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
