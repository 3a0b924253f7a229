"""Each corruption of the robustness check changes real digits the way its name says."""

import pytest
import torch

from mnist_pipeline.data import corruptions
from mnist_pipeline.data.corruptions import CORRUPTIONS


@pytest.fixture(scope="module")
def images(digits) -> torch.Tensor:
    return torch.from_numpy(digits[0][:64].copy())


def centre_of_ink(images: torch.Tensor) -> torch.Tensor:
    """Mean (row, column) of the ink of each image, weighted by intensity."""
    weights = images.double()
    rows = torch.arange(28, dtype=torch.float64).view(1, 28, 1)
    cols = torch.arange(28, dtype=torch.float64).view(1, 1, 28)
    total = weights.sum(dim=(1, 2))
    return torch.stack([(weights * rows).sum(dim=(1, 2)) / total, (weights * cols).sum(dim=(1, 2)) / total], dim=1)


def test_every_corruption_keeps_the_shape_and_type_and_changes_the_images(images):
    for name, corrupt in CORRUPTIONS.items():
        out = corrupt(images)
        assert out.shape == images.shape and out.dtype == torch.uint8, name
        assert (out != images).any(dim=(1, 2)).all(), name  # every image changed


def test_rotation_by_90_degrees_turns_the_digit_counter_clockwise(images):
    rotated = corruptions.rotate(images, 90).int()
    expected = torch.rot90(images, k=1, dims=(1, 2)).int()
    # Bilinear resampling at exact pixel centres: the same pixels, up to rounding.
    assert (rotated - expected).abs().max() <= 1
    assert (corruptions.rotate(images, 0).int() - images.int()).abs().max() <= 1


def test_shift_moves_the_ink_by_whole_pixels(images):
    shifted = corruptions.shift(images, right=3, down=2)
    expected = torch.zeros_like(images)
    expected[:, 2:, 3:] = images[:, :-2, :-3]
    assert (shifted.int() - expected.int()).abs().max() <= 1


def test_scaling_down_keeps_the_centre_and_shrinks_the_ink(images):
    smaller = corruptions.scale(images, 0.5)
    assert smaller.double().sum() < 0.4 * images.double().sum()  # about a quarter of the ink
    # Zoomed about the image centre (13.5, 13.5): the ink's centre moves halfway towards it.
    expected = 13.5 + (centre_of_ink(images) - 13.5) * 0.5
    assert (centre_of_ink(smaller) - expected).abs().max() < 0.6


def test_thicker_strokes_cover_the_original_and_more(images):
    bold = corruptions.thicken(images, 1)
    assert (bold >= images).all()  # dilation never removes ink
    assert (bold > 127).sum() > 1.5 * (images > 127).sum()


def test_noise_is_seeded_and_of_the_stated_size(images):
    noisy = corruptions.gaussian_noise(images, 0.3)
    assert torch.equal(noisy, corruptions.gaussian_noise(images, 0.3))  # the same images every run
    assert not torch.equal(noisy, corruptions.gaussian_noise(images, 0.3, seed=1))
    background = images == 0
    # On the background, half the noise is clipped away: E|max(0, N(0, 0.3))| = 0.3 / sqrt(2 pi).
    mean_lift = noisy[background].double().mean() / 255
    assert mean_lift == pytest.approx(0.3 / (2 * torch.pi) ** 0.5, rel=0.05)


def test_blur_spreads_ink_but_keeps_its_amount(images):
    blurred = corruptions.blur(images, 1.0)
    assert blurred.max() < images.max()
    # The digits lie away from the edge, so no ink is lost there.
    assert blurred.double().sum().item() == pytest.approx(images.double().sum().item(), rel=0.02)
    assert (blurred > 0).sum() > (images > 0).sum()


def test_inverted_digits_are_dark_on_light():
    assert corruptions.invert(torch.tensor([[[0, 255, 100]]], dtype=torch.uint8)).tolist() == [[[255, 0, 155]]]
