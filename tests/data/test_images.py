"""Image files read as a viewer shows them, and refused with one clear error when hostile."""

import resource
import zlib

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms.v2.functional import resize

from conftest import huge_png, png_bytes
from mnist_pipeline.data.images import ImageError, image_files, mnist_style, read_gray, read_images

DIGIT = (np.arange(28 * 28).reshape(28, 28) * 7 % 256).astype(np.uint8)  # any 8-bit picture


def centre_of_mass(image: torch.Tensor) -> tuple[float, float]:
    weights = image.float()
    rows, cols = torch.arange(image.shape[0]).float(), torch.arange(image.shape[1]).float()
    return float((weights.sum(1) * rows).sum() / weights.sum()), float((weights.sum(0) * cols).sum() / weights.sum())


def box(image: torch.Tensor, level: int = 40) -> tuple[int, int]:
    rows, cols = torch.nonzero(image > level, as_tuple=True)
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


def test_a_small_off_centre_digit_on_paper_is_laid_out_as_mnist(tmp_path, digits):
    """A real digit, drawn small in a corner of a large sheet in dark ink: inverted (auto), its box
    fitted into 20x20, centred by its centre of mass, and close to the original MNIST digit."""
    original = torch.from_numpy(digits[0][7])
    small = resize(original[None], [12, 12], antialias=True)[0]
    sheet = torch.full((90, 120), 255, dtype=torch.uint8)
    sheet[5:17, 90:102] = 255 - small  # top right, dark on white
    Image.fromarray(sheet.numpy()).save(tmp_path / "sheet.png")

    [image], [inverted] = read_images([tmp_path / "sheet.png"])
    assert inverted and image.shape == (28, 28) and image.dtype == torch.uint8
    assert max(box(image)) in (19, 20, 21)
    centre = centre_of_mass(image)
    assert abs(centre[0] - 14) <= 0.5 and abs(centre[1] - 14) <= 0.5
    assert torch.corrcoef(torch.stack([image.flatten(), original.flatten()]).float())[0, 1] > 0.8


def test_the_box_keeps_the_aspect_ratio():
    tall = np.zeros((200, 100), np.uint8)
    tall[20:180, 40:60] = 255  # a stroke 160 tall, 20 wide
    image = mnist_style(tall)
    assert box(image) == (20, 3) or box(image) == (20, 2)


def test_an_mnist_digit_stays_nearly_as_it_was(digits):
    originals = torch.from_numpy(digits[0][:50])
    prepared = torch.stack([mnist_style(d.numpy()) for d in originals])
    assert (prepared == originals).all(dim=2).all(dim=1).float().mean() >= 0.5  # most stay exactly as they were
    assert (prepared.float() - originals.float()).abs().mean() < 2  # of 255


def test_a_light_background_is_inverted_unless_told_otherwise(tmp_path):
    paper = np.full((40, 40), 230, np.uint8)
    paper[10:30, 18:22] = 20  # a dark stroke on light paper
    Image.fromarray(paper).save(tmp_path / "paper.png")
    Image.fromarray(255 - paper).save(tmp_path / "dark.png")
    images, flags = read_images([tmp_path / "paper.png", tmp_path / "dark.png"])
    assert flags == [True, False] and images[0].equal(images[1]) and box(images[0]) == (20, 4)
    _, forced = read_images([tmp_path / "paper.png"], invert=True)
    assert forced == [True]
    with pytest.raises(ImageError, match="paper.png: no digit found: nothing is lighter than the background"):
        read_images([tmp_path / "paper.png"], invert=False)


def test_a_flat_image_has_no_digit(tmp_path):
    Image.fromarray(np.full((30, 30), 200, np.uint8)).save(tmp_path / "blank.png")
    with pytest.raises(ImageError, match=f"{tmp_path / 'blank.png'}: no digit found"):
        read_images([tmp_path / "blank.png"])


def test_a_folder_stands_for_its_image_files(tmp_path):
    for name in ("b.png", "a.jpg", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "sub").mkdir()
    assert image_files([tmp_path, tmp_path / "x.png"]) == [tmp_path / "a.jpg", tmp_path / "b.png", tmp_path / "x.png"]
    with pytest.raises(ImageError, match="folder holds no image files"):
        image_files([tmp_path / "sub"])


def test_gray_png_is_read_as_it_is(tmp_path):
    Image.fromarray(DIGIT).save(tmp_path / "digit.png")
    assert np.array_equal(read_gray(tmp_path / "digit.png"), DIGIT)


@pytest.mark.parametrize("mode, suffix", [("I;16", "png"), ("I;16B", "tiff"), ("I", "tiff")])
def test_16_bit_gray_is_scaled_to_8_bit(tmp_path, mode, suffix):
    wide = DIGIT.astype(np.uint16) * 257  # 0..255 -> 0..65535
    image = Image.fromarray(wide.astype(np.int32)) if mode == "I" else Image.frombytes(
        mode, (28, 28), wide.astype(">u2" if mode == "I;16B" else "<u2").tobytes())
    image.save(tmp_path / f"digit.{suffix}")
    assert Image.open(tmp_path / f"digit.{suffix}").mode == mode
    assert np.array_equal(read_gray(tmp_path / f"digit.{suffix}"), DIGIT)


@pytest.mark.parametrize("colour", [0, 255])  # dark ink, and a light stroke that vanishes over white
@pytest.mark.parametrize("mode", ["RGBA", "LA", "P"])
def test_a_stroke_on_a_transparent_canvas_is_its_alpha(tmp_path, mode, colour):
    """Ink whose opacity is the digit, on a transparent canvas: the alpha is the ink, whatever its colour."""
    if mode == "P":  # every palette entry one colour, entry i i/255 opaque
        image = Image.fromarray(DIGIT, "L").convert("P")
        image.putpalette([colour] * 3 * 256)
        image.info["transparency"] = bytes(range(256))
    else:
        layers = np.full((28, 28, len(mode)), colour, np.uint8)
        layers[..., -1] = DIGIT
        image = Image.fromarray(layers, mode)
    image.save(tmp_path / "ink.png")
    assert Image.open(tmp_path / "ink.png").mode == mode
    assert np.array_equal(read_gray(tmp_path / "ink.png"), DIGIT)
    [digit], [flipped] = read_images([tmp_path / "ink.png"])
    assert not flipped and digit.max() > 127  # a digit found, not "no digit found"


def test_transparent_corners_of_an_opaque_page_are_shown_over_white(tmp_path):
    page = np.full((28, 28, 4), 255, np.uint8)
    page[..., :3] = 255 - DIGIT[..., None]  # dark ink on white paper
    page[:3, :3, 3] = page[-3:, -3:, 3] = 0  # rounded corners
    Image.fromarray(page, "RGBA").save(tmp_path / "page.png")
    expected = 255 - DIGIT
    expected[:3, :3] = expected[-3:, -3:] = 255  # the corners: white, as a viewer shows them
    assert np.array_equal(read_gray(tmp_path / "page.png"), expected)


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


def test_the_digits_box_is_resized_exactly_as_torchvisions_resize_would():
    from torch.nn.functional import interpolate
    from torchvision.transforms.v2.functional import resize

    box = torch.rand(1, 37, 23) * 255
    ours = interpolate(box[None], size=[20, 12], mode="bilinear", antialias=True, align_corners=False)[0]
    assert torch.equal(ours, resize(box, [20, 12], antialias=True))
