"""The request log: one row per image a served model classified (when, which model, its answer and
confidence, and a few statistics of the 28x28 input), in a SQLite file that the monitor reads.

Shipped beside served_model.py as the logged model's code, so it imports only the standard library
and NumPy. SQLite in WAL mode: several server workers (processes) append at once, readers never block
them, and the rows survive restarts. The newest `limit` rows are kept; older ones are deleted as new
ones arrive, so the file stays bounded.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import numpy as np

ENV, LIMIT_ENV = "MNIST_REQUEST_LOG", "MNIST_REQUEST_LOG_ROWS"
DEFAULT_LIMIT = 100_000
INK = 0.15 * 255  # a pixel is ink above this (the same threshold MNIST-style centring uses)
# What the monitor compares with the training data: the input statistics of each image.
STATS = ("ink_area", "mean_intensity", "centre_row", "centre_col", "ink_height", "ink_width")
COLUMNS = ("time", "source", "model", "label", "confidence", *STATS)
SCHEMA = (f"CREATE TABLE IF NOT EXISTS requests (id INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT NULL, "
          f"source TEXT NOT NULL, model TEXT NOT NULL, label TEXT NOT NULL, confidence REAL NOT NULL, "
          f"{', '.join(f'{name} REAL NOT NULL' for name in STATS)})")
BUSY_MS = 30_000  # how long a writer waits for another's transaction before giving up


def input_stats(pixels: np.ndarray) -> dict[str, np.ndarray]:
    """Per image of uint8 [N, 28, 28]: the fraction of pixels that are ink, the mean intensity (0-1),
    the centre of mass (row, column, in pixels) and the height and width of the ink's bounding box."""
    pixels = np.asarray(pixels, dtype=np.float64)
    n, rows, cols = pixels.shape
    ink = pixels > INK
    total = pixels.sum(axis=(1, 2))
    safe = np.where(total > 0, total, 1)
    centre_row = np.where(total > 0, (pixels.sum(axis=2) * np.arange(rows)).sum(axis=1) / safe, rows / 2)
    centre_col = np.where(total > 0, (pixels.sum(axis=1) * np.arange(cols)).sum(axis=1) / safe, cols / 2)
    return {"ink_area": ink.mean(axis=(1, 2)), "mean_intensity": pixels.mean(axis=(1, 2)) / 255,
            "centre_row": centre_row, "centre_col": centre_col,
            "ink_height": _extent(ink.any(axis=2)), "ink_width": _extent(ink.any(axis=1))}


def _extent(occupied: np.ndarray) -> np.ndarray:
    """Per row of booleans: last True - first True + 1 (0 when none)."""
    first = occupied.argmax(axis=1)
    last = occupied.shape[1] - 1 - occupied[:, ::-1].argmax(axis=1)
    return np.where(occupied.any(axis=1), last - first + 1, 0).astype(np.float64)


def log_path() -> Path | None:
    """The log file named by MNIST_REQUEST_LOG; None (no logging) when it is unset.

    Unset by default because the same model is loaded by evaluate to score the test set, which is not
    serving; `make serve` and `make demo` set it (REQUEST_LOG in the Makefile)."""
    value = os.environ.get(ENV)
    return Path(value) if value else None


def row_limit() -> int:
    return int(os.environ.get(LIMIT_ENV) or DEFAULT_LIMIT)


def connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=BUSY_MS / 1000, isolation_level=None)
    connection.execute(f"PRAGMA busy_timeout = {BUSY_MS}")
    connection.execute("PRAGMA journal_mode = WAL")  # persistent: set once per file, harmless again
    connection.execute("PRAGMA synchronous = NORMAL")  # WAL stays consistent; a power cut may lose the last rows
    connection.execute(SCHEMA)
    return connection


def record(path: Path, pixels: np.ndarray, labels: list[str], confidences: np.ndarray, model: str,
           source: str, limit: int | None = None, now: float | None = None) -> None:
    """Append one row per image, then delete all but the newest `limit` rows, in one transaction."""
    stats = input_stats(pixels)
    now = time.time() if now is None else now
    rows = [(now, source, model, str(label), float(conf), *(float(stats[name][i]) for name in STATS))
            for i, (label, conf) in enumerate(zip(labels, confidences))]
    limit = row_limit() if limit is None else limit
    connection = connect(path)
    try:
        connection.execute("BEGIN IMMEDIATE")  # take the write lock now: no upgrade deadlock between writers
        connection.executemany(f"INSERT INTO requests ({', '.join(COLUMNS)}) VALUES "
                               f"({', '.join('?' * len(COLUMNS))})", rows)
        connection.execute("DELETE FROM requests WHERE id <= (SELECT MAX(id) FROM requests) - ?", (limit,))
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    finally:
        connection.close()


def read(path: Path, since: float | None = None, until: float | None = None) -> dict[str, np.ndarray]:
    """The logged rows with since <= time < until, column by column (oldest first)."""
    connection = connect(path)
    try:
        found = connection.execute(f"SELECT {', '.join(COLUMNS)} FROM requests WHERE time >= ? AND time < ? "
                                   "ORDER BY id", (since or 0.0, until or float("inf"))).fetchall()
    finally:
        connection.close()
    columns = list(zip(*found)) if found else [()] * len(COLUMNS)
    return {name: np.array(values, dtype=object if name in ("source", "model", "label") else np.float64)
            for name, values in zip(COLUMNS, columns)}
