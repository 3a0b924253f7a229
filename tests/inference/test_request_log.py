"""The request log: what each served image looked like and what the model answered, in a SQLite file
that several processes append to at once and that keeps only its newest rows."""

from __future__ import annotations

import multiprocessing
import sqlite3

import numpy as np
import pytest

from mnist_pipeline.inference import request_log


def a_bar(top: int, left: int, height: int, width: int, value: int = 255) -> np.ndarray:
    image = np.zeros((28, 28), dtype=np.uint8)
    image[top:top + height, left:left + width] = value
    return image


def test_input_statistics_describe_where_the_ink_is():
    stats = request_log.input_stats(np.stack([a_bar(4, 10, 20, 4), np.zeros((28, 28), np.uint8)]))
    assert stats["ink_area"].tolist() == [80 / 784, 0.0]
    assert stats["mean_intensity"][0] == pytest.approx(80 / 784)
    assert stats["centre_row"].tolist() == [13.5, 14.0] and stats["centre_col"].tolist() == [11.5, 14.0]
    assert stats["ink_height"].tolist() == [20, 0] and stats["ink_width"].tolist() == [4, 0]


def test_rows_survive_reopening_and_read_back_by_period(tmp_path):
    log = tmp_path / "logs" / "requests.db"
    images = np.stack([a_bar(4, 10, 20, 4)] * 3)
    request_log.record(log, images[:2], ["1", "7"], np.array([0.9, 0.6]), "m/1", "scoring", now=100.0)
    request_log.record(log, images[2:], ["1"], np.array([0.8]), "m/2", "demo", now=200.0)
    rows = request_log.read(log)
    assert rows["label"].tolist() == ["1", "7", "1"] and rows["model"].tolist() == ["m/1", "m/1", "m/2"]
    assert rows["source"].tolist() == ["scoring", "scoring", "demo"]
    assert rows["confidence"].tolist() == [0.9, 0.6, 0.8] and rows["ink_height"].tolist() == [20, 20, 20]
    assert request_log.read(log, since=150)["label"].tolist() == ["1"]
    assert request_log.read(log, until=150)["time"].tolist() == [100.0, 100.0]
    with sqlite3.connect(log) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_the_log_keeps_only_its_newest_rows(tmp_path):
    log = tmp_path / "requests.db"
    for start in range(0, 25, 5):
        labels = [str(i) for i in range(start, start + 5)]
        request_log.record(log, np.stack([a_bar(4, 10, 20, 4)] * 5), labels, np.ones(5), "m/1", "scoring", limit=12)
    assert request_log.read(log)["label"].tolist() == [str(i) for i in range(13, 25)]


def write_many(log, writer: int, batches: int) -> None:
    image = np.stack([a_bar(4, 10, 20, 4)] * 4)
    for batch in range(batches):
        request_log.record(log, image, [f"{writer}-{batch}"] * 4, np.full(4, 0.5), "m/1", "scoring", limit=10_000)


def test_two_processes_writing_at_once_lose_no_row(tmp_path):
    log = tmp_path / "requests.db"
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=write_many, args=(log, writer, 150)) for writer in range(2)]
    for process in writers:
        process.start()
    for process in writers:
        process.join(timeout=120)
        assert process.exitcode == 0
    labels = request_log.read(log)["label"].tolist()
    assert len(labels) == 2 * 150 * 4
    for writer in range(2):  # each writer's batches arrive whole and in its own order
        own = [label for label in labels if label.startswith(f"{writer}-")]
        assert own == [f"{writer}-{batch}" for batch in range(150) for _ in range(4)]


def test_no_log_is_written_unless_a_file_is_named(monkeypatch, tmp_path):
    monkeypatch.delenv(request_log.ENV, raising=False)
    assert request_log.log_path() is None
    monkeypatch.setenv(request_log.ENV, str(tmp_path / "r.db"))
    assert request_log.log_path() == tmp_path / "r.db"
