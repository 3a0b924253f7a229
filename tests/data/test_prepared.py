"""The seeded train/validation split, and the checks on loading a prepared split."""

import pytest
import torch

from mnist_pipeline.data.prepared import PreparedError, load_prepared, split_train_val


def test_split_is_deterministic_disjoint_and_complete():
    images = torch.arange(100, dtype=torch.uint8).view(100, 1, 1).expand(100, 28, 28)
    labels = torch.arange(100)
    (train_a, val_a), (train_b, val_b) = (split_train_val(images, labels, 10, seed=7) for _ in range(2))
    assert torch.equal(val_a[1], val_b[1]) and torch.equal(train_a[1], train_b[1])
    assert len(val_a[1]) == 10 and len(train_a[1]) == 90
    assert sorted(torch.cat([train_a[1], val_a[1]]).tolist()) == list(range(100))
    _, val_c = split_train_val(images, labels, 10, seed=8)
    assert not torch.equal(val_a[1], val_c[1])


def good_split(n: int = 6) -> dict[str, torch.Tensor]:
    return {"images": torch.zeros(n, 28, 28, dtype=torch.uint8), "labels": torch.arange(n) % 10}


def test_a_sound_split_loads(tmp_path):
    torch.save(good_split(), tmp_path / "test.pt")
    images, labels = load_prepared(tmp_path, "test", num_classes=10)
    assert images.shape == (6, 28, 28) and labels.tolist() == [0, 1, 2, 3, 4, 5]


def test_a_missing_split_says_to_run_prepare(tmp_path):
    with pytest.raises(PreparedError, match=f"{tmp_path / 'val.pt'} not found: run the prepare stage"):
        load_prepared(tmp_path, "val")


@pytest.mark.parametrize("damage", ["truncated", "random bytes", "empty"])
def test_an_unreadable_file_is_named_in_one_line(tmp_path, damage):
    path = tmp_path / "train.pt"
    torch.save(good_split(), path)
    whole = path.read_bytes()
    path.write_bytes({"truncated": whole[:len(whole) // 2], "random bytes": bytes(range(256)) * 8,
                      "empty": b""}[damage])
    with pytest.raises(PreparedError) as refused:
        load_prepared(tmp_path, "train")
    message = str(refused.value)
    assert message.startswith(f"{path} cannot be read") and message.endswith("re-run the prepare stage")
    assert "\n" not in message


@pytest.mark.parametrize("content, problem", [
    ([1, 2, 3], "holds list, not a dict with 'images' and 'labels'"),
    ({"images": torch.zeros(2, 28, 28, dtype=torch.uint8)}, r"holds a dict with keys \['images'\], not a dict with"),
    ({**good_split(), "images": torch.zeros(6, 28, 28)}, r"images are torch.float32 \[6, 28, 28\], expected"),
    ({**good_split(), "images": torch.zeros(6, 32, 32, dtype=torch.uint8)}, r"images are torch.uint8 \[6, 32, 32\]"),
    ({**good_split(), "images": torch.zeros(6, 784, dtype=torch.uint8)}, r"images are torch.uint8 \[6, 784\]"),
    ({**good_split(), "labels": torch.arange(6, dtype=torch.int32)}, r"labels are torch.int32 \[6\], expected"),
    ({**good_split(), "labels": torch.arange(5)}, r"labels are torch.int64 \[5\], expected torch.int64 \[6\]"),
    ({**good_split(), "labels": torch.zeros(6, 1, dtype=torch.int64)}, r"labels are torch.int64 \[6, 1\]"),
    ({**good_split(), "labels": torch.tensor([0, 1, 2, 10, 4, 5])}, r"label 10 is out of range 0..9"),
    ({**good_split(), "labels": torch.tensor([0, 1, -1, 3, 4, 5])}, r"label -1 is out of range 0..9"),
])
def test_a_split_that_does_not_hold_what_prepare_writes_is_named(tmp_path, content, problem):
    torch.save(content, tmp_path / "test.pt")
    with pytest.raises(PreparedError, match=f"^{tmp_path / 'test.pt'}.*{problem}.*re-run the prepare stage$"):
        load_prepared(tmp_path, "test", num_classes=10)


def test_labels_are_range_checked_only_when_the_classes_are_known(tmp_path):
    torch.save({**good_split(), "labels": torch.tensor([0, 1, 2, 10, 4, 5])}, tmp_path / "test.pt")
    assert load_prepared(tmp_path, "test")[1].max() == 10
