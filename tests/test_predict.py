import csv
import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from torchvision.io import write_png

from conftest import ROOT, huge_png, png_bytes
from mnist_pipeline.data.images import read_images
from mnist_pipeline.data.prepared import load_prepared
from mnist_pipeline.download import download
from mnist_pipeline.predict import predictions
from mnist_pipeline.prepare import prepare
from mnist_pipeline.train import train

pytestmark = pytest.mark.slow  # end to end: deselect with -m 'not slow'


@pytest.fixture
def trained(tiny_cfg):
    cfg = tiny_cfg("trainer.max_epochs=5")  # 0.84 on the tiny test set; 3 epochs gave 0.72-0.75
    download(cfg)
    prepare(cfg)
    train(cfg)
    return cfg, Path(cfg.paths.models) / "best.ckpt"


def test_test_set_predictions_show_logits_probabilities_and_labels(trained):
    cfg, checkpoint = trained
    records = predictions(checkpoint, indices=[0, 1, 2, 3, 4, 5, 6, 7])
    images, labels = load_prepared(cfg.paths.prepared, "test")
    assert [r["true"] for r in records] == [str(label) for label in labels[:8].tolist()]
    for record in records:
        assert len(record["logits"]) == 10 and sum(record["probabilities"]) == pytest.approx(1, abs=1e-3)
        assert record["predicted"] == str(max(range(10), key=lambda i: record["logits"][i]))
    assert sum(r["predicted"] == r["true"] for r in records) >= 5  # a trained model, not noise


def test_image_files_give_the_same_answer_as_the_tensor(trained, tmp_path):
    cfg, checkpoint = trained
    images, _ = load_prepared(cfg.paths.prepared, "test")
    write_png(images[3].unsqueeze(0), str(tmp_path / "digit.png"))
    inverted = tmp_path / "paper.png"
    write_png((255 - images[3]).unsqueeze(0), str(inverted))
    Image.fromarray(images[3].numpy().astype(np.uint16) * 257).save(tmp_path / "digit16.png")
    ink = np.full((28, 28, 4), 255, np.uint8)  # a white stroke on a transparent canvas: its opacity is the digit
    ink[..., 3] = images[3].numpy()
    Image.fromarray(ink, "RGBA").save(tmp_path / "ink.png")
    [prepared], [flipped] = read_images([tmp_path / "digit.png"])  # laid out again, MNIST-style
    assert not flipped and (prepared.float() - images[3].float()).abs().mean() < 1
    from_file = predictions(checkpoint, images=[tmp_path / "digit.png"])[0]
    from_paper = predictions(checkpoint, images=[inverted])[0]  # a light background: inverted, unasked
    from_16_bit = predictions(checkpoint, images=[tmp_path / "digit16.png"])[0]
    from_ink = predictions(checkpoint, images=[tmp_path / "ink.png"])[0]
    from_tensor = predictions(checkpoint, indices=[3])[0]
    assert from_file["logits"] == from_paper["logits"] == from_16_bit["logits"] == from_ink["logits"]
    assert from_file["predicted"] == from_tensor["predicted"]
    assert from_file["true"] is None and from_paper["inverted"] and not from_file["inverted"]
    assert not from_ink["inverted"]


@pytest.mark.smoke  # in `make test`'s quick loop
def test_command_line(trained):
    _, checkpoint = trained
    out = subprocess.run([sys.executable, "-m", "mnist_pipeline.predict", "--checkpoint", str(checkpoint),
                          "--index", "0"], capture_output=True, text=True, check=True).stdout
    assert out.startswith("test[0]: predicted ") and "probabilities [" in out


def test_a_folder_predicts_in_one_batch_to_csv_or_json(trained, tmp_path):
    cfg, checkpoint = trained
    images, labels = load_prepared(cfg.paths.prepared, "test")
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(6):  # dark ink on paper, as people write
        Image.fromarray(255 - images[i].numpy()).save(folder / f"digit{i}.png")
    command = [sys.executable, "-m", "mnist_pipeline.predict", "--checkpoint", str(checkpoint), "--image", str(folder)]
    done = subprocess.run([*command, "--out", str(tmp_path / "p.csv")], capture_output=True, text=True, check=True)
    assert done.stderr.count("has a light background: inverted it") == 6
    with open(tmp_path / "p.csv") as rows:
        table = list(csv.DictReader(rows))
    assert [Path(r["image"]).name for r in table] == [f"digit{i}.png" for i in range(6)]
    assert list(table[0]) == ["image", "predicted", "true", "inverted"] + [f"p_{c}" for c in cfg.data.classes]
    expected = [r["predicted"] for r in predictions(checkpoint, images=[folder])]
    assert [r["predicted"] for r in table] == expected
    assert sum(p == str(t) for p, t in zip(expected, labels[:6].tolist())) >= 3  # a trained model, not noise

    subprocess.run([*command, "--no-invert", "--out", str(tmp_path / "p.json")], capture_output=True, check=False)
    # Kept as they are, dark-on-light sheets show no digit (nothing lighter than the paper): one clear line.
    assert not (tmp_path / "p.json").exists()
    subprocess.run([*command, "--invert", "--out", str(tmp_path / "p.json")], check=True, capture_output=True)
    records = json.loads((tmp_path / "p.json").read_text())
    assert [r["predicted"] for r in records] == expected and all(r["inverted"] for r in records)


def test_command_line_refuses_bad_input_in_one_line(trained, tmp_path):
    _, checkpoint = trained
    rows = zlib.compress(bytes(29 * 28))
    (tmp_path / "short.png").write_bytes(png_bytes(28, 28, rows[:len(rows) // 2]))  # SIGSEGV in torchvision
    (tmp_path / "folder").mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    cases = {  # arguments -> what the one line names
        ("--image", str(tmp_path / "missing.png")): str(tmp_path / "missing.png"),
        ("--image", str(tmp_path / "folder")): str(tmp_path / "folder"),
        ("--image", str(tmp_path / "short.png")): str(tmp_path / "short.png"),
        ("--image", str(huge_png(tmp_path / "huge.png"))): str(tmp_path / "huge.png"),
        ("--index", "0", "99999"): "index 99999 is out of range",
    }
    for args, named in cases.items():
        done = subprocess.run([sys.executable, "-m", "mnist_pipeline.predict", "--checkpoint", str(checkpoint), *args],
                              capture_output=True, text=True, env=env)
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert done.returncode != 0 and "Traceback" not in done.stderr, (args, done.stderr)
        assert len(lines) == 1 and lines[0].startswith("error:") and named in lines[0], (args, done.stderr)


def test_predictions_written_to_a_file_read_the_checkpoint_once(trained, tmp_path, monkeypatch):
    import torch

    from mnist_pipeline import predict

    _, checkpoint = trained
    reads, original = [], torch.load
    monkeypatch.setattr(torch, "load", lambda f, *args, **kwargs: reads.append(Path(f)) or original(f, *args, **kwargs))
    out = tmp_path / "p.csv"
    monkeypatch.setattr(sys, "argv", ["predict", "--checkpoint", str(checkpoint), "--index", "0", "--out", str(out)])
    predict.main()
    assert reads.count(checkpoint) == 1
    assert out.read_text().startswith("image,predicted,true,inverted,p_0")
