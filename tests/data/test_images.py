"""Image files read as a viewer shows them, and refused with one clear error when hostile."""

import resource
import zlib

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms.v2.functional import resize

from conftest import huge_png, png_bytes
from mnist_pipeline.data.images import ImageError, read_images

DIGIT = (np.arange(28 * 28).reshape(28, 28) * 7 % 256).astype(np.uint8)  # any 8-bit picture


def test_gray_png_is_resized_to_28x28(tmp_path):
    big = np.kron(DIGIT, np.ones((3, 3), np.uint8))  # 84x84
    Image.fromarray(big).save(tmp_path / "big.png")
    Image.fromarray(DIGIT).save(tmp_path / "digit.png")
    images = read_images([tmp_path / "big.png", tmp_path / "digit.png"], invert=True)
    assert images.dtype == torch.uint8 and images.shape == (2, 28, 28)
    assert images[0].equal(255 - resize(torch.from_numpy(big)[None], [28, 28], antialias=True)[0])
    assert images[1].equal(255 - torch.from_numpy(DIGIT))


@pytest.mark.parametrize("mode, suffix", [("I;16", "png"), ("I;16B", "tiff"), ("I", "tiff")])
def test_16_bit_gray_is_scaled_to_8_bit(tmp_path, mode, suffix):
    wide = DIGIT.astype(np.uint16) * 257  # 0..255 -> 0..65535
    image = Image.fromarray(wide.astype(np.int32)) if mode == "I" else Image.frombytes(
        mode, (28, 28), wide.astype(">u2" if mode == "I;16B" else "<u2").tobytes())
    image.save(tmp_path / f"digit.{suffix}")
    assert Image.open(tmp_path / f"digit.{suffix}").mode == mode
    assert read_images([tmp_path / f"digit.{suffix}"])[0].equal(torch.from_numpy(DIGIT))


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P"])
def test_a_digit_drawn_in_the_alpha_channel_survives(tmp_path, mode):
    """Black ink whose opacity is the digit: over white it is the inverted digit, as a viewer shows it."""
    if mode == "P":  # every palette entry black, entry i i/255 opaque
        image = Image.fromarray(DIGIT, "L").convert("P")
        image.putpalette([0, 0, 0] * 256)
        image.info["transparency"] = bytes(range(256))
    else:
        layers = np.zeros((28, 28, len(mode)), np.uint8)
        layers[..., -1] = DIGIT
        image = Image.fromarray(layers, mode)
    image.save(tmp_path / "ink.png")
    assert Image.open(tmp_path / "ink.png").mode == mode
    assert read_images([tmp_path / "ink.png"], invert=True)[0].equal(torch.from_numpy(DIGIT))


@pytest.mark.parametrize("side", [5000, 10000, 30000])  # over ours; over Pillow's warning; over its error
def test_an_oversized_image_is_refused_before_decoding(tmp_path, side):
    path = huge_png(tmp_path / "huge.png", side)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ImageError) as refused:
        read_images([path])
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert str(path) in str(refused.value) and f"{side * side} pixels" in str(refused.value)
    assert grown_mb < 100  # decoding the 30000x30000 one took 5 GB


def test_a_truncated_image_names_the_file(tmp_path):
    # Compressed data cut off mid-stream: torchvision's decoder crashed the process (SIGSEGV) on it.
    rows = zlib.compress(b"".join(b"\0" + DIGIT[i].tobytes() for i in range(28)))
    (tmp_path / "short.png").write_bytes(png_bytes(28, 28, rows[:len(rows) // 2]))
    Image.fromarray(DIGIT).save(tmp_path / "digit.png")
    (tmp_path / "cut.png").write_bytes((tmp_path / "digit.png").read_bytes()[:-30])
    for name in ("short.png", "cut.png"):
        with pytest.raises(ImageError, match=f"{tmp_path / name}: corrupt or truncated image"):
            read_images([tmp_path / name])


@pytest.mark.parametrize("name, content, problem", [
    ("missing.png", None, "no such file"),
    ("empty.png", b"", "empty file"),
    ("notes.png", b"a text file, not a picture\n", "not an image file"),
    ("header.png", png_bytes(28, 28, b"")[:20], "not an image file"),
    ("folder.png", "dir", "is a folder"),
])
def test_files_that_are_not_images_name_the_file_and_the_problem(tmp_path, name, content, problem):
    path = tmp_path / name
    if content == "dir":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(ImageError, match=f"^{path}: {problem}"):
        read_images([path])
