"""Classification metrics and the CSVs DVC reads."""

import csv

import pytest
import torch

from mnist_pipeline.reports.metrics import classification_metrics, write_confusion_csv

CLASSES = ["a", "b", "c"]


def one_hot_logits(predicted: list[int]) -> torch.Tensor:
    return torch.nn.functional.one_hot(torch.tensor(predicted), 3).float() * 10


def test_known_predictions_give_known_confusion_matrix():
    labels = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2])
    predicted = [0, 0, 1, 1, 2, 2, 2, 0]
    result = classification_metrics(one_hot_logits(predicted), labels, CLASSES)
    assert result["confusion_matrix"].tolist() == [[2, 1, 0], [0, 1, 1], [1, 0, 2]]  # rows: actual
    assert result["test_acc"] == pytest.approx(5 / 8)
    assert result["per_class"]["a"]["precision"] == pytest.approx(2 / 3)
    assert result["per_class"]["a"]["recall"] == pytest.approx(2 / 3)
    assert result["per_class"]["b"]["precision"] == pytest.approx(1 / 2)
    assert result["per_class"]["c"]["recall"] == pytest.approx(2 / 3)
    assert result["per_class"]["c"]["f1"] == pytest.approx(2 / 3)


def test_per_class_figures_agree_with_torchmetrics_even_for_a_class_never_predicted_or_present():
    from torchmetrics.functional.classification import (
        multiclass_f1_score,
        multiclass_precision,
        multiclass_recall,
    )

    generator = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 4, (500,), generator=generator)  # class 4 never present
    predicted = torch.randint(0, 4, (500,), generator=generator)
    predicted[predicted == 3] = 4  # class 3 never predicted, class 4 only wrongly
    classes = list("abcde")
    result = classification_metrics(torch.nn.functional.one_hot(predicted, 5).float(), labels, classes)
    for name, reference in [("precision", multiclass_precision), ("recall", multiclass_recall),
                            ("f1", multiclass_f1_score)]:
        expected = reference(predicted, labels, 5, average=None).tolist()
        assert [result["per_class"][c][name] for c in classes] == pytest.approx(expected, abs=1e-6), name
    assert result["test_acc"] == pytest.approx(float((predicted == labels).float().mean()))


def test_perfect_predictions_have_zero_ish_loss():
    labels = torch.tensor([0, 1, 2])
    result = classification_metrics(one_hot_logits([0, 1, 2]), labels, CLASSES)
    assert result["test_acc"] == 1.0 and result["test_loss"] < 1e-3


def test_confusion_csv_is_what_dvc_confusion_template_reads(tmp_path):
    write_confusion_csv(torch.tensor([0, 2]), torch.tensor([1, 2]), CLASSES, tmp_path / "c.csv")
    rows = list(csv.DictReader(open(tmp_path / "c.csv")))
    assert rows == [{"actual": "a", "predicted": "b"}, {"actual": "c", "predicted": "c"}]
